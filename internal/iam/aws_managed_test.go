package iam

import (
	"net/url"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/policy"
)

// TestAWSManagedPolicies: the AWS managed policies a setup example names
// exist under AWS's ARNs, are listed with Scope=AWS (and not Local), can be
// read, attached and used as a boundary, and do not take the name from a
// customer policy of the same name.
func TestAWSManagedPolicies(t *testing.T) {
	h := newHarness(t)
	names := func(res listPoliciesResult) map[string]string {
		m := map[string]string{}
		for _, p := range res.Policies {
			m[p.PolicyName] = p.Arn
		}
		return m
	}
	aws := names(h.must("ListPolicies", "Scope", "AWS").(listPoliciesResult))
	for _, n := range []string{"AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess"} {
		if aws[n] != "arn:aws:iam::aws:policy/"+n {
			t.Errorf("ListPolicies Scope=AWS: %s is %q", n, aws[n])
		}
	}
	if local := names(h.must("ListPolicies", "Scope", "Local").(listPoliciesResult)); len(local) != 0 {
		t.Errorf("ListPolicies Scope=Local lists %v", local)
	}

	ro := "arn:aws:iam::aws:policy/ReadOnlyAccess"
	got := h.must("GetPolicy", "PolicyArn", ro).(getPolicyResult).Policy
	if got.PolicyName != "ReadOnlyAccess" || got.PolicyID != "ANPAILL3HVNFSB6DCOWYQ" || !got.IsAttachable || got.AttachmentCount != 0 {
		t.Errorf("GetPolicy %s = %+v", ro, got)
	}
	v := h.must("GetPolicyVersion", "PolicyArn", ro, "VersionId", got.DefaultVersionID).(getPolicyVersionResult).PolicyVersion
	if doc, _ := url.QueryUnescape(v.Document); doc == "" || !v.IsDefaultVersion {
		t.Errorf("GetPolicyVersion %s = %+v", ro, v)
	}

	h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc)
	h.must("AttachRolePolicy", "RoleName", "deploy", "PolicyArn", ro)
	att := h.must("ListAttachedRolePolicies", "RoleName", "deploy").(listAttachedRolePoliciesResult).AttachedPolicies
	if len(att) != 1 || att[0].PolicyArn != ro {
		t.Errorf("attached = %+v", att)
	}
	if got := h.must("GetPolicy", "PolicyArn", ro).(getPolicyResult).Policy.AttachmentCount; got != 1 {
		t.Errorf("AttachmentCount after attach = %d", got)
	}
	h.must("CreateRole", "RoleName", "bounded", "AssumeRolePolicyDocument", trustDoc,
		"PermissionsBoundary", "arn:aws:iam::aws:policy/PowerUserAccess")

	// A customer policy may share the name; it is Local.
	h.must("CreatePolicy", "PolicyName", "ReadOnlyAccess", "PolicyDocument", permDoc)
	local := names(h.must("ListPolicies", "Scope", "Local").(listPoliciesResult))
	if local["ReadOnlyAccess"] != "arn:aws:iam::"+testAccount+":policy/ReadOnlyAccess" || len(local) != 1 {
		t.Errorf("ListPolicies Scope=Local = %v", local)
	}
	if all := h.must("ListPolicies").(listPoliciesResult).Policies; len(all) != 4 {
		t.Errorf("ListPolicies (All) lists %d policies, want 3 AWS + 1 local", len(all))
	}

	// AWS managed policies cannot be changed, and others do not exist.
	_, err := h.call("DeletePolicy", params("PolicyArn", ro))
	wantErr(t, err, awserr.CodeNoSuchEntity, 404, "was not found")
	_, err = h.call("AttachRolePolicy", params("RoleName", "deploy", "PolicyArn", "arn:aws:iam::aws:policy/NoSuchAccess"))
	wantErr(t, err, awserr.CodeNoSuchEntity, 404, "does not exist or is not attachable")
}

// TestAWSManagedDocumentsEvaluate: each document parses as a stored
// managed policy and grants what its name says.
func TestAWSManagedDocumentsEvaluate(t *testing.T) {
	tests := []struct {
		name           string
		allow, refused []string
	}{
		{"AdministratorAccess", []string{"iam:CreateRole", "s3:PutObject", "sts:AssumeRole"}, nil},
		{"PowerUserAccess", []string{"s3:PutObject", "iam:ListRoles", "iam:CreateServiceLinkedRole"},
			[]string{"iam:CreateRole", "iam:AttachRolePolicy", "organizations:CreateAccount"}},
		{"ReadOnlyAccess", []string{"iam:GetRole", "iam:ListRoles", "iam:SimulatePrincipalPolicy"},
			[]string{"iam:CreateRole", "iam:PutRolePolicy", "s3:PutObject", "sts:AssumeRole"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := awsManagedPolicy("arn:aws:iam::aws:policy/" + tc.name)
			if !ok {
				t.Fatal("not held")
			}
			p, err := policy.Parse(m.Document, policy.Managed)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			for _, a := range tc.allow {
				if d := p.Evaluate(&policy.Request{Action: a, Resource: "arn:aws:iam::123456789012:role/x"}); d != policy.Allow {
					t.Errorf("%s: %s", a, d)
				}
			}
			for _, a := range tc.refused {
				if d := p.Evaluate(&policy.Request{Action: a, Resource: "arn:aws:iam::123456789012:role/x"}); d == policy.Allow {
					t.Errorf("%s: allowed", a)
				}
			}
		})
	}
}
