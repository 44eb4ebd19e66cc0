package iam

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keylessci/keyless/internal/awserr"
)

const permDoc = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/a b%3A*"}]}`

// bigDoc is an identity policy of about n non-whitespace characters.
func bigDoc(n int) string {
	base := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::X"}]}`
	return strings.Replace(base, "X", strings.Repeat("x", n-len(base)+1), 1)
}

func TestInlineRolePolicies(t *testing.T) {
	h := newHarness(t)
	h.must("CreateRole", "RoleName", "Deploy", "AssumeRolePolicyDocument", trustDoc)
	h.must("PutRolePolicy", "RoleName", "deploy", "PolicyName", "s3", "PolicyDocument", permDoc)
	got := h.must("GetRolePolicy", "RoleName", "deploy", "PolicyName", "s3").(getRolePolicyResult)
	if got.RoleName != "Deploy" || got.PolicyName != "s3" || got.PolicyDocument != URLEncodePolicy(permDoc) {
		t.Errorf("GetRolePolicy %+v", got)
	}
	if back, _ := url.QueryUnescape(got.PolicyDocument); back != permDoc {
		t.Errorf("QueryUnescape = %q", back)
	}
	for i := 0; i < 3; i++ {
		h.must("PutRolePolicy", "RoleName", "deploy", "PolicyName", fmt.Sprintf("p%d", i), "PolicyDocument", permDoc)
	}
	res := h.must("ListRolePolicies", "RoleName", "deploy", "MaxItems", "3").(listRolePoliciesResult)
	res2 := h.must("ListRolePolicies", "RoleName", "deploy", "Marker", res.Marker).(listRolePoliciesResult)
	if diff := cmp.Diff([]string{"p0", "p1", "p2", "s3"}, append(res.PolicyNames, res2.PolicyNames...)); diff != "" || !res.IsTruncated || res2.IsTruncated {
		t.Errorf("ListRolePolicies (-want +got):\n%s", diff)
	}

	_, err := h.call("DeleteRole", params("RoleName", "deploy"))
	wantErr(t, err, awserr.CodeDeleteConflict, 409, "Cannot delete entity, must delete policies first.")
	for _, n := range []string{"p0", "p1", "p2", "s3"} {
		h.must("DeleteRolePolicy", "RoleName", "deploy", "PolicyName", n)
	}
	h.must("DeleteRole", "RoleName", "deploy")
	if h.roleCount() != 0 {
		t.Error("role not deleted")
	}
}

func TestInlinePolicyErrors(t *testing.T) {
	tests := []struct {
		name, action string
		kv           []string
		code         string
		status       int
		msg          string
	}{
		{"put missing role", "PutRolePolicy", []string{"RoleName", "nope", "PolicyName", "p", "PolicyDocument", permDoc}, awserr.CodeNoSuchEntity, 404, "The role with name nope cannot be found."},
		{"put bad name", "PutRolePolicy", []string{"RoleName", "deploy", "PolicyName", "a/b", "PolicyDocument", permDoc}, awserr.CodeValidation, 400, "at 'policyName'"},
		{"put malformed", "PutRolePolicy", []string{"RoleName", "deploy", "PolicyName", "p", "PolicyDocument", "not json"}, awserr.CodeMalformedPolicy, 400, "This policy contains invalid Json"},
		{"put principal", "PutRolePolicy", []string{"RoleName", "deploy", "PolicyName", "p", "PolicyDocument", trustDoc}, awserr.CodeMalformedPolicy, 400, ""},
		{"put charset", "PutRolePolicy", []string{"RoleName", "deploy", "PolicyName", "p", "PolicyDocument", "{\x01}"}, awserr.CodeValidation, 400, "at 'policyDocument'"},
		{"put aggregate size", "PutRolePolicy", []string{"RoleName", "deploy", "PolicyName", "p", "PolicyDocument", bigDoc(5300)}, awserr.CodeLimitExceeded, 409, "Maximum policy size of 10240 bytes exceeded for role deploy"},
		{"get missing policy", "GetRolePolicy", []string{"RoleName", "deploy", "PolicyName", "nope"}, awserr.CodeNoSuchEntity, 404, "The role policy with name nope cannot be found."},
		{"get missing role", "GetRolePolicy", []string{"RoleName", "nope", "PolicyName", "big1"}, awserr.CodeNoSuchEntity, 404, "role with name nope"},
		{"delete missing policy", "DeleteRolePolicy", []string{"RoleName", "deploy", "PolicyName", "nope"}, awserr.CodeNoSuchEntity, 404, "nope"},
		{"list missing role", "ListRolePolicies", []string{"RoleName", "nope"}, awserr.CodeNoSuchEntity, 404, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc)
			h.must("PutRolePolicy", "RoleName", "deploy", "PolicyName", "big1", "PolicyDocument", bigDoc(5000))
			_, err := h.call(tt.action, params(tt.kv...))
			wantErr(t, err, tt.code, tt.status, tt.msg)
		})
	}
	t.Run("replacing a policy counts it once", func(t *testing.T) {
		h := newHarness(t)
		h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc)
		h.must("PutRolePolicy", "RoleName", "deploy", "PolicyName", "a", "PolicyDocument", bigDoc(5000))
		h.must("PutRolePolicy", "RoleName", "deploy", "PolicyName", "b", "PolicyDocument", bigDoc(5000))
		h.must("PutRolePolicy", "RoleName", "deploy", "PolicyName", "b", "PolicyDocument", bigDoc(5240))
		_, err := h.call("PutRolePolicy", params("RoleName", "deploy", "PolicyName", "b", "PolicyDocument", bigDoc(5241)))
		wantErr(t, err, awserr.CodeLimitExceeded, 409, "10240")
	})
}

const policyARN = "arn:aws:iam::123456789012:policy/ci/ReadS3"

func TestManagedPolicyLifecycle(t *testing.T) {
	h := newHarness(t)
	created := h.must("CreatePolicy", "PolicyName", "ReadS3", "Path", "/ci/", "PolicyDocument", permDoc,
		"Description", "read", "Tags.member.1.Key", "k", "Tags.member.1.Value", "v").(createPolicyResult).Policy
	want := xmlPolicy{PolicyName: "ReadS3", PolicyID: created.PolicyID, Arn: policyARN, Path: "/ci/", DefaultVersionID: "v1",
		IsAttachable: true, CreateDate: "2026-03-01T12:00:00Z", UpdateDate: "2026-03-01T12:00:00Z", Tags: &xmlTagList{{"k", "v"}}}
	if diff := cmp.Diff(want, created); diff != "" || !strings.HasPrefix(created.PolicyID, "ANPA") || len(created.PolicyID) != 21 {
		t.Errorf("CreatePolicy (-want +got):\n%s", diff)
	}
	h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc)
	h.must("AttachRolePolicy", "RoleName", "deploy", "PolicyArn", policyARN)
	h.must("AttachRolePolicy", "RoleName", "deploy", "PolicyArn", policyARN) // idempotent
	got := h.must("GetPolicy", "PolicyArn", policyARN).(getPolicyResult).Policy
	if got.AttachmentCount != 1 || got.Description != "read" {
		t.Errorf("AttachmentCount %d", got.AttachmentCount)
	}
	ver := h.must("GetPolicyVersion", "PolicyArn", policyARN, "VersionId", "v1").(getPolicyVersionResult).PolicyVersion
	if back, _ := url.QueryUnescape(ver.Document); back != permDoc || !ver.IsDefaultVersion || ver.VersionID != "v1" {
		t.Errorf("GetPolicyVersion %+v", ver)
	}
	att := h.must("ListAttachedRolePolicies", "RoleName", "deploy").(listAttachedRolePoliciesResult)
	if diff := cmp.Diff([]xmlAttachedPolicy{{"ReadS3", policyARN}}, att.AttachedPolicies); diff != "" {
		t.Errorf("attached (-want +got):\n%s", diff)
	}
	if att := h.must("ListAttachedRolePolicies", "RoleName", "deploy", "PathPrefix", "/other/").(listAttachedRolePoliciesResult); len(att.AttachedPolicies) != 0 {
		t.Errorf("PathPrefix filter: %+v", att)
	}

	h.must("CreatePolicy", "PolicyName", "Unused", "PolicyDocument", permDoc)
	list := h.must("ListPolicies", "OnlyAttached", "true").(listPoliciesResult)
	if len(list.Policies) != 1 || list.Policies[0].PolicyName != "ReadS3" || list.Policies[0].Description != "" || list.Policies[0].Tags != nil {
		t.Errorf("ListPolicies OnlyAttached %+v", list.Policies)
	}
	if list := h.must("ListPolicies", "Scope", "Local").(listPoliciesResult); len(list.Policies) != 2 {
		t.Errorf("ListPolicies Local %+v", list.Policies)
	}
	if list := h.must("ListPolicies", "Scope", "AWS").(listPoliciesResult); len(list.Policies) != len(awsManaged) {
		t.Errorf("ListPolicies AWS %+v", list.Policies)
	}
	p1 := h.must("ListPolicies", "Scope", "Local", "MaxItems", "1").(listPoliciesResult)
	p2 := h.must("ListPolicies", "Scope", "Local", "MaxItems", "1", "Marker", p1.Marker).(listPoliciesResult)
	if !p1.IsTruncated || p2.IsTruncated || p1.Policies[0].PolicyName != "ReadS3" || p2.Policies[0].PolicyName != "Unused" {
		t.Errorf("ListPolicies pages %+v %+v", p1, p2)
	}

	_, err := h.call("DeletePolicy", params("PolicyArn", policyARN))
	wantErr(t, err, awserr.CodeDeleteConflict, 409, "Cannot delete a policy attached to entities.")
	_, err = h.call("DeleteRole", params("RoleName", "deploy"))
	wantErr(t, err, awserr.CodeDeleteConflict, 409, "Cannot delete entity, must detach all policies first.")
	h.must("DetachRolePolicy", "RoleName", "deploy", "PolicyArn", policyARN)
	_, err = h.call("DetachRolePolicy", params("RoleName", "deploy", "PolicyArn", policyARN))
	wantErr(t, err, awserr.CodeNoSuchEntity, 404, "Policy "+policyARN+" was not found.")
	h.must("DeletePolicy", "PolicyArn", policyARN)
	h.must("DeleteRole", "RoleName", "deploy")
	_, err = h.call("GetPolicy", params("PolicyArn", policyARN))
	wantErr(t, err, awserr.CodeNoSuchEntity, 404, "Policy "+policyARN+" was not found.")
}

func TestManagedPolicyErrors(t *testing.T) {
	tests := []struct {
		name, action string
		kv           []string
		code         string
		status       int
		msg          string
	}{
		{"duplicate name any path", "CreatePolicy", []string{"PolicyName", "reads3", "Path", "/x/", "PolicyDocument", permDoc}, awserr.CodeEntityAlreadyExists, 409, "A policy called reads3 already exists. Duplicate names are not allowed."},
		{"bad path", "CreatePolicy", []string{"PolicyName", "P", "Path", "/a b/", "PolicyDocument", permDoc}, awserr.CodeValidation, 400, "at 'path'"},
		{"malformed", "CreatePolicy", []string{"PolicyName", "P", "PolicyDocument", `{"Statement": 1}`}, awserr.CodeMalformedPolicy, 400, ""},
		{"too large", "CreatePolicy", []string{"PolicyName", "P", "PolicyDocument", bigDoc(6145)}, awserr.CodeLimitExceeded, 409, "Cannot exceed quota for PolicySize: 6144"},
		{"get other account", "GetPolicy", []string{"PolicyArn", "arn:aws:iam::210987654321:policy/ci/ReadS3"}, awserr.CodeNoSuchEntity, 404, "was not found"},
		{"get aws managed keyless lacks", "GetPolicy", []string{"PolicyArn", "arn:aws:iam::aws:policy/AmazonS3FullAccess"}, awserr.CodeNoSuchEntity, 404, "was not found"},
		{"delete aws managed", "DeletePolicy", []string{"PolicyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess"}, awserr.CodeNoSuchEntity, 404, "was not found"},
		{"get malformed arn", "GetPolicy", []string{"PolicyArn", "arn:aws:iam::123456789012:role/ReadS3"}, awserr.CodeInvalidInput, 400, "is not valid"},
		{"get missing arn", "GetPolicy", nil, awserr.CodeValidation, 400, "Value null at 'policyArn'"},
		{"version v2", "GetPolicyVersion", []string{"PolicyArn", policyARN, "VersionId", "v2"}, awserr.CodeNoSuchEntity, 404, "version v2 does not exist"},
		{"version pattern", "GetPolicyVersion", []string{"PolicyArn", policyARN, "VersionId", "1"}, awserr.CodeValidation, 400, "at 'versionId'"},
		{"list bad scope", "ListPolicies", []string{"Scope", "Mine"}, awserr.CodeValidation, 400, "Member must satisfy enum value set: [All, AWS, Local]"},
		{"list bad bool", "ListPolicies", []string{"OnlyAttached", "yes"}, awserr.CodeValidation, 400, "onlyAttached"},
		{"attach aws managed keyless lacks", "AttachRolePolicy", []string{"RoleName", "deploy", "PolicyArn", "arn:aws:iam::aws:policy/AmazonS3FullAccess"}, awserr.CodeNoSuchEntity, 404, "Policy arn:aws:iam::aws:policy/AmazonS3FullAccess does not exist or is not attachable."},
		{"attach other account", "AttachRolePolicy", []string{"RoleName", "deploy", "PolicyArn", "arn:aws:iam::210987654321:policy/ci/ReadS3"}, awserr.CodeNoSuchEntity, 404, "does not exist or is not attachable"},
		{"attach missing local", "AttachRolePolicy", []string{"RoleName", "deploy", "PolicyArn", "arn:aws:iam::123456789012:policy/Nope"}, awserr.CodeNoSuchEntity, 404, "does not exist or is not attachable"},
		{"attach missing role", "AttachRolePolicy", []string{"RoleName", "nope", "PolicyArn", policyARN}, awserr.CodeNoSuchEntity, 404, "The role with name nope cannot be found."},
		{"attach malformed", "AttachRolePolicy", []string{"RoleName", "deploy", "PolicyArn", "not-an-arn-but-long-enough"}, awserr.CodeInvalidInput, 400, "is not valid"},
		{"list attached missing role", "ListAttachedRolePolicies", []string{"RoleName", "nope"}, awserr.CodeNoSuchEntity, 404, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc)
			h.must("CreatePolicy", "PolicyName", "ReadS3", "Path", "/ci/", "PolicyDocument", permDoc)
			_, err := h.call(tt.action, params(tt.kv...))
			wantErr(t, err, tt.code, tt.status, tt.msg)
		})
	}
}

func TestAttachQuota(t *testing.T) {
	h := newHarness(t)
	h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc)
	for i := 0; i <= maxAttachedPerRole; i++ {
		h.must("CreatePolicy", "PolicyName", fmt.Sprintf("P%d", i), "PolicyDocument", permDoc)
	}
	for i := 0; i < maxAttachedPerRole; i++ {
		h.must("AttachRolePolicy", "RoleName", "deploy", "PolicyArn", fmt.Sprintf("arn:aws:iam::123456789012:policy/P%d", i))
	}
	h.must("AttachRolePolicy", "RoleName", "deploy", "PolicyArn", "arn:aws:iam::123456789012:policy/P0") // already attached
	_, err := h.call("AttachRolePolicy", params("RoleName", "deploy", "PolicyArn", "arn:aws:iam::123456789012:policy/P10"))
	wantErr(t, err, awserr.CodeLimitExceeded, 409, "Cannot exceed quota for PoliciesPerRole: 10")
}

func TestCreateRoleWithBoundary(t *testing.T) {
	h := newHarness(t)
	h.must("CreatePolicy", "PolicyName", "ReadS3", "Path", "/ci/", "PolicyDocument", permDoc)
	r := h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc, "PermissionsBoundary", policyARN).(createRoleResult).Role
	if r.PermissionsBoundary == nil || r.PermissionsBoundary.PermissionsBoundaryArn != policyARN || r.PermissionsBoundary.PermissionsBoundaryType != "PermissionsBoundaryPolicy" {
		t.Errorf("boundary %+v", r.PermissionsBoundary)
	}
}
