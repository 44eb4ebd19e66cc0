package iam

import (
	"context"
	"errors"
	"strings"

	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/store"
)

type xmlPolicyRole struct {
	RoleName string `xml:"RoleName"`
	RoleID   string `xml:"RoleId"`
}

// listEntitiesForPolicyResult is botocore's ListEntitiesForPolicyResponse.
// keyless has no users or groups, so PolicyGroups and PolicyUsers are always
// empty and, like every empty list keyless returns, omitted.
type listEntitiesForPolicyResult struct {
	PolicyRoles []xmlPolicyRole `xml:"PolicyRoles>member"`
	IsTruncated bool            `xml:"IsTruncated"`
	Marker      string          `xml:"Marker,omitempty"`
}

// listEntitiesForPolicy lists the roles a managed policy is attached to
// (PolicyUsageFilter PermissionsPolicy), is the permissions boundary of
// (PermissionsBoundary), or either (no filter), in role-name order. The
// Terraform provider calls it to read aws_iam_policy_attachment and before
// it deletes an aws_iam_policy.
func (s *Service) listEntitiesForPolicy(_ context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	entity, err := checkEnum(c, "EntityFilter", "User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy")
	if err != nil {
		return "", nil, err
	}
	usage, err := checkEnum(c, "PolicyUsageFilter", "PermissionsPolicy", "PermissionsBoundary")
	if err != nil {
		return "", nil, err
	}
	policyARN := checkARN(&v, c, "PolicyArn") // first, so every violation is reported at once
	prefix := checkPathPrefix(&v, c, reRolePath, patRolePath)
	pg, err := checkPaging(&v, c)
	if err != nil {
		return "", nil, err
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	local, err := s.parsePolicyARN(policyARN)
	if err != nil {
		return "", nil, err
	}
	// An AWS managed policy may be named, as for the other reads.
	pol := policyTarget{s: s, arn: policyARN, local: local, read: true}
	return pol.arn, func(ctx context.Context) (any, error) {
		p, err := pol.get(ctx)
		if err != nil {
			return nil, err
		}
		return s.policyEntities(ctx, p, entity, usage, prefix, pg)
	}, nil
}

// policyEntities lists the roles that use p, once authorized.
func (s *Service) policyEntities(ctx context.Context, p store.ManagedPolicy, entity, usage, prefix string, pg page) (any, error) {
	res := listEntitiesForPolicyResult{PolicyRoles: []xmlPolicyRole{}}
	if entity != "" && entity != "Role" {
		return res, nil // no users or groups here; policies are attached to none
	}
	roles, err := s.store.ListRoles(ctx)
	if err != nil {
		return nil, storeErr(err, "")
	}
	var using []store.Role
	for _, r := range roles {
		if !strings.HasPrefix(r.Path, prefix) {
			continue
		}
		uses := usage != "PermissionsPolicy" && r.PermissionsBoundary == p.ARN
		if !uses && usage != "PermissionsBoundary" {
			if uses, err = s.attached(ctx, r.Name, p.ARN); err != nil {
				return nil, err
			}
		}
		if uses {
			using = append(using, r)
		}
	}
	got, next := paginate(using, func(r store.Role) string { return strings.ToLower(r.Name) }, pg)
	res.IsTruncated, res.Marker = next != "", next
	for _, r := range got {
		res.PolicyRoles = append(res.PolicyRoles, xmlPolicyRole{RoleName: r.Name, RoleID: r.ID})
	}
	return res, nil
}

// attached reports whether policyARN is attached to the role. A role deleted
// meanwhile is simply not listed.
func (s *Service) attached(ctx context.Context, role, policyARN string) (bool, error) {
	ps, err := s.store.ListAttachedRolePolicies(ctx, role)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		return false, storeErr(err, roleNotFound(role))
	}
	for _, p := range ps {
		if p.ARN == policyARN {
			return true, nil
		}
	}
	return false, nil
}
