package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
)

// trustFor builds a web-identity trust policy for principal with the given
// Condition block (JSON object text, or "" for none).
func trustFor(principal, action, cond string) string {
	c := ""
	if cond != "" {
		c = `,"Condition":` + cond
	}
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":%q},"Action":%q%s}]}`, principal, action, c)
}

func providerPrincipal(p SharedProvider) string {
	if p.Issuer == "cognito-identity.amazonaws.com" {
		return p.Issuer // a built-in provider, named without an ARN
	}
	return "arn:aws:iam::123456789012:oidc-provider/" + p.Issuer
}

func sharedCheck(t *testing.T, doc string) error {
	t.Helper()
	p, err := Parse(doc, Trust)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p.CheckSharedProviders()
}

// Every provider of AWS's table (id_roles_providers_oidc_secure-by-default):
// no condition, or its tenant key scoped to "*", is refused with AWS's
// message; the key scoped to a tenant is accepted.
func TestSharedProvidersEveryListedProvider(t *testing.T) {
	for _, sp := range sharedProviders {
		principal := providerPrincipal(sp)
		wantMsg := "Trust policy with trusted principal " + principal +
			" must evaluate, using StringEquals, StringLike or StringEqualsIgnoreCase, " +
			strings.Join(sp.Keys, " or ") + " which is not scoped to all"
		audOnly := fmt.Sprintf(`{"StringEquals":{%q:"sts.amazonaws.com"}}`, sp.Issuer+":amr")
		for _, key := range sp.Keys {
			cases := []struct {
				name   string
				cond   string
				reject bool
			}{
				{"no condition", "", true},
				{"another claim only", audOnly, true},
				{"scoped to all", fmt.Sprintf(`{"StringLike":{%q:"*"}}`, key), true},
				{"scoped to all by stars", fmt.Sprintf(`{"StringLike":{%q:"**"}}`, key), true},
				{"scoped to all by question marks", fmt.Sprintf(`{"StringLike":{%q:"?*?"}}`, key), true},
				{"scoped to all by empty value", fmt.Sprintf(`{"StringEquals":{%q:""}}`, key), true},
				{"scoped to all first of two", fmt.Sprintf(`{"StringLike":{%q:["*","tenant-a"]}}`, key), true},
				{"tenant first of two", fmt.Sprintf(`{"StringLike":{%q:["tenant-a","*"]}}`, key), false},
				{"negated operator", fmt.Sprintf(`{"StringNotEquals":{%q:"tenant-a"}}`, key), true},
				{"IfExists", fmt.Sprintf(`{"StringEqualsIfExists":{%q:"tenant-a"}}`, key), true},
				{"StringEquals tenant", fmt.Sprintf(`{"StringEquals":{%q:"tenant-a"}}`, key), false},
				{"StringLike tenant", fmt.Sprintf(`{"StringLike":{%q:"tenant-a*"}}`, key), false},
				{"StringEqualsIgnoreCase tenant", fmt.Sprintf(`{"StringEqualsIgnoreCase":{%q:"Tenant-A"}}`, key), false},
			}
			for _, tc := range cases {
				t.Run(sp.Name+"/"+sp.Issuer+"/"+key+"/"+tc.name, func(t *testing.T) {
					err := sharedCheck(t, trustFor(principal, "sts:AssumeRoleWithWebIdentity", tc.cond))
					if !tc.reject {
						if err != nil {
							t.Fatalf("rejected: %v", err)
						}
						return
					}
					var ae *awserr.Error
					if !errors.As(err, &ae) {
						t.Fatalf("accepted, want MalformedPolicyDocument")
					}
					if ae.Code != awserr.CodeMalformedPolicy || ae.Status != 400 || ae.Message != wantMsg {
						t.Fatalf("got %s %d %q\nwant MalformedPolicyDocument 400 %q", ae.Code, ae.Status, ae.Message, wantMsg)
					}
				})
			}
		}
	}
}

// The edges AWS shows for GitHub (published CreateRole transcripts; the
// issue and docs/security.md cite them): which operators count, that only the
// first value of a list is examined, and which statements are checked.
func TestSharedProvidersGitHubEdges(t *testing.T) {
	const gh = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
	const sub = "token.actions.githubusercontent.com:sub"
	tests := []struct {
		name   string
		doc    string
		reject bool
	}{
		{"repo star accepted", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringLike":{"`+sub+`":"repo:*"}}`), false},
		{"repo star slash star accepted", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringLike":{"`+sub+`":"repo:*/*"}}`), false},
		{"star rejected", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringLike":{"`+sub+`":"*"}}`), true},
		{"star list rejected", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringLike":{"`+sub+`":["*"]}}`), true},
		{"star second accepted", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringLike":{"`+sub+`":["repo:acme/x","*"]}}`), false},
		{"star first rejected", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringLike":{"`+sub+`":["*","repo:acme/x"]}}`), true},
		{"two scoped values accepted", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringLike":{"`+sub+`":["repo:octo-org/octo-repo:ref:refs/heads/main","repo:octo-org/*"]}}`), false},
		{"repository instead of sub rejected", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringEquals":{"token.actions.githubusercontent.com:repository":"acme/x"}}`), true},
		{"job_workflow_ref accepted", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringLike":{"token.actions.githubusercontent.com:job_workflow_ref":"acme/x/.github/workflows/*@refs/heads/main"}}`), false},
		{"key case-insensitive", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringEquals":{"Token.Actions.GitHubUserContent.com:SUB":"repo:acme/x:ref:refs/heads/main"}}`), false},
		{"negated operator rejected", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringNotEquals":{"`+sub+`":"repo:evil/x:ref:refs/heads/main"}}`), true},
		{"IfExists rejected", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringLikeIfExists":{"`+sub+`":"repo:acme/*"}}`), true},
		{"set qualifier rejected", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"ForAnyValue:StringLike":{"`+sub+`":"repo:acme/*"}}`), true},
		{"star block beside scoped block accepted", trustFor(gh, "sts:AssumeRoleWithWebIdentity", `{"StringLike":{"`+sub+`":"*"},"StringEquals":{"`+sub+`":"repo:acme/x:ref:refs/heads/main"}}`), false},
		{"action wildcard checked", trustFor(gh, "sts:AssumeRoleWith*", ""), true},
		{"other action not checked", trustFor(gh, "sts:TagSession", ""), false},
		{"private provider not checked", trustFor("arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/0b3a1f5e-1111-4222-8333-444455556666", "sts:AssumeRoleWithWebIdentity", ""), false},
		{"path below a shared issuer not checked", trustFor("arn:aws:iam::123456789012:oidc-provider/gitlab.com/group", "sts:AssumeRoleWithWebIdentity", ""), false},
		{"deny statement not checked", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"Federated":"` + gh + `"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`, false},
		{"second statement checked", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},{"Effect":"Allow","Principal":{"Federated":["accounts.google.com","` + gh + `"]},"Action":"sts:AssumeRoleWithWebIdentity"}]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sharedCheck(t, tt.doc)
			if got := err != nil; got != tt.reject {
				t.Fatalf("rejected=%v (%v), want %v", got, err, tt.reject)
			}
		})
	}
}

func TestSharedProvidersOnlyTrustPolicies(t *testing.T) {
	p, err := Parse(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`, Identity)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckSharedProviders(); err != nil {
		t.Fatalf("identity policy: %v", err)
	}
}

// Issuers AWS's table does not list are not checked, as on AWS: Bitbucket
// Pipelines and CircleCI give every tenant its own issuer URL (a private IdP
// in AWS's terms), and no source lists them, nor CircleCI's root issuer, as
// shared (see SharedProviders). keyless audit still judges what such a
// policy admits.
func TestSharedProvidersPrivateIssuersNotChecked(t *testing.T) {
	for _, issuer := range []string{
		"oidc.circleci.com/org/0b3a1f5e-1111-4222-8333-444455556666",
		"oidc.circleci.com",
		"api.bitbucket.org/2.0/workspaces/acme/pipelines-config/identity/oidc",
		"gitlab.example.com",
		"token.actions.githubusercontent.com.evil.example",
	} {
		t.Run(issuer, func(t *testing.T) {
			if _, ok := sharedProvider("arn:aws:iam::123456789012:oidc-provider/" + issuer); ok {
				t.Fatal("treated as a shared provider")
			}
			if err := sharedCheck(t, trustFor("arn:aws:iam::123456789012:oidc-provider/"+issuer, "sts:AssumeRoleWithWebIdentity", "")); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

// The table is data: one entry per issuer, every key prefixed by its issuer
// (or a global key such as sts:RoleSessionName), no duplicates.
func TestSharedProvidersTableWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, sp := range sharedProviders {
		t.Run(sp.Issuer, func(t *testing.T) {
			if sp.Name == "" || sp.Issuer == "" || len(sp.Keys) == 0 {
				t.Fatalf("incomplete entry %+v", sp)
			}
			if seen[strings.ToLower(sp.Issuer)] {
				t.Fatal("duplicate issuer")
			}
			seen[strings.ToLower(sp.Issuer)] = true
			if strings.HasPrefix(sp.Issuer, "https://") || strings.HasSuffix(sp.Issuer, "/") {
				t.Fatalf("issuer %q is not in provider-ARN form", sp.Issuer)
			}
			for _, k := range sp.Keys {
				if !strings.HasPrefix(k, sp.Issuer+":") && !strings.HasPrefix(k, "sts:") {
					t.Errorf("key %q belongs to neither the issuer nor sts", k)
				}
			}
		})
	}
	if len(sharedProviders) != 22 {
		t.Errorf("%d entries, want AWS's 22 issuer URLs (17 providers, IBM Turbonomic with six)", len(sharedProviders))
	}
}
