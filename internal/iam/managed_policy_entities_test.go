package iam

import (
	"reflect"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
)

// ListEntitiesForPolicy (botocore's shape: PolicyRoles of RoleName/RoleId;
// keyless has no users or groups) by usage, entity and path filter, paged.
func TestListEntitiesForPolicy(t *testing.T) {
	h := newHarness(t)
	arnOf := func(name string) string {
		return h.must("CreatePolicy", "PolicyName", name, "PolicyDocument", permDoc).(createPolicyResult).Policy.Arn
	}
	pol, other := arnOf("shared"), arnOf("unused")
	ids := map[string]string{}
	for _, r := range []struct{ name, path string }{{"b-attached", "/"}, {"a-bounded", "/"}, {"c-both", "/ci/"}, {"d-none", "/"}} {
		ids[r.name] = h.must("CreateRole", "RoleName", r.name, "Path", r.path, "AssumeRolePolicyDocument", trustDoc).(createRoleResult).Role.RoleID
	}
	h.must("AttachRolePolicy", "RoleName", "b-attached", "PolicyArn", pol)
	h.must("AttachRolePolicy", "RoleName", "c-both", "PolicyArn", pol)
	h.must("PutRolePermissionsBoundary", "RoleName", "a-bounded", "PermissionsBoundary", pol)
	h.must("PutRolePermissionsBoundary", "RoleName", "c-both", "PermissionsBoundary", pol)

	names := func(kv ...string) []string {
		t.Helper()
		res := h.must("ListEntitiesForPolicy", kv...).(listEntitiesForPolicyResult)
		out := []string{}
		for _, r := range res.PolicyRoles {
			if r.RoleID != ids[r.RoleName] {
				t.Errorf("%s: RoleId %q, want %q", r.RoleName, r.RoleID, ids[r.RoleName])
			}
			out = append(out, r.RoleName)
		}
		return out
	}
	tests := []struct {
		name string
		kv   []string
		want []string
	}{
		{"every usage", []string{"PolicyArn", pol}, []string{"a-bounded", "b-attached", "c-both"}},
		{"permissions policy", []string{"PolicyArn", pol, "PolicyUsageFilter", "PermissionsPolicy"}, []string{"b-attached", "c-both"}},
		{"permissions boundary", []string{"PolicyArn", pol, "PolicyUsageFilter", "PermissionsBoundary"}, []string{"a-bounded", "c-both"}},
		{"roles", []string{"PolicyArn", pol, "EntityFilter", "Role"}, []string{"a-bounded", "b-attached", "c-both"}},
		{"users", []string{"PolicyArn", pol, "EntityFilter", "User"}, []string{}},
		{"groups", []string{"PolicyArn", pol, "EntityFilter", "Group"}, []string{}},
		{"path prefix", []string{"PolicyArn", pol, "PathPrefix", "/ci/"}, []string{"c-both"}},
		{"unused policy", []string{"PolicyArn", other}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(tt.kv...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("paged", func(t *testing.T) {
		p1 := h.must("ListEntitiesForPolicy", "PolicyArn", pol, "MaxItems", "2").(listEntitiesForPolicyResult)
		p2 := h.must("ListEntitiesForPolicy", "PolicyArn", pol, "Marker", p1.Marker).(listEntitiesForPolicyResult)
		if len(p1.PolicyRoles) != 2 || !p1.IsTruncated || len(p2.PolicyRoles) != 1 || p2.IsTruncated || p2.PolicyRoles[0].RoleName != "c-both" {
			t.Errorf("pages %+v then %+v", p1, p2)
		}
	})
	t.Run("detached no longer listed", func(t *testing.T) {
		h.must("DetachRolePolicy", "RoleName", "b-attached", "PolicyArn", pol)
		if got := names("PolicyArn", pol, "PolicyUsageFilter", "PermissionsPolicy"); !reflect.DeepEqual(got, []string{"c-both"}) {
			t.Errorf("got %v", got)
		}
	})
	errs := []struct {
		name, code, msg string
		status          int
		kv              []string
	}{
		{"missing policy", awserr.CodeNoSuchEntity, "Policy arn:aws:iam::123456789012:policy/nope was not found.", 404,
			[]string{"PolicyArn", "arn:aws:iam::123456789012:policy/nope"}},
		{"AWS managed policy keyless lacks", awserr.CodeNoSuchEntity, "Policy arn:aws:iam::aws:policy/AmazonS3FullAccess was not found.", 404,
			[]string{"PolicyArn", "arn:aws:iam::aws:policy/AmazonS3FullAccess"}},
		{"bad filter", awserr.CodeValidation, "1 validation error detected: Value 'Robot' at 'entityFilter' failed to satisfy constraint: Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]", 400,
			[]string{"PolicyArn", pol, "EntityFilter", "Robot"}},
		{"bad usage", awserr.CodeValidation, "1 validation error detected: Value 'Both' at 'policyUsageFilter' failed to satisfy constraint: Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]", 400,
			[]string{"PolicyArn", pol, "PolicyUsageFilter", "Both"}},
		{"every violation at once", awserr.CodeValidation, "2 validation errors detected: Value null at 'policyArn' failed to satisfy constraint: Member must not be null; Value 'ci' at 'pathPrefix' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)", 400,
			[]string{"PathPrefix", "ci"}},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.call("ListEntitiesForPolicy", params(tt.kv...))
			wantErr(t, err, tt.code, tt.status, tt.msg)
		})
	}
}
