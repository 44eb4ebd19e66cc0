package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/server/servertest"
)

var (
	docHeredoc = regexp.MustCompile(`(?s)cat > (\S+) <<EOF\n(.*?)\nEOF\n`)
	docToken   = regexp.MustCompile(`(?m)^(\w+)=\$\(keyless token ((?:[^)\\\n]|\\\n)*)\)$`)
)

// TestGitHubDocsTrustPolicies runs the trust policies and token commands of
// docs/github-actions.md, as written there, against one server: each policy
// admits the tokens the document says it admits and refuses the others —
// the name form, the repository-id form and GitHub's immutable-id subjects.
func TestGitHubDocsTrustPolicies(t *testing.T) {
	doc, err := os.ReadFile("../../docs/github-actions.md")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv := servertest.Start(t)
	if _, err := srv.Issuers().Create(ctx, issuer.CreateRequest{Profile: "github", ID: "gh"}); err != nil {
		t.Fatalf("create issuer: %v", err)
	}
	ic := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(servertest.RootAccessKeyID, servertest.RootSecretKey, "")})
	if _, err := ic.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://token.actions.githubusercontent.com"), ClientIDList: []string{"sts.amazonaws.com"}}); err != nil {
		t.Fatalf("create provider: %v", err)
	}

	getenv := func(k string) string {
		return map[string]string{"KEYLESS_ENDPOINT": srv.URL, "KEYLESS_ROOT_ACCESS_KEY_ID": servertest.RootAccessKeyID,
			"KEYLESS_ROOT_SECRET_ACCESS_KEY": servertest.RootSecretKey}[k]
	}
	tokens := map[string]string{}
	for _, m := range docToken.FindAllStringSubmatch(string(doc), -1) {
		args := append([]string{"token"}, strings.Fields(strings.ReplaceAll(m[2], "\\\n", " "))...)
		var stdout, stderr bytes.Buffer
		if code := Main(ctx, Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: getenv}, args); code != 0 {
			t.Fatalf("%s=$(keyless %s): exit %d: %s", m[1], strings.Join(args, " "), code, stderr.String())
		}
		tokens[m[1]] = strings.TrimSpace(stdout.String())
	}
	policies := map[string]string{}
	for _, m := range docHeredoc.FindAllStringSubmatch(string(doc), -1) {
		policies[m[1]] = strings.ReplaceAll(m[2], "$ACCOUNT", servertest.Account)
	}

	t.Run("immutable token claims agree with its subject", func(t *testing.T) {
		c := jwtClaims(t, tokens["ID_MAIN"])
		if c["sub"] != "repo:acme@123456/app@456789:ref:refs/heads/main" || c["repository_id"] != "456789" ||
			c["repository_owner_id"] != "123456" || c["repository"] != "acme/app" {
			t.Errorf("ID_MAIN claims: sub %v repository %v repository_id %v repository_owner_id %v",
				c["sub"], c["repository"], c["repository_id"], c["repository_owner_id"])
		}
	})

	stsc := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{}})
	tests := []struct {
		policy        string
		admit, refuse []string
	}{
		{"trust.json", []string{"MAIN", "PROD"}, []string{"PR", "FORK", "ID_MAIN"}},
		{"trust-ids.json", []string{"OK"}, []string{"MAIN", "FORK"}},
		{"trust-immutable.json", []string{"ID_MAIN"}, []string{"ID_OTHER", "RECYCLED", "MAIN"}},
	}
	for i, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			doc, ok := policies[tc.policy]
			if !ok {
				t.Fatalf("docs/github-actions.md has no %s", tc.policy)
			}
			role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("gha-doc-" + string(rune('a'+i))),
				AssumeRolePolicyDocument: aws.String(doc)})
			if err != nil {
				t.Fatalf("create role: %v", err)
			}
			for _, name := range append(append([]string(nil), tc.admit...), tc.refuse...) {
				tok, ok := tokens[name]
				if !ok {
					t.Fatalf("docs/github-actions.md mints no %s", name)
				}
				_, err := stsc.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
					RoleArn: role.Role.Arn, RoleSessionName: aws.String("gha"), WebIdentityToken: aws.String(tok)})
				wantAdmit := contains(tc.admit, name)
				var ae smithy.APIError
				switch {
				case wantAdmit && err != nil:
					t.Errorf("%s refused: %v", name, err)
				case !wantAdmit && !(errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied"):
					t.Errorf("%s: got %v, want AccessDenied", name, err)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// jwtClaims decodes a token's payload without verifying it (the server did).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
