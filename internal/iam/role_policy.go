package iam

import (
	"context"

	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// maxInlinePolicyTotal is the quota on all inline policies of one role
// together, in non-whitespace characters.
const maxInlinePolicyTotal = policy.InlinePolicyMaxTotal

func rolePolicyNotFound(name string) string {
	return "The role policy with name " + name + " cannot be found."
}

func (s *Service) putRolePolicy(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	roleName := checkRoleName(&v, c)
	name := checkPolicyName(&v, c)
	doc := checkDocument(&v, c, "PolicyDocument")
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	if _, err := policy.ParseNew(doc, policy.Identity); err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, roleName)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		r, err := role.get()
		if err != nil {
			return nil, err
		}
		existing, err := s.store.ListRolePolicies(ctx, roleName)
		if err != nil {
			return nil, storeErr(err, roleNotFound(roleName))
		}
		total := policy.Size(doc)
		for _, p := range existing {
			if p.Name != name {
				total += policy.Size(p.Document)
			}
		}
		if total > maxInlinePolicyTotal {
			return nil, limitExceeded("Maximum policy size of %d bytes exceeded for role %s", maxInlinePolicyTotal, r.Name)
		}
		if err := s.store.PutRolePolicy(ctx, store.RolePolicy{RoleName: r.Name, Name: name, Document: doc}); err != nil {
			return nil, storeErr(err, roleNotFound(roleName))
		}
		return nil, nil
	}, nil
}

type getRolePolicyResult struct {
	RoleName       string `xml:"RoleName"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

func (s *Service) getRolePolicy(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	roleName := checkRoleName(&v, c)
	name := checkPolicyName(&v, c)
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, roleName)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		r, err := role.get()
		if err != nil {
			return nil, err
		}
		p, err := s.store.GetRolePolicy(ctx, roleName, name)
		if err != nil {
			return nil, storeErr(err, rolePolicyNotFound(name))
		}
		return getRolePolicyResult{RoleName: r.Name, PolicyName: p.Name, PolicyDocument: URLEncodePolicy(p.Document)}, nil
	}, nil
}

func (s *Service) deleteRolePolicy(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	roleName := checkRoleName(&v, c)
	name := checkPolicyName(&v, c)
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, roleName)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		if _, err := role.get(); err != nil {
			return nil, err
		}
		if err := s.store.DeleteRolePolicy(ctx, roleName, name); err != nil {
			return nil, storeErr(err, rolePolicyNotFound(name))
		}
		return nil, nil
	}, nil
}

type listRolePoliciesResult struct {
	PolicyNames []string `xml:"PolicyNames>member"`
	IsTruncated bool     `xml:"IsTruncated"`
	Marker      string   `xml:"Marker,omitempty"`
}

func (s *Service) listRolePolicies(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	roleName := checkRoleName(&v, c)
	pg, err := checkPaging(&v, c)
	if err != nil {
		return "", nil, err
	}
	role, err := s.roleTarget(ctx, roleName)
	if err != nil {
		return "", nil, err
	}
	return role.arn, func(ctx context.Context) (any, error) {
		if _, err := role.get(); err != nil {
			return nil, err
		}
		ps, err := s.store.ListRolePolicies(ctx, roleName)
		if err != nil {
			return nil, storeErr(err, roleNotFound(roleName))
		}
		got, next := paginate(ps, func(p store.RolePolicy) string { return p.Name }, pg)
		res := listRolePoliciesResult{PolicyNames: make([]string, 0, len(got)), IsTruncated: next != "", Marker: next}
		for _, p := range got {
			res.PolicyNames = append(res.PolicyNames, p.Name)
		}
		return res, nil
	}, nil
}
