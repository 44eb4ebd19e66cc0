package server_test

// Round 2 identity through the real server with aws-sdk-go-v2: roles bound
// by unique id, and session tags in aws:PrincipalTag through role chaining.

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/keylessci/keyless/internal/ciclaims"
)

func (f *fixture) deleteRole(t *testing.T, name string, inline ...string) {
	t.Helper()
	ctx := context.Background()
	for _, p := range inline {
		if _, err := f.iam.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(p)}); err != nil {
			t.Fatalf("DeleteRolePolicy %s: %v", p, err)
		}
	}
	if _, err := f.iam.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(name)}); err != nil {
		t.Fatalf("DeleteRole %s: %v", name, err)
	}
}

func (f *fixture) trustOf(t *testing.T, role string) string {
	t.Helper()
	out, err := f.iam.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(role)})
	if err != nil {
		t.Fatalf("GetRole %s: %v", role, err)
	}
	doc, err := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestAuthzRoleUniqueID: sessions and trust policies are bound to a role's
// unique id (AROA…), not its name. A session of a deleted role stops
// working and does not gain the permissions of a role re-created under the
// same name; a trust policy naming role/x stores x's id, shows x's ARN while
// x exists and the stale id once it is deleted, and does not trust a
// re-created x (reference_policies_elements_principal, "IAM roles").
func TestAuthzRoleUniqueID(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	trust := fmt.Sprintf(seedTrust, f.providerARN, f.providerURL, f.org, f.project)
	f.putRolePolicy(t, "circleci-deploy", "read", allow("iam:ListRoles", "sts:AssumeRole"))
	orig, err := f.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("circleci-deploy")})
	if err != nil {
		t.Fatal(err)
	}
	origID := aws.ToString(orig.Role.RoleId)
	deployerTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["` + f.roleARN + `"]},"Action":"sts:AssumeRole"}]}`
	if _, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deployer"), AssumeRolePolicyDocument: aws.String(deployerTrust)}); err != nil {
		t.Fatal(err)
	}
	chain := func(s session) error {
		_, err := s.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/deployer"), RoleSessionName: aws.String("chained")})
		return err
	}
	old := f.webSession(t, "", ciclaims.Params{}, nil)
	if _, err := old.iam.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
		t.Fatalf("session of the original role: %v", err)
	}
	if err := chain(old); err != nil {
		t.Fatalf("chaining from the original role: %v", err)
	}
	t.Run("trust policy shows the ARN while the role exists", func(t *testing.T) {
		if got := f.trustOf(t, "deployer"); got != deployerTrust {
			t.Errorf("trust policy %s, want %s", got, deployerTrust)
		}
	})

	f.deleteRole(t, "circleci-deploy", "read")
	t.Run("a session of a deleted role stops working", func(t *testing.T) {
		_, err := old.iam.ListRoles(ctx, &iam.ListRolesInput{})
		wantCode(t, err, "AccessDenied")
		wantCode(t, chain(old), "AccessDenied")
	})
	t.Run("trust policy shows the stale unique id", func(t *testing.T) {
		got := f.trustOf(t, "deployer")
		if want := strings.Replace(deployerTrust, f.roleARN, origID, 1); got != want {
			t.Errorf("trust policy %s, want %s", got, want)
		}
	})

	if _, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("circleci-deploy"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	f.putRolePolicy(t, "circleci-deploy", "read", allow("iam:ListRoles", "sts:AssumeRole"))
	t.Run("a re-created role is another principal", func(t *testing.T) {
		_, err := old.iam.ListRoles(ctx, &iam.ListRolesInput{})
		wantCode(t, err, "AccessDenied")
		fresh := f.webSession(t, "", ciclaims.Params{}, nil)
		if _, err := fresh.iam.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
			t.Fatalf("session of the re-created role: %v", err)
		}
		wantCode(t, chain(fresh), "AccessDenied")
		if got := f.trustOf(t, "deployer"); !strings.Contains(got, origID) {
			t.Errorf("trust policy %s lost the stale id %s", got, origID)
		}
		// Saving the policy again binds the new role.
		if _, err := f.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("deployer"), PolicyDocument: aws.String(deployerTrust)}); err != nil {
			t.Fatal(err)
		}
		if err := chain(fresh); err != nil {
			t.Fatalf("chaining after re-saving the trust policy: %v", err)
		}
	})
	t.Run("naming a role that does not exist is refused", func(t *testing.T) {
		_, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("dangling"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/nobody"},"Action":"sts:AssumeRole"}]}`)})
		wantCode(t, err, "MalformedPolicyDocument")
	})
}

// TestAuthzSessionTags: session tags (the token's
// https://aws.amazon.com/tags claim, AssumeRole Tags) are aws:PrincipalTag/*
// of every call made with the session; transitive ones pass on through role
// chaining and cannot be overridden there (id_session-tags).
func TestAuthzSessionTags(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	abac := func(key, value string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*",
		  "Condition":{"StringEquals":{"aws:PrincipalTag/` + key + `":"` + value + `"}}},
		  {"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":"*"}]}`
	}
	f.putRolePolicy(t, "circleci-deploy", "abac", abac("project", "blue"))
	tagClaim := `{"principal_tags":{"project":["blue"],"env":["prod"]},"transitive_tag_keys":["project"]}`
	tagged := f.webSession(t, "", ciclaims.Params{Extra: map[string]string{"https://aws.amazon.com/tags": tagClaim}}, nil)
	untagged := f.webSession(t, "", ciclaims.Params{}, nil)
	t.Run("token tags reach aws:PrincipalTag", func(t *testing.T) {
		if _, err := tagged.iam.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
			t.Fatalf("tagged session: %v", err)
		}
		_, err := untagged.iam.ListRoles(ctx, &iam.ListRolesInput{})
		wantCode(t, err, "AccessDenied")
	})

	chainTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + f.roleARN + `"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	if _, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("hop1"), AssumeRolePolicyDocument: aws.String(chainTrust)}); err != nil {
		t.Fatal(err)
	}
	hop1ARN := "arn:aws:iam::123456789012:role/hop1"
	hop2Trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + hop1ARN + `"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	if _, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("hop2"), AssumeRolePolicyDocument: aws.String(hop2Trust)}); err != nil {
		t.Fatal(err)
	}
	f.putRolePolicy(t, "hop1", "abac", abac("project", "blue"))
	f.putRolePolicy(t, "hop2", "abac", abac("project", "blue"))
	assume := func(s session, role string, tags map[string]string, transitive ...string) (session, error) {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("hop"), TransitiveTagKeys: transitive}
		for k, v := range tags {
			in.Tags = append(in.Tags, ststypes.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		out, err := s.sts.AssumeRole(ctx, in)
		if err != nil {
			return session{}, err
		}
		return f.sessionFrom(out.Credentials), nil
	}
	t.Run("transitive tags pass through two hops", func(t *testing.T) {
		h1, err := assume(tagged, hop1ARN, map[string]string{"stage": "one"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h1.iam.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
			t.Fatalf("hop 1 lost the transitive tag: %v", err)
		}
		h2, err := assume(h1, "arn:aws:iam::123456789012:role/hop2", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h2.iam.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
			t.Fatalf("hop 2 lost the transitive tag: %v", err)
		}
	})
	t.Run("non-transitive tags stop at the first session", func(t *testing.T) {
		f.putRolePolicy(t, "hop1", "abac", abac("env", "prod"))
		defer f.putRolePolicy(t, "hop1", "abac", abac("project", "blue"))
		h1, err := assume(tagged, hop1ARN, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = h1.iam.ListRoles(ctx, &iam.ListRolesInput{})
		wantCode(t, err, "AccessDenied")
	})
	t.Run("AssumeRole tags reach aws:PrincipalTag", func(t *testing.T) {
		f.putRolePolicy(t, "hop1", "abac", abac("stage", "one"))
		defer f.putRolePolicy(t, "hop1", "abac", abac("project", "blue"))
		h1, err := assume(untagged, hop1ARN, map[string]string{"stage": "one"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h1.iam.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
			t.Fatalf("AssumeRole tag: %v", err)
		}
	})
	t.Run("an inherited transitive tag cannot be overridden", func(t *testing.T) {
		_, err := assume(tagged, hop1ARN, map[string]string{"Project": "red"})
		wantCode(t, err, "InvalidParameterValue")
	})
	t.Run("transitive key must be among the tags", func(t *testing.T) {
		_, err := assume(untagged, hop1ARN, map[string]string{"a": "1"}, "b")
		wantCode(t, err, "InvalidParameterValue")
	})
	t.Run("tag key outside the allowed characters", func(t *testing.T) {
		_, err := assume(untagged, hop1ARN, map[string]string{"bad*key": "1"})
		wantCode(t, err, "ValidationError")
		_, err = f.assume(ctx, f.mint(t, ciclaims.Params{Extra: map[string]string{
			"https://aws.amazon.com/tags": `{"principal_tags":{"bad*key":["1"]}}`}}), nil)
		wantCode(t, err, "IDPRejectedClaim")
	})
	t.Run("more than 50 tags", func(t *testing.T) {
		many := map[string]string{}
		for i := range 51 {
			many[fmt.Sprintf("k%d", i)] = "v"
		}
		_, err := assume(untagged, hop1ARN, many)
		wantCode(t, err, "ValidationError")
	})
	t.Run("inherited tags count toward the limit of 50", func(t *testing.T) {
		many := map[string]string{}
		for i := range 50 {
			many[fmt.Sprintf("k%d", i)] = "v"
		}
		_, err := assume(tagged, hop1ARN, many)
		wantCode(t, err, "ValidationError")
	})
}
