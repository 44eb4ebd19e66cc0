package iam

import (
	"net/url"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
)

const denyDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`

func TestPolicyVersions(t *testing.T) {
	h := newHarness(t)
	p := h.must("CreatePolicy", "PolicyName", "ro", "PolicyDocument", permDoc).(createPolicyResult).Policy
	if p.DefaultVersionID != "v1" {
		t.Fatalf("new policy default version %q", p.DefaultVersionID)
	}
	v2 := h.must("CreatePolicyVersion", "PolicyArn", p.Arn, "PolicyDocument", denyDoc).(createPolicyVersionResult).PolicyVersion
	if v2.VersionID != "v2" || v2.IsDefaultVersion || v2.Document != "" {
		t.Errorf("CreatePolicyVersion (not default) = %+v", v2)
	}
	// Not the default yet: evaluation still reads v1.
	if h.policy(p.Arn).Document != permDoc {
		t.Error("a non-default version replaced the policy's document")
	}
	v3 := h.must("CreatePolicyVersion", "PolicyArn", p.Arn, "PolicyDocument", denyDoc, "SetAsDefault", "true").(createPolicyVersionResult).PolicyVersion
	if v3.VersionID != "v3" || !v3.IsDefaultVersion {
		t.Errorf("CreatePolicyVersion (default) = %+v", v3)
	}
	if got := h.must("GetPolicy", "PolicyArn", p.Arn).(getPolicyResult).Policy.DefaultVersionID; got != "v3" {
		t.Errorf("GetPolicy DefaultVersionId = %q, want v3", got)
	}
	if h.policy(p.Arn).Document != denyDoc {
		t.Error("the default version's document is not the policy's document")
	}
	got := h.must("GetPolicyVersion", "PolicyArn", p.Arn, "VersionId", "v1").(getPolicyVersionResult).PolicyVersion
	if doc, _ := url.QueryUnescape(got.Document); doc != permDoc || got.IsDefaultVersion {
		t.Errorf("GetPolicyVersion v1 = %+v", got)
	}

	list := h.must("ListPolicyVersions", "PolicyArn", p.Arn).(listPolicyVersionsResult)
	var ids []string
	for _, v := range list.Versions {
		ids = append(ids, v.VersionID)
		if v.Document != "" {
			t.Errorf("ListPolicyVersions returned a document for %s", v.VersionID)
		}
	}
	if len(ids) != 3 || ids[0] != "v3" || ids[2] != "v1" {
		t.Errorf("ListPolicyVersions = %v, want newest first [v3 v2 v1]", ids)
	}
	page1 := h.must("ListPolicyVersions", "PolicyArn", p.Arn, "MaxItems", "2").(listPolicyVersionsResult)
	page2 := h.must("ListPolicyVersions", "PolicyArn", p.Arn, "Marker", page1.Marker).(listPolicyVersionsResult)
	if len(page1.Versions) != 2 || !page1.IsTruncated || len(page2.Versions) != 1 || page2.Versions[0].VersionID != "v1" {
		t.Errorf("paged ListPolicyVersions: %+v then %+v", page1, page2)
	}

	// The quota is five versions; deleting one makes room, and ids are never reused.
	h.must("CreatePolicyVersion", "PolicyArn", p.Arn, "PolicyDocument", denyDoc)
	h.must("CreatePolicyVersion", "PolicyArn", p.Arn, "PolicyDocument", denyDoc)
	_, err := h.call("CreatePolicyVersion", params("PolicyArn", p.Arn, "PolicyDocument", denyDoc))
	wantErr(t, err, awserr.CodeLimitExceeded, 409, "A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.")
	h.must("DeletePolicyVersion", "PolicyArn", p.Arn, "VersionId", "v5")
	v6 := h.must("CreatePolicyVersion", "PolicyArn", p.Arn, "PolicyDocument", denyDoc).(createPolicyVersionResult).PolicyVersion
	if v6.VersionID != "v6" {
		t.Errorf("version after deleting v5 = %s, want v6", v6.VersionID)
	}

	h.must("SetDefaultPolicyVersion", "PolicyArn", p.Arn, "VersionId", "v1")
	if h.policy(p.Arn).Document != permDoc || h.policy(p.Arn).DefaultVersion != "v1" {
		t.Error("SetDefaultPolicyVersion v1 did not make v1's document the policy's")
	}
	_, err = h.call("DeletePolicyVersion", params("PolicyArn", p.Arn, "VersionId", "v1"))
	wantErr(t, err, awserr.CodeDeleteConflict, 409, "Cannot delete the default version of a policy.")
	_, err = h.call("DeletePolicy", params("PolicyArn", p.Arn))
	wantErr(t, err, awserr.CodeDeleteConflict, 409, "you must first delete all non-default versions")
	for _, id := range []string{"v2", "v3", "v4", "v6"} {
		h.must("DeletePolicyVersion", "PolicyArn", p.Arn, "VersionId", id)
	}
	h.must("DeletePolicy", "PolicyArn", p.Arn)
}

func TestPolicyVersionErrors(t *testing.T) {
	const arn = "arn:aws:iam::123456789012:policy/ro"
	tests := []struct {
		name, action string
		kv           []string
		code         string
		status       int
		msg          string
	}{
		{"get missing version", "GetPolicyVersion", []string{"PolicyArn", arn, "VersionId", "v9"}, awserr.CodeNoSuchEntity, 404, "Policy " + arn + " version v9 does not exist or is not attachable."},
		{"get bad version id", "GetPolicyVersion", []string{"PolicyArn", arn, "VersionId", "1"}, awserr.CodeValidation, 400, "at 'versionId'"},
		{"get missing policy", "GetPolicyVersion", []string{"PolicyArn", arn + "x", "VersionId", "v1"}, awserr.CodeNoSuchEntity, 404, "Policy " + arn + "x was not found."},
		{"create malformed", "CreatePolicyVersion", []string{"PolicyArn", arn, "PolicyDocument", "not json"}, awserr.CodeMalformedPolicy, 400, ""},
		{"create trust policy", "CreatePolicyVersion", []string{"PolicyArn", arn, "PolicyDocument", trustDoc}, awserr.CodeMalformedPolicy, 400, ""},
		{"create missing document", "CreatePolicyVersion", []string{"PolicyArn", arn}, awserr.CodeValidation, 400, "policyDocument"},
		{"create missing policy", "CreatePolicyVersion", []string{"PolicyArn", arn + "x", "PolicyDocument", denyDoc}, awserr.CodeNoSuchEntity, 404, "was not found"},
		{"delete missing version", "DeletePolicyVersion", []string{"PolicyArn", arn, "VersionId", "v2"}, awserr.CodeNoSuchEntity, 404, "version v2 does not exist"},
		{"delete default", "DeletePolicyVersion", []string{"PolicyArn", arn, "VersionId", "v1"}, awserr.CodeDeleteConflict, 409, "Cannot delete the default version of a policy."},
		{"set default missing", "SetDefaultPolicyVersion", []string{"PolicyArn", arn, "VersionId", "v2"}, awserr.CodeNoSuchEntity, 404, "version v2 does not exist"},
		{"list missing policy", "ListPolicyVersions", []string{"PolicyArn", arn + "x"}, awserr.CodeNoSuchEntity, 404, "was not found"},
		{"tag missing policy", "TagPolicy", []string{"PolicyArn", arn + "x", "Tags.member.1.Key", "k", "Tags.member.1.Value", "v"}, awserr.CodeNoSuchEntity, 404, "was not found"},
		{"tag without tags", "TagPolicy", []string{"PolicyArn", arn}, awserr.CodeValidation, 400, "tags"},
		{"untag without keys", "UntagPolicy", []string{"PolicyArn", arn}, awserr.CodeValidation, 400, "tagKeys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must("CreatePolicy", "PolicyName", "ro", "PolicyDocument", permDoc)
			_, err := h.call(tt.action, params(tt.kv...))
			wantErr(t, err, tt.code, tt.status, tt.msg)
		})
	}
}

func TestPolicyTags(t *testing.T) {
	h := newHarness(t)
	p := h.must("CreatePolicy", "PolicyName", "ro", "PolicyDocument", permDoc, "Tags.member.1.Key", "a", "Tags.member.1.Value", "1").(createPolicyResult).Policy
	h.must("TagPolicy", "PolicyArn", p.Arn, "Tags.member.1.Key", "A", "Tags.member.1.Value", "2", "Tags.member.2.Key", "b", "Tags.member.2.Value", "3")
	got := h.must("ListPolicyTags", "PolicyArn", p.Arn).(listTagsResult)
	if len(got.Tags) != 2 || got.Tags[0] != (xmlTag{Key: "A", Value: "2"}) || got.Tags[1] != (xmlTag{Key: "b", Value: "3"}) {
		t.Errorf("tags after TagPolicy = %+v", got.Tags)
	}
	h.must("UntagPolicy", "PolicyArn", p.Arn, "TagKeys.member.1", "a")
	got = h.must("ListPolicyTags", "PolicyArn", p.Arn).(listTagsResult)
	if len(got.Tags) != 1 || got.Tags[0].Key != "b" {
		t.Errorf("tags after UntagPolicy = %+v", got.Tags)
	}
	if tags := h.must("GetPolicy", "PolicyArn", p.Arn).(getPolicyResult).Policy.Tags; tags == nil || len(*tags) != 1 {
		t.Errorf("GetPolicy tags = %+v", tags)
	}
}

func TestRoleBoundaryAndInstanceProfiles(t *testing.T) {
	h := newHarness(t)
	h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc)
	b := h.must("CreatePolicy", "PolicyName", "boundary", "PolicyDocument", permDoc).(createPolicyResult).Policy
	h.must("PutRolePermissionsBoundary", "RoleName", "deploy", "PermissionsBoundary", b.Arn)
	r := h.must("GetRole", "RoleName", "deploy").(getRoleResult).Role
	if r.PermissionsBoundary == nil || r.PermissionsBoundary.PermissionsBoundaryArn != b.Arn {
		t.Errorf("boundary after Put = %+v", r.PermissionsBoundary)
	}
	_, err := h.call("PutRolePermissionsBoundary", params("RoleName", "deploy", "PermissionsBoundary", b.Arn+"x"))
	wantErr(t, err, awserr.CodeNoSuchEntity, 404, "does not exist or is not attachable")
	_, err = h.call("PutRolePermissionsBoundary", params("RoleName", "nope", "PermissionsBoundary", b.Arn))
	wantErr(t, err, awserr.CodeNoSuchEntity, 404, "The role with name nope cannot be found.")
	h.must("DeleteRolePermissionsBoundary", "RoleName", "deploy")
	if r := h.must("GetRole", "RoleName", "deploy").(getRoleResult).Role; r.PermissionsBoundary != nil {
		t.Errorf("boundary after Delete = %+v", r.PermissionsBoundary)
	}

	ip := h.must("ListInstanceProfilesForRole", "RoleName", "deploy").(listInstanceProfilesForRoleResult)
	if len(ip.InstanceProfiles) != 0 || ip.IsTruncated {
		t.Errorf("ListInstanceProfilesForRole = %+v", ip)
	}
	_, err = h.call("ListInstanceProfilesForRole", params("RoleName", "nope"))
	wantErr(t, err, awserr.CodeNoSuchEntity, 404, "The role with name nope cannot be found.")
}
