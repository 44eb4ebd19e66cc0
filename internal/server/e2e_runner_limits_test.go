package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
)

type runnerCreds struct {
	cr         aws.Credentials
	expiration time.Time
}

// newRunner asks for runner credentials of issuer as cr; it fails the test
// unless the answer is 200.
func newRunner(t *testing.T, f *fixture, issuerID, body string, cr *aws.Credentials) runnerCreds {
	t.Helper()
	status, resp := adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers/"+issuerID+"/runner-credentials", body, cr)
	if status != 200 {
		t.Fatalf("runner-credentials: %d %v", status, resp)
	}
	var rc struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string }
	raw, _ := json.Marshal(resp)
	if err := json.Unmarshal(raw, &rc); err != nil {
		t.Fatal(err)
	}
	exp, err := time.Parse(time.RFC3339, rc.Expiration)
	if err != nil {
		t.Fatal(err)
	}
	return runnerCreds{cr: aws.Credentials{AccessKeyID: rc.AccessKeyId, SecretAccessKey: rc.SecretAccessKey, SessionToken: rc.SessionToken}, expiration: exp}
}

// mintWith mints a token of the fixture's issuer with runner credentials
// and returns the status and error code ("" on success).
func (f *fixture) mintWith(t *testing.T, r runnerCreds) (int, string) {
	t.Helper()
	status, body := adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers/"+f.org+"/token", `{"project_id":"`+f.project+`"}`, &r.cr)
	code, _ := body["code"].(string)
	return status, code
}

// TestAuthzRunnerCredentialLimits: runner credentials last at most the
// configured maximum and never beyond their creator's session, die with the
// role that created them, and can be revoked one by one or all of one
// issuer.
func TestAuthzRunnerCredentialLimits(t *testing.T) {
	f := newFixture(t, func(c *server.Config) { c.RunnerMaxTTL = 2 * time.Hour })
	ctx := context.Background()
	root := &aws.Credentials{AccessKeyID: servertest.RootAccessKeyID, SecretAccessKey: servertest.RootSecretKey}
	issuerARN := "arn:aws:keyless::123456789012:issuer/" + f.org
	f.putRolePolicy(t, "circleci-deploy", "runners", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
	  "Action":["keyless:CreateRunnerCredentials","keyless:RevokeRunnerCredentials"],"Resource":"`+issuerARN+`"}]}`)

	t.Run("capped at the configured maximum", func(t *testing.T) {
		status, body := adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers/"+f.org+"/runner-credentials", `{"ttl":"3h"}`, root)
		if status != 400 || body["code"] != "InvalidInput" {
			t.Errorf("ttl above the maximum: %d %v", status, body)
		}
		r := newRunner(t, f, f.org, "", root)
		if d := time.Until(r.expiration); d > 2*time.Hour+time.Minute || d < 2*time.Hour-time.Minute {
			t.Errorf("default lifetime %v, want the 2h maximum", d)
		}
	})

	sess := f.webSession(t, "", ciclaims.Params{}, func(in *sts.AssumeRoleWithWebIdentityInput) { in.DurationSeconds = aws.Int32(900) })
	sessCreds := &aws.Credentials{AccessKeyID: aws.ToString(sess.creds.AccessKeyId), SecretAccessKey: aws.ToString(sess.creds.SecretAccessKey),
		SessionToken: aws.ToString(sess.creds.SessionToken)}
	byRole := newRunner(t, f, f.org, `{"ttl":"1h"}`, sessCreds)
	t.Run("never beyond the creator's session", func(t *testing.T) {
		if sessExp := aws.ToTime(sess.creds.Expiration); byRole.expiration.After(sessExp) {
			t.Errorf("runner credentials expire %s, after their creator's session (%s)", byRole.expiration, sessExp)
		}
		if status, code := f.mintWith(t, byRole); status != 200 {
			t.Fatalf("mint with role-created runner credentials: %d %s", status, code)
		}
	})

	t.Run("revoked one by one", func(t *testing.T) {
		a, b := newRunner(t, f, f.org, "", root), newRunner(t, f, f.org, "", root)
		status, body := adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers/"+f.org+"/runner-credentials/revoke",
			`{"access_key_id":"`+a.cr.AccessKeyID+`"}`, sessCreds)
		if status != 200 {
			t.Fatalf("revoke: %d %v", status, body)
		}
		if status, code := f.mintWith(t, a); status != 403 || code != "InvalidClientTokenId" {
			t.Errorf("revoked credentials: %d %s", status, code)
		}
		if status, code := f.mintWith(t, b); status != 200 {
			t.Errorf("other credentials: %d %s", status, code)
		}
	})
	t.Run("revocation needs its own permission", func(t *testing.T) {
		r := newRunner(t, f, f.org, "", root)
		status, body := adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers/"+f.org+"/runner-credentials/revoke", `{"all":true}`, &r.cr)
		if status != 403 || body["code"] != "AccessDenied" {
			t.Errorf("a runner revoking: %d %v", status, body)
		}
		status, body = adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers/"+f.org+"/runner-credentials/revoke", `{"access_key_id":"nope"}`, root)
		if status != 400 || body["code"] != "InvalidInput" {
			t.Errorf("bad access key id: %d %v", status, body)
		}
	})
	t.Run("dead when the creating role is deleted", func(t *testing.T) {
		fresh := f.webSession(t, "", ciclaims.Params{}, nil)
		r := newRunner(t, f, f.org, "", &aws.Credentials{AccessKeyID: aws.ToString(fresh.creds.AccessKeyId),
			SecretAccessKey: aws.ToString(fresh.creds.SecretAccessKey), SessionToken: aws.ToString(fresh.creds.SessionToken)})
		if status, code := f.mintWith(t, r); status != 200 {
			t.Fatalf("before deleting the role: %d %s", status, code)
		}
		f.deleteRole(t, "circleci-deploy", "runners")
		if status, code := f.mintWith(t, r); status != 403 || code != "AccessDenied" {
			t.Errorf("after deleting the creating role: %d %s", status, code)
		}
	})
	t.Run("all of one issuer", func(t *testing.T) {
		if _, err := f.srv.Issuers().Create(ctx, issuerCreate("other-org")); err != nil {
			t.Fatal(err)
		}
		mine, other := newRunner(t, f, f.org, "", root), newRunner(t, f, "other-org", "", root)
		status, body := adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers/"+f.org+"/runner-credentials/revoke", `{"all":true}`, root)
		if status != 200 {
			t.Fatalf("revoke all: %d %v", status, body)
		}
		if status, code := f.mintWith(t, mine); status != 403 || code != "InvalidClientTokenId" {
			t.Errorf("revoked issuer's credentials: %d %s", status, code)
		}
		status, body = adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers/other-org/token", `{"project_id":"p"}`, &other.cr)
		if status != 200 {
			t.Errorf("another issuer's credentials: %d %v", status, body)
		}
		f.clock.SetOffset(2 * time.Second) // credentials are minted to the second
		defer f.clock.SetOffset(0)
		if status, code := f.mintWith(t, newRunner(t, f, f.org, "", root)); status != 200 {
			t.Errorf("credentials issued after the revocation: %d %s", status, code)
		}
	})
	t.Run("cannot assume roles", func(t *testing.T) {
		// Like GetFederationToken's credentials, which "cannot call any STS
		// operations except GetCallerIdentity": not even through a trust
		// policy naming their federated-user ARN.
		r := newRunner(t, f, "other-org", "", root) // f.org's were all revoked above
		c := stsClient(f.srv.URL, r.cr.AccessKeyID, r.cr.SecretAccessKey, r.cr.SessionToken)
		id, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("GetCallerIdentity: %v", err)
		}
		if _, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("runner-target"),
			AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
			  "Principal":{"AWS":"` + aws.ToString(id.Arn) + `"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`)}); err != nil {
			t.Fatal(err)
		}
		_, err = c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/runner-target"),
			RoleSessionName: aws.String("escape")})
		if code := apiCode(err); code != "AccessDenied" {
			t.Errorf("runner credentials assuming a role: %v, want AccessDenied", err)
		}
	})
	t.Run("dead with their issuer, even when one of the same id replaces it", func(t *testing.T) {
		// An issuer is known by its id only: credentials of a deleted issuer
		// must not mint for a new issuer created under the same id.
		if _, err := f.srv.Issuers().Create(ctx, issuerCreate("reborn-org")); err != nil {
			t.Fatal(err)
		}
		old := newRunner(t, f, "reborn-org", "", root)
		mint := func(r runnerCreds) (int, any) {
			status, body := adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers/reborn-org/token", `{"project_id":"p"}`, &r.cr)
			return status, body["code"]
		}
		if status, code := mint(old); status != 200 {
			t.Fatalf("before deleting the issuer: %d %v", status, code)
		}
		if err := f.srv.Issuers().Delete(ctx, "reborn-org"); err != nil {
			t.Fatal(err)
		}
		f.clock.SetOffset(4 * time.Second) // a new issuer, and new credentials, later on
		defer f.clock.SetOffset(0)
		if _, err := f.srv.Issuers().Create(ctx, issuerCreate("reborn-org")); err != nil {
			t.Fatal(err)
		}
		if status, code := mint(old); status != 403 || code != "InvalidClientTokenId" {
			t.Errorf("credentials of the deleted issuer minting for its namesake: %d %v", status, code)
		}
		if status, code := mint(newRunner(t, f, "reborn-org", "", root)); status != 200 {
			t.Errorf("credentials of the new issuer: %d %v", status, code)
		}
	})

}

// TestAuthzIssuerURLTakeover: a hosted issuer cannot claim the URL of a
// registered external provider (compared as IAM compares provider URLs:
// host case, default port, trailing slash), and keyless:CreateIssuer can be
// scoped by the URL it would claim (condition key keyless:IssuerUrl).
func TestAuthzIssuerURLTakeover(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	root := &aws.Credentials{AccessKeyID: servertest.RootAccessKeyID, SecretAccessKey: servertest.RootSecretKey}
	if _, err := f.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://ci.example.com/tenant"),
		ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{"0123456789abcdef0123456789abcdef01234567"}}); err != nil {
		t.Fatal(err)
	}
	f.putRolePolicy(t, "circleci-deploy", "issuers", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"keyless:CreateIssuer",
	  "Resource":"*","Condition":{"StringLike":{"keyless:IssuerUrl":["https://ci.example.com/*","https://mine.example.com/*"]}}}]}`)
	sess := f.webSession(t, "", ciclaims.Params{}, nil)
	sessCreds := &aws.Credentials{AccessKeyID: aws.ToString(sess.creds.AccessKeyId), SecretAccessKey: aws.ToString(sess.creds.SecretAccessKey),
		SessionToken: aws.ToString(sess.creds.SessionToken)}
	create := func(cr *aws.Credentials, id, url string) (int, string) {
		status, body := adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers", `{"profile":"generic","id":"`+id+`","url":"`+url+`"}`, cr)
		code, _ := body["code"].(string)
		return status, code
	}
	tests := []struct {
		name, id, url string
		cr            *aws.Credentials
		status        int
		code          string
	}{
		{"the provider's exact URL", "t1", "https://ci.example.com/tenant", sessCreds, 409, "EntityAlreadyExists"},
		{"host in another case", "t2", "https://CI.Example.COM/tenant", sessCreds, 409, "EntityAlreadyExists"},
		{"default port and trailing slash", "t3", "https://ci.example.com:443/tenant/", sessCreds, 409, "EntityAlreadyExists"},
		{"scheme in capitals", "t9", "HTTPS://ci.example.com/tenant", root, 409, "EntityAlreadyExists"},
		{"scheme in capitals, outside the grant", "t10", "HTTPS://other.example.com/a", sessCreds, 403, "AccessDenied"},
		{"root is refused too", "t4", "https://ci.example.com/tenant", root, 409, "EntityAlreadyExists"},
		{"a path in another case is another provider", "t5", "https://ci.example.com/Tenant", sessCreds, 201, ""},
		{"another port is another provider", "t6", "https://ci.example.com:8443/tenant", root, 201, ""},
		{"a URL the grant allows", "t7", "https://mine.example.com/a", sessCreds, 201, ""},
		{"a URL the grant does not allow", "t8", "https://other.example.com/a", sessCreds, 403, "AccessDenied"},
		{"a circleci org URL the grant does not allow", "", "", sessCreds, 403, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, code := create(tt.cr, tt.id, tt.url)
			if tt.url == "" {
				st, body := adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers", `{"profile":"circleci","org_id":"ffffffff-0000-4000-8000-000000000001"}`, tt.cr)
				status, code = st, fmt.Sprint(body["code"])
			}
			if status != tt.status || code != tt.code {
				t.Errorf("create %s: %d %s, want %d %s", tt.url, status, code, tt.status, tt.code)
			}
		})
	}
	t.Run("the real provider's tokens still verify", func(t *testing.T) {
		if _, err := f.srv.Issuers().Get(ctx, "t1"); err == nil {
			t.Error("the colliding issuer exists")
		}
	})
}
