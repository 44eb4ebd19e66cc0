package server_test

// End-to-end SigV4 and authorization attacks: credentials sealed by another
// server, stale and future dates, tampered signatures, bodies and scopes,
// replay, unsigned IAM and admin calls, and issued credentials used beyond
// what their role's policy allows on the admin API.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/testkit"
)

var rootCreds = aws.Credentials{AccessKeyID: servertest.RootAccessKeyID, SecretAccessKey: servertest.RootSecretKey}

// signedRequest builds a request to endpoint+path signed with cr for
// service at the given time. Content type: form for POST /, JSON otherwise.
func signedRequest(t *testing.T, method, endpoint, path, body string, cr aws.Credentials, service string, at time.Time) *http.Request {
	t.Helper()
	return testkit.SignedRequest(t, method, endpoint+path, body, cr, service, "us-east-1", at)
}

// sessionCreds exchanges a hosted CircleCI token of f's allowed project.
func (f *fixture) sessionCreds(t *testing.T) aws.Credentials {
	t.Helper()
	out, err := f.assume(context.Background(), f.mint(t, ciclaims.Params{}), nil)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	c := out.Credentials
	return aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken)}
}

func TestHardeningSessionTokenOfAnotherServer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sess := f.sessionCreds(t)
	otherSecret := servertest.Start(t, func(c *server.Config) { c.RootSecretKey = "anotherRootSecretKeyAnotherRootSecretKey" })
	sameSecret := servertest.Start(t) // same root secret, own store, so own session keys
	tests := []struct {
		name     string
		endpoint string
		cr       aws.Credentials
		code     string
	}{
		{"session of A on a server with another root secret", otherSecret.URL, sess, "InvalidClientTokenId"},
		{"session of A on a server with the same root secret but its own store", sameSecret.URL, sess, "InvalidClientTokenId"},
		{"root credentials of A where the root secret differs", otherSecret.URL, rootCreds, "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := stsClient(tt.endpoint, tt.cr.AccessKeyID, tt.cr.SecretAccessKey, tt.cr.SessionToken).
				GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			wantCode(t, err, tt.code)
		})
	}
	t.Run("the session still works where it was issued", func(t *testing.T) {
		if _, err := stsClient(f.srv.URL, sess.AccessKeyID, sess.SecretAccessKey, sess.SessionToken).
			GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestHardeningSigV4Tampering(t *testing.T) {
	srv := servertest.Start(t)
	const body = "Action=GetCallerIdentity&Version=2011-06-15"
	now := time.Now()
	flipSig := func(r *http.Request) {
		a := r.Header.Get("Authorization")
		last := a[len(a)-1]
		flipped := byte('0')
		if last == '0' {
			flipped = '1'
		}
		r.Header.Set("Authorization", a[:len(a)-1]+string(flipped))
	}
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
		msg    string
	}{
		{name: "baseline", status: 200, req: func() *http.Request {
			return signedRequest(t, "POST", srv.URL, "/", body, rootCreds, "sts", now)
		}},
		{name: "signed 16 minutes ago", status: 403, code: "SignatureDoesNotMatch", msg: "Signature expired", req: func() *http.Request {
			return signedRequest(t, "POST", srv.URL, "/", body, rootCreds, "sts", now.Add(-16*time.Minute))
		}},
		{name: "signed 16 minutes ahead", status: 403, code: "SignatureDoesNotMatch", msg: "Signature not yet current", req: func() *http.Request {
			return signedRequest(t, "POST", srv.URL, "/", body, rootCreds, "sts", now.Add(16*time.Minute))
		}},
		{name: "signature byte flipped", status: 403, code: "SignatureDoesNotMatch", req: func() *http.Request {
			r := signedRequest(t, "POST", srv.URL, "/", body, rootCreds, "sts", now)
			flipSig(r)
			return r
		}},
		{name: "body changed after signing", status: 403, code: "SignatureDoesNotMatch", req: func() *http.Request {
			r := signedRequest(t, "POST", srv.URL, "/", body, rootCreds, "sts", now)
			tampered := "Action=ListRoles&Version=2010-05-08"
			r2, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader(tampered))
			r2.Header = r.Header.Clone()
			return r2
		}},
		{name: "signed header value changed", status: 403, code: "SignatureDoesNotMatch", req: func() *http.Request {
			r := signedRequest(t, "POST", srv.URL, "/", body, rootCreds, "sts", now)
			r.Header.Set("X-Amz-Date", now.Add(time.Second).UTC().Format("20060102T150405Z"))
			return r
		}},
		{name: "scope date differs from X-Amz-Date", status: 403, code: "SignatureDoesNotMatch", msg: "Date in Credential scope does not match", req: func() *http.Request {
			r := signedRequest(t, "POST", srv.URL, "/", body, rootCreds, "sts", now)
			day := now.UTC().Format("20060102")
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/"+day+"/", "/20200101/", 1))
			return r
		}},
		{name: "scoped to another service", status: 403, code: "SignatureDoesNotMatch", msg: "correct service", req: func() *http.Request {
			return signedRequest(t, "POST", srv.URL, "/", body, rootCreds, "s3", now)
		}},
		{name: "unsigned IAM call", status: 403, code: "MissingAuthenticationToken", req: func() *http.Request {
			r, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader("Action=ListRoles&Version=2010-05-08"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}},
		{name: "unsigned GetCallerIdentity", status: 403, code: "MissingAuthenticationToken", req: func() *http.Request {
			r, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, resp := do(t, tt.req())
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, resp)
			}
			if tt.code != "" && !strings.Contains(resp, "<Code>"+tt.code+"</Code>") {
				t.Errorf("body lacks code %s: %s", tt.code, resp)
			}
			if tt.msg != "" && !strings.Contains(resp, tt.msg) {
				t.Errorf("body lacks %q: %s", tt.msg, resp)
			}
		})
	}
	// SigV4 carries no nonce: like AWS, a request captured in transit can
	// be replayed within the 15-minute skew window (docs/security.md). TLS
	// is the defence; this pins the behaviour so a change is deliberate.
	t.Run("replay within the skew window is accepted", func(t *testing.T) {
		r := signedRequest(t, "POST", srv.URL, "/", body, rootCreds, "sts", now.Add(-5*time.Minute))
		for i := range 2 {
			r2, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader(body))
			r2.Header = r.Header.Clone()
			if status, resp := do(t, r2); status != 200 {
				t.Fatalf("send %d: status %d: %s", i+1, status, resp)
			}
		}
	})
}

// adminCall sends a signed (cr non-nil) or unsigned admin API request and
// decodes the JSON answer.
func adminCall(t *testing.T, endpoint, method, path, body string, cr *aws.Credentials) (int, map[string]any) {
	t.Helper()
	var req *http.Request
	if cr != nil {
		req = signedRequest(t, method, endpoint, path, body, *cr, "keyless", time.Now())
	} else {
		req, _ = http.NewRequest(method, endpoint+path, strings.NewReader(body))
	}
	status, resp := do(t, req)
	var out map[string]any
	if err := json.Unmarshal([]byte(resp), &out); err != nil {
		t.Fatalf("%s %s: answer is not JSON (status %d): %q", method, path, status, resp)
	}
	return status, out
}

// TestHardeningAdminAuthorization drives the admin API with no signature,
// a bad one, root, and the issued credentials of a role before and after it
// is granted keyless:MintToken on one issuer (the per-issuer runner
// credential): it may then mint for that issuer and do nothing else.
func TestHardeningAdminAuthorization(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const otherOrg = "77777777-0000-4000-8000-000000000077"
	if _, err := f.srv.Issuers().Create(ctx, issuer.CreateRequest{Profile: "circleci", OrgID: otherOrg}); err != nil {
		t.Fatal(err)
	}
	sess := f.sessionCreds(t)
	badRoot := aws.Credentials{AccessKeyID: servertest.RootAccessKeyID, SecretAccessKey: "wrongwrongwrongwrongwrongwrongwrongwrong"}
	mintBody := `{"project_id":"` + f.project + `"}`
	mintPath := func(id string) string { return "/_keyless/issuers/" + id + "/token" }

	type call struct {
		name, method, path, body string
		cr                       *aws.Credentials
		status                   int
		code                     string
	}
	check := func(t *testing.T, tests []call) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, out := adminCall(t, f.srv.URL, tt.method, tt.path, tt.body, tt.cr)
				if status != tt.status {
					t.Fatalf("status %d, want %d: %v", status, tt.status, out)
				}
				if tt.code != "" && out["code"] != tt.code {
					t.Errorf("code %v, want %s (%v)", out["code"], tt.code, out["message"])
				}
				if tt.status == 200 && strings.HasSuffix(tt.path, "/token") && out["token"] == nil {
					t.Errorf("no token in %v", out)
				}
			})
		}
	}
	t.Run("before any grant", func(t *testing.T) {
		check(t, []call{
			{name: "unsigned list", method: "GET", path: "/_keyless/issuers", status: 403, code: "MissingAuthenticationToken"},
			{name: "unsigned mint", method: "POST", path: mintPath(f.org), body: mintBody, status: 403, code: "MissingAuthenticationToken"},
			{name: "unsigned create", method: "POST", path: "/_keyless/issuers", body: `{"profile":"circleci","org_id":"x"}`, status: 403, code: "MissingAuthenticationToken"},
			{name: "wrong root secret", method: "GET", path: "/_keyless/issuers", cr: &badRoot, status: 403, code: "SignatureDoesNotMatch"},
			{name: "session without permission lists", method: "GET", path: "/_keyless/issuers", cr: &sess, status: 403, code: "AccessDenied"},
			{name: "session without permission mints", method: "POST", path: mintPath(f.org), body: mintBody, cr: &sess, status: 403, code: "AccessDenied"},
			{name: "root lists", method: "GET", path: "/_keyless/issuers", cr: &rootCreds, status: 200},
		})
	})

	grant := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"keyless:MintToken",
		"Resource":"arn:aws:keyless::` + servertest.Account + `:issuer/` + f.org + `"}]}`
	if _, err := f.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("circleci-deploy"),
		PolicyName: aws.String("runner"), PolicyDocument: aws.String(grant)}); err != nil {
		t.Fatal(err)
	}
	t.Run("with keyless:MintToken on one issuer", func(t *testing.T) {
		check(t, []call{
			{name: "mints for its issuer", method: "POST", path: mintPath(f.org), body: mintBody, cr: &sess, status: 200},
			{name: "not for another issuer", method: "POST", path: mintPath(otherOrg), body: mintBody, cr: &sess, status: 403, code: "AccessDenied"},
			{name: "not rotate its issuer", method: "POST", path: "/_keyless/issuers/" + f.org + "/rotate", cr: &sess, status: 403, code: "AccessDenied"},
			{name: "not delete its issuer", method: "DELETE", path: "/_keyless/issuers/" + f.org, cr: &sess, status: 403, code: "AccessDenied"},
			{name: "not create issuers", method: "POST", path: "/_keyless/issuers", body: `{"profile":"circleci","org_id":"x"}`, cr: &sess, status: 403, code: "AccessDenied"},
			{name: "not list issuers", method: "GET", path: "/_keyless/issuers", cr: &sess, status: 403, code: "AccessDenied"},
		})
	})
	t.Run("the runner's token is a working CI token", func(t *testing.T) {
		status, out := adminCall(t, f.srv.URL, "POST", mintPath(f.org), mintBody, &sess)
		if status != 200 {
			t.Fatalf("mint: %d %v", status, out)
		}
		tok, _ := out["token"].(string)
		if _, err := f.assume(ctx, tok, nil); err != nil {
			t.Fatalf("exchange of the runner-minted token: %v", err)
		}
	})
}
