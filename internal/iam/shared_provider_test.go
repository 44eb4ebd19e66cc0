package iam

import (
	"strings"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/store"
)

// AWS's identity-provider controls for shared OIDC providers (June 2025)
// apply to CreateRole and UpdateAssumeRolePolicy; roles that existed before
// are not re-validated. The per-provider table is tested in internal/policy.
func TestSharedProviderGuardrail(t *testing.T) {
	const msg = "Trust policy with trusted principal arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com must evaluate, using StringEquals, StringLike or StringEqualsIgnoreCase, token.actions.githubusercontent.com:sub or token.actions.githubusercontent.com:job_workflow_ref which is not scoped to all"
	unscoped := strings.Replace(trustDoc, `"repo:org/*"`, `"*"`, 1)
	audOnly := strings.Replace(trustDoc, `"StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/*"}`,
		`"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}`, 1)
	if audOnly == trustDoc || unscoped == trustDoc {
		t.Fatal("fixture did not change")
	}

	t.Run("CreateRole refuses", func(t *testing.T) {
		for _, doc := range []string{unscoped, audOnly} {
			h := newHarness(t)
			_, err := h.call("CreateRole", params("RoleName", "deploy", "AssumeRolePolicyDocument", doc))
			wantErr(t, err, awserr.CodeMalformedPolicy, 400, msg)
			if h.roleCount() != 0 {
				t.Error("refused role was stored")
			}
		}
	})
	t.Run("UpdateAssumeRolePolicy refuses", func(t *testing.T) {
		h := newHarness(t)
		h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc)
		_, err := h.call("UpdateAssumeRolePolicy", params("RoleName", "deploy", "PolicyDocument", audOnly))
		wantErr(t, err, awserr.CodeMalformedPolicy, 400, msg)
		if h.role("deploy").TrustPolicy != trustDoc {
			t.Error("refused trust policy replaced the old one")
		}
	})
	t.Run("existing role not re-validated", func(t *testing.T) {
		h := newHarness(t)
		// A role written before the guardrail existed, straight into the store.
		if err := h.store.CreateRole(t.Context(), store.Role{Name: "legacy", ID: "AROAEXAMPLELEGACY0001", Path: "/",
			TrustPolicy: audOnly, MaxSessionDuration: 3600}); err != nil {
			t.Fatal(err)
		}
		h.must("GetRole", "RoleName", "legacy")
		h.must("UpdateRole", "RoleName", "legacy", "Description", "still here")
		h.must("TagRole", "RoleName", "legacy", "Tags.member.1.Key", "k", "Tags.member.1.Value", "v")
		h.must("UpdateAssumeRolePolicy", "RoleName", "legacy", "PolicyDocument", trustDoc)
	})
}
