package iam

import (
	"context"

	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/store"
)

// updateRole runs fn on the stored role and signals a change.
func (s *Service) updateRole(ctx context.Context, name string, fn func(*store.Role) error) error {
	if err := s.store.UpdateRole(ctx, name, fn); err != nil {
		return storeErr(err, roleNotFound(name))
	}
	return nil
}

// updateRoleResult is UpdateRole's (memberless) output shape.
type updateRoleResult struct{}

func (s *Service) updateRoleAction(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkRoleName(&v, c)
	desc := checkRoleDescription(&v, c)
	maxSession, hasMax, err := checkMaxSession(&v, c)
	if err != nil {
		return "", nil, err
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, name)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		if _, err := role.get(); err != nil {
			return nil, err
		}
		hasDesc := c.Has("Description")
		err := s.updateRole(ctx, name, func(r *store.Role) error {
			if hasDesc {
				r.Description = desc
			}
			if hasMax {
				r.MaxSessionDuration = maxSession
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		return updateRoleResult{}, nil
	}, nil
}

type updateRoleDescriptionResult struct {
	Role xmlRole `xml:"Role"`
}

func (s *Service) updateRoleDescription(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkRoleName(&v, c)
	v.Required("Description", c.Has("Description"))
	desc := checkRoleDescription(&v, c)
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, name)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		if _, err := role.get(); err != nil {
			return nil, err
		}
		var updated store.Role
		err := s.updateRole(ctx, name, func(r *store.Role) error {
			r.Description = desc
			updated = *r
			return nil
		})
		if err != nil {
			return nil, err
		}
		if updated, err = s.showRole(ctx, updated); err != nil {
			return nil, err
		}
		return updateRoleDescriptionResult{Role: s.xmlRole(updated, viewGet)}, nil
	}, nil
}

func (s *Service) updateAssumeRolePolicy(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkRoleName(&v, c)
	doc := checkDocument(&v, c, "PolicyDocument")
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	if err := checkTrustPolicy(doc); err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, name)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		if _, err := role.get(); err != nil {
			return nil, err
		}
		bound, err := s.bindTrust(ctx, doc)
		if err != nil {
			return nil, err
		}
		return nil, s.updateRole(ctx, name, func(r *store.Role) error {
			r.TrustPolicy = bound
			return nil
		})
	}, nil
}

func (s *Service) deleteRole(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkRoleName(&v, c)
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, name)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		if _, err := role.get(); err != nil {
			return nil, err
		}
		inline, err := s.store.ListRolePolicies(ctx, name)
		if err != nil {
			return nil, storeErr(err, roleNotFound(name))
		}
		if len(inline) > 0 {
			return nil, deleteConflict("Cannot delete entity, must delete policies first.")
		}
		attached, err := s.store.ListAttachedRolePolicies(ctx, name)
		if err != nil {
			return nil, storeErr(err, roleNotFound(name))
		}
		if len(attached) > 0 {
			return nil, deleteConflict("Cannot delete entity, must detach all policies first.")
		}
		if err := s.store.DeleteRole(ctx, name); err != nil {
			// A policy added since the checks above.
			return nil, storeErr(err, roleNotFound(name))
		}
		return nil, nil
	}, nil
}

func (s *Service) tagRole(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkRoleName(&v, c)
	tags, err := parseTags(&v, c, true)
	if err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, name)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		if _, err := role.get(); err != nil {
			return nil, err
		}
		return nil, s.updateRole(ctx, name, func(r *store.Role) error {
			merged := mergeTags(r.Tags, tags)
			if err := checkTagQuota(merged, "Role"); err != nil {
				return err
			}
			r.Tags = merged
			return nil
		})
	}, nil
}

func (s *Service) untagRole(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkRoleName(&v, c)
	keys, err := parseTagKeys(&v, c)
	if err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, name)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		if _, err := role.get(); err != nil {
			return nil, err
		}
		return nil, s.updateRole(ctx, name, func(r *store.Role) error {
			r.Tags = removeTags(r.Tags, keys)
			return nil
		})
	}, nil
}

func (s *Service) listRoleTags(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkRoleName(&v, c)
	pg, err := checkPaging(&v, c)
	if err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, name)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		r, err := role.get()
		if err != nil {
			return nil, err
		}
		return tagPage(r.Tags, pg), nil
	}, nil
}
