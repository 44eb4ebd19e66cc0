package iam

import (
	"context"

	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/store"
)

func (s *Service) putRolePermissionsBoundary(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkRoleName(&v, c)
	boundary, ok := required(&v, c, "PermissionsBoundary")
	if ok {
		v.Length("PermissionsBoundary", boundary, 20, 2048)
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
		if err := s.checkBoundary(ctx, boundary); err != nil {
			return nil, err
		}
		return nil, s.updateRole(ctx, name, func(r *store.Role) error {
			r.PermissionsBoundary = boundary
			return nil
		})
	}, nil
}

func (s *Service) deleteRolePermissionsBoundary(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
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
		return nil, s.updateRole(ctx, name, func(r *store.Role) error {
			r.PermissionsBoundary = ""
			return nil
		})
	}, nil
}

type listInstanceProfilesForRoleResult struct {
	InstanceProfiles []struct{} `xml:"InstanceProfiles>member"`
	IsTruncated      bool       `xml:"IsTruncated"`
}

// listInstanceProfilesForRole answers for an existing role with an empty
// list: keyless serves no instance profiles (there is no EC2 to hand them
// to), so no role is ever in one. Clients such as Terraform's aws_iam_role
// call it before DeleteRole to remove the role from its profiles.
func (s *Service) listInstanceProfilesForRole(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	name := checkRoleName(&v, c)
	if _, err := checkPaging(&v, c); err != nil {
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
		return listInstanceProfilesForRoleResult{InstanceProfiles: []struct{}{}}, nil
	}, nil
}
