package iam

import (
	"context"
	"strings"

	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/store"
)

// maxAttachedPerRole is the PoliciesPerRole default quota.
const maxAttachedPerRole = 10

func notAttachable(policyARN string) string {
	return "Policy " + policyARN + " does not exist or is not attachable."
}

// rolePolicyARN validates RoleName and PolicyArn of Attach/Detach.
func (s *Service) rolePolicyARN(c *awsquery.Call) (roleName, policyARN string, local bool, err error) {
	var v awsquery.Validator
	roleName = checkRoleName(&v, c)
	policyARN = checkARN(&v, c, "PolicyArn")
	if err := v.Err(); err != nil {
		return "", "", false, err
	}
	local, err = s.parsePolicyARN(policyARN)
	return roleName, policyARN, local, err
}

func (s *Service) attachRolePolicy(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	roleName, policyARN, local, err := s.rolePolicyARN(c)
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
		if !local {
			_, ok, err := s.awsManagedPolicy(ctx, policyARN)
			if !ok {
				return nil, noSuchEntity("%s", notAttachable(policyARN))
			}
			if err != nil {
				return nil, storeErr(err, notAttachable(policyARN))
			}
		} else if _, err := s.store.GetPolicy(ctx, policyARN); err != nil {
			return nil, storeErr(err, notAttachable(policyARN))
		}
		attached, err := s.store.ListAttachedRolePolicies(ctx, roleName)
		if err != nil {
			return nil, storeErr(err, roleNotFound(roleName))
		}
		for _, p := range attached {
			if p.ARN == policyARN {
				return nil, nil // already attached: idempotent
			}
		}
		if len(attached) >= maxAttachedPerRole {
			return nil, limitExceeded("Cannot exceed quota for PoliciesPerRole: %d", maxAttachedPerRole)
		}
		if err := s.store.AttachRolePolicy(ctx, roleName, policyARN); err != nil {
			return nil, storeErr(err, notAttachable(policyARN))
		}
		return nil, nil
	}, nil
}

func (s *Service) detachRolePolicy(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	roleName, policyARN, _, err := s.rolePolicyARN(c)
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
		if err := s.store.DetachRolePolicy(ctx, roleName, policyARN); err != nil {
			return nil, storeErr(err, policyNotFound(policyARN))
		}
		return nil, nil
	}, nil
}

type xmlAttachedPolicy struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

type listAttachedRolePoliciesResult struct {
	AttachedPolicies []xmlAttachedPolicy `xml:"AttachedPolicies>member"`
	IsTruncated      bool                `xml:"IsTruncated"`
	Marker           string              `xml:"Marker,omitempty"`
}

func (s *Service) listAttachedRolePolicies(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	roleName := checkRoleName(&v, c)
	prefix := checkPathPrefix(&v, c, rePolicyPath, patPolPath)
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
		ps, err := s.store.ListAttachedRolePolicies(ctx, roleName)
		if err != nil {
			return nil, storeErr(err, roleNotFound(roleName))
		}
		ps = filter(ps, func(p store.ManagedPolicy) bool { return strings.HasPrefix(p.Path, prefix) })
		got, next := paginate(ps, func(p store.ManagedPolicy) string { return strings.ToLower(p.Name) }, pg)
		res := listAttachedRolePoliciesResult{AttachedPolicies: make([]xmlAttachedPolicy, 0, len(got)), IsTruncated: next != "", Marker: next}
		for _, p := range got {
			res.AttachedPolicies = append(res.AttachedPolicies, xmlAttachedPolicy{PolicyName: p.Name, PolicyArn: p.ARN})
		}
		return res, nil
	}, nil
}
