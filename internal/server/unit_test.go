package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/issuer"
)

// TestEveryActionIsAuthorized walks every action the server registers —
// the query API's (IAM and STS action tables) and the admin API's routes
// (the issuer service's and the runner credentials') — and fails on one
// that does not say how it is authorized. A query action is authorized by
// policy (iam:<Name> on what its Prepare names, by awsquery.Action.Serve)
// unless it is one of the three AWS itself serves otherwise; an admin route
// names its keyless:<Operation>, and a caller without permissions is
// refused on every route before its handler runs.
func TestEveryActionIsAuthorized(t *testing.T) {
	u := newUnit(t)
	notByPolicy := map[string]awsquery.Access{
		"AssumeRoleWithWebIdentity": awsquery.Unsigned,  // the token is the proof
		"AssumeRole":                awsquery.Trust,     // the caller's policies with the role's trust policy, in sts
		"GetCallerIdentity":         awsquery.AnyCaller, // AWS never denies it
	}
	actions := 0
	for _, svc := range u.s.query.services {
		for name, act := range svc.actions {
			actions++
			t.Run(svc.name+"/"+name, func(t *testing.T) {
				if want, ok := notByPolicy[name]; ok {
					if act.Access != want || act.Handle == nil {
						t.Errorf("access %s (handler %t), want %s", act.Access, act.Handle != nil, want)
					}
					return
				}
				if act.Access != awsquery.Policy || act.Prepare == nil || act.Policy != svc.name+":"+name {
					t.Errorf("access %s, policy action %q, prepare %t: want policy %s:%s with a Prepare",
						act.Access, act.Policy, act.Prepare != nil, svc.name, name)
				}
			})
		}
	}
	if actions < 45 {
		t.Errorf("walked %d query actions; the tables lost some", actions)
	}
	nothing := u.role("nothing")
	for _, rt := range u.s.adminRoutes() {
		t.Run("admin/"+rt.Pattern, func(t *testing.T) {
			if !strings.HasPrefix(rt.Action, "keyless:") || len(rt.Action) == len("keyless:") || rt.Handler == nil {
				t.Fatalf("route declares action %q (handler %t)", rt.Action, rt.Handler != nil)
			}
			method, path, _ := strings.Cut(rt.Pattern, " ")
			path = strings.ReplaceAll(path, "{id}", "org")
			if status, code := u.admin(method, path, "", &nothing); status != http.StatusForbidden || code != awserr.CodeAccessDenied {
				t.Errorf("caller without permissions: %d %s, want 403 AccessDenied", status, code)
			}
			if status, code := u.admin(method, path, "", nil); status != http.StatusForbidden || code != awserr.CodeMissingAuth {
				t.Errorf("unsigned: %d %s, want 403 %s", status, code, awserr.CodeMissingAuth)
			}
		})
	}
}

// TestAdminRouting: each admin route is authorized as exactly its action on
// exactly its resource (a role allowed one route's pair passes on that
// route and is refused on every other), and what no route has is refused
// before anyone is asked, even root.
func TestAdminRouting(t *testing.T) {
	u := newUnit(t)
	routes := []struct {
		method, path, action, resource string
	}{
		{"POST", "/_keyless/issuers", "keyless:CreateIssuer", arn.Issuer(unitAccount, "*")},
		{"GET", "/_keyless/issuers", "keyless:ListIssuers", arn.Issuer(unitAccount, "*")},
		{"GET", "/_keyless/issuers/ghost", "keyless:GetIssuer", arn.Issuer(unitAccount, "ghost")},
		{"DELETE", "/_keyless/issuers/ghost", "keyless:DeleteIssuer", arn.Issuer(unitAccount, "ghost")},
		{"POST", "/_keyless/issuers/ghost/rotate", "keyless:RotateIssuer", arn.Issuer(unitAccount, "ghost")},
		{"POST", "/_keyless/issuers/ghost/token", "keyless:MintToken", arn.Issuer(unitAccount, "ghost")},
		{"POST", "/_keyless/issuers/ghost/runner-credentials", "keyless:CreateRunnerCredentials", arn.Issuer(unitAccount, "ghost")},
		{"POST", "/_keyless/issuers/ghost/runner-credentials/revoke", "keyless:RevokeRunnerCredentials", arn.Issuer(unitAccount, "ghost")},
		{"GET", "/_keyless/decisions", "keyless:ListDecisions", arn.Decision(unitAccount, "*")},
		{"GET", "/_keyless/decisions/ghost", "keyless:GetDecision", arn.Decision(unitAccount, "ghost")},
	}
	if n := len(u.s.adminRoutes()); n != len(routes) {
		t.Fatalf("the server has %d admin routes, this test knows %d: add the new one here", n, len(routes))
	}
	allowed := make([]aws.Credentials, len(routes))
	for i, r := range routes {
		allowed[i] = u.role("route"+string(rune('a'+i)),
			`{"Effect":"Allow","Action":"`+r.action+`","Resource":"`+r.resource+`"}`)
	}
	for i, r := range routes {
		t.Run(r.action, func(t *testing.T) {
			for j, other := range routes {
				status, code := u.admin(other.method, other.path, "", &allowed[i])
				switch denied := status == http.StatusForbidden && code == awserr.CodeAccessDenied; {
				case i == j && denied:
					t.Errorf("allowed %s on %s, refused %s %s", r.action, r.resource, other.method, other.path)
				case i != j && !denied:
					t.Errorf("allowed only %s, %s %s answered %d %s", r.action, other.method, other.path, status, code)
				}
			}
		})
	}

	nothing := u.role("nothing")
	refused := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"unknown subresource", "POST", "/_keyless/issuers/ghost/keys", 404, "NotFound"},
		{"unknown deeper path", "GET", "/_keyless/issuers/ghost/token/x", 404, "NotFound"},
		{"slash in id", "GET", "/_keyless/issuers/a%2Fb", 404, "NotFound"},
		{"issuers lookalike", "GET", "/_keyless/issuersx", 404, "NotFound"},
		{"unknown admin resource", "GET", "/_keyless/roles", 404, "NotFound"},
		{"wrong method on an issuer", "PUT", "/_keyless/issuers/ghost", 405, "MethodNotAllowed"},
		{"wrong method on the list", "PATCH", "/_keyless/issuers", 405, "MethodNotAllowed"},
		{"mint with GET", "GET", "/_keyless/issuers/ghost/token", 405, "MethodNotAllowed"},
		{"runner credentials with GET", "GET", "/_keyless/issuers/ghost/runner-credentials", 405, "MethodNotAllowed"},
		{"decisions are read-only", "POST", "/_keyless/decisions", 405, "MethodNotAllowed"},
		{"delete a decision", "DELETE", "/_keyless/decisions/ghost", 405, "MethodNotAllowed"},
		{"deeper decision path", "GET", "/_keyless/decisions/ghost/trace", 404, "NotFound"},
		{"slash in decision id", "GET", "/_keyless/decisions/a%2Fb", 404, "NotFound"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			for who, cr := range map[string]*aws.Credentials{"root": &unitRoot, "unsigned": nil, "no permissions": &nothing} {
				if status, code := u.admin(tc.method, tc.path, "", cr); status != tc.status || code != tc.code {
					t.Errorf("%s: %d %s, want %d %s", who, status, code, tc.status, tc.code)
				}
			}
		})
	}
}

// TestAuthenticate: who a SigV4-signed request is, or why it is refused.
func TestAuthenticate(t *testing.T) {
	u := newUnit(t)
	session := u.role("deploy")
	runner := u.session(creds.Session{Account: unitAccount, SessionName: runnerSessionName("org"), IssuerID: "org",
		SessionPolicy: runnerPolicy(unitAccount, "org")})
	legacyRunner := u.session(creds.Session{Account: unitAccount, SessionName: runnerSessionName("org"),
		SessionPolicy: runnerPolicy(unitAccount, "org")})
	otherAccount := u.session(creds.Session{Account: "210987654321", RoleName: "deploy", RoleID: "AROA00000000000000001", SessionName: "s"})
	badSecret := unitRoot
	badSecret.SecretAccessKey = "not-the-root-secret-at-all"
	rootWithToken := unitRoot
	rootWithToken.SessionToken = runner.SessionToken
	unknownKey := aws.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "whatever-whatever-whatever"}
	tests := []struct {
		name            string
		cr              *aws.Credentials
		service, region string // signed for
		kind            identity.Kind
		wantARN, code   string
	}{
		{"root", &unitRoot, adminService, unitRegion, identity.Root, arn.Root(unitAccount), ""},
		{"role session", &session, adminService, unitRegion, identity.RoleSession, arn.AssumedRole(unitAccount, "deploy", "s"), ""},
		{"runner", &runner, adminService, unitRegion, identity.Runner, arn.FederatedUser(unitAccount, "runner-org"), ""},
		{"runner from before revocation", &legacyRunner, adminService, unitRegion, identity.Unknown, "", awserr.CodeInvalidClientTokenID},
		{"bad signature", &badSecret, adminService, unitRegion, identity.Unknown, "", awserr.CodeSignatureDoesNotMatch},
		{"wrong service scope", &unitRoot, "iam", unitRegion, identity.Unknown, "", awserr.CodeSignatureDoesNotMatch},
		{"wrong region scope", &session, adminService, "eu-west-1", identity.Unknown, "", awserr.CodeSignatureDoesNotMatch},
		{"root key with a session token", &rootWithToken, adminService, unitRegion, identity.Unknown, "", awserr.CodeInvalidClientTokenID},
		{"unknown long-term key", &unknownKey, adminService, unitRegion, identity.Unknown, "", awserr.CodeInvalidClientTokenID},
		{"session of another account", &otherAccount, adminService, unitRegion, identity.Unknown, "", awserr.CodeInvalidClientTokenID},
		{"unsigned", nil, adminService, unitRegion, identity.Unknown, "", awserr.CodeMissingAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := u.request(http.MethodGet, "/_keyless/issuers", "", tt.cr, tt.service, tt.region)
			caller, _, err := u.s.auth.authenticate(req, nil, adminService, unitRegion)
			if tt.code != "" {
				if e := awserr.As(err); e == nil || e.Code != tt.code {
					t.Fatalf("authenticate = %v, want %s", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("authenticate: %v", err)
			}
			if caller.Kind != tt.kind || caller.ARN != tt.wantARN {
				t.Errorf("caller %s %s, want %s %s", caller.Kind, caller.ARN, tt.kind, tt.wantARN)
			}
		})
	}
}

// TestRunnerPaths: runner credentials mint tokens of their issuer and do
// nothing else, die with their creator's role, and stop at revocation.
func TestRunnerPaths(t *testing.T) {
	u := newUnit(t)
	ctx := context.Background()
	for _, id := range []string{"org", "other"} {
		if _, err := u.s.issuers.Create(ctx, issuer.CreateRequest{OrgID: id, Alg: "ES256"}); err != nil {
			t.Fatal(err)
		}
	}
	creator := u.role("ci", `{"Effect":"Allow","Action":"keyless:CreateRunnerCredentials","Resource":"`+arn.Issuer(unitAccount, "org")+`"}`)
	create := func(t *testing.T, cr *aws.Credentials, body string) aws.Credentials {
		t.Helper()
		rec := httptest.NewRecorder()
		u.s.Handler().ServeHTTP(rec, u.request("POST", "/_keyless/issuers/org/runner-credentials", body, cr, adminService, unitRegion))
		var out struct{ AccessKeyId, SecretAccessKey, SessionToken string }
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			t.Fatalf("create runner credentials: %d %s", rec.Code, rec.Body)
		}
		return aws.Credentials{AccessKeyID: out.AccessKeyId, SecretAccessKey: out.SecretAccessKey, SessionToken: out.SessionToken}
	}
	byRoot := create(t, &unitRoot, `{"ttl":"1h"}`)
	byRole := create(t, &creator, "")
	mint := `{"project_id":"p"}`
	type step struct {
		name, method, path, body string
		cr                       *aws.Credentials
		status                   int
		code                     string
	}
	steps := []step{
		{"mints for its issuer", "POST", "/_keyless/issuers/org/token", mint, &byRoot, 200, ""},
		{"not for another issuer", "POST", "/_keyless/issuers/other/token", mint, &byRoot, 403, "AccessDenied"},
		{"cannot read its issuer", "GET", "/_keyless/issuers/org", "", &byRoot, 403, "AccessDenied"},
		{"cannot create runner credentials", "POST", "/_keyless/issuers/org/runner-credentials", "", &byRoot, 403, "AccessDenied"},
		{"bad ttl", "POST", "/_keyless/issuers/org/runner-credentials", `{"ttl":"1m"}`, &unitRoot, 400, "InvalidInput"},
		{"unknown field", "POST", "/_keyless/issuers/org/runner-credentials", `{"lifetime":"1h"}`, &unitRoot, 400, "InvalidInput"},
		{"unknown issuer", "POST", "/_keyless/issuers/nope/runner-credentials", "", &unitRoot, 404, "NoSuchEntity"},
		{"revoke needs a key or all", "POST", "/_keyless/issuers/org/runner-credentials/revoke", `{}`, &unitRoot, 400, "InvalidInput"},
		{"revoke a long-term key id", "POST", "/_keyless/issuers/org/runner-credentials/revoke", `{"access_key_id":"AKIAXXXXXXXXXXXXXXXX"}`, &unitRoot, 400, "InvalidInput"},
		{"role's runner mints", "POST", "/_keyless/issuers/org/token", mint, &byRole, 200, ""},
	}
	run := func(t *testing.T, steps []step) {
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				if status, code := u.admin(st.method, st.path, st.body, st.cr); status != st.status || code != st.code {
					t.Errorf("%d %s, want %d %s", status, code, st.status, st.code)
				}
			})
		}
	}
	run(t, steps)
	t.Run("runner query calls are denied", func(t *testing.T) {
		fresh := create(t, &unitRoot, "")
		rec := httptest.NewRecorder()
		u.s.Handler().ServeHTTP(rec, u.request("POST", "/", "Action=ListRoles&Version=2010-05-08", &fresh, "iam", unitRegion))
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "<Code>AccessDenied</Code>") {
			t.Errorf("ListRoles with runner credentials: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("creator role deleted", func(t *testing.T) {
		byRole2 := create(t, &creator, "")
		if err := u.s.store.DeleteRolePolicy(ctx, "ci", "p"); err != nil {
			t.Fatal(err)
		}
		if err := u.s.store.DeleteRole(ctx, "ci"); err != nil {
			t.Fatal(err)
		}
		if status, code := u.admin("POST", "/_keyless/issuers/org/token", mint, &byRole2); status != 403 || code != "AccessDenied" {
			t.Errorf("runner of a deleted role: %d %s, want 403 AccessDenied", status, code)
		}
	})
	run(t, []step{
		{"revoke all of org's", "POST", "/_keyless/issuers/org/runner-credentials/revoke", `{"all":true}`, &unitRoot, 200, ""},
		{"revoked runner refused", "POST", "/_keyless/issuers/org/token", mint, &byRoot, 403, awserr.CodeInvalidClientTokenID},
	})
}
