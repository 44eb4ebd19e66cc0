package sts

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/directory"
	"github.com/keylessci/keyless/internal/store"
)

const webTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/ci.example.com/org/o"},
 "Action":"sts:AssumeRoleWithWebIdentity",
 "Condition":{"StringEquals":{"ci.example.com/org/o:aud":"o"},"StringLike":{"ci.example.com/org/o:sub":"org/o/project/p/*"}}}]}`

// webTrustTagging also allows the session tags and source identity a token
// may carry.
const webTrustTagging = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/ci.example.com/org/o"},
 "Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession","sts:SetSourceIdentity"],
 "Condition":{"StringLike":{"ci.example.com/org/o:sub":"org/o/project/p/*"}}}]}`

const denyProjectQ = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/ci.example.com/org/o"},
 "Action":"sts:AssumeRoleWithWebIdentity"},
 {"Effect":"Deny","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/ci.example.com/org/o"},
 "Action":"sts:AssumeRoleWithWebIdentity",
 "Condition":{"StringLike":{"ci.example.com/org/o:sub":"org/o/project/q/*"}}}]}`

const readOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`

func TestAssumeRoleWithWebIdentity(t *testing.T) {
	roleARN := arn.Role(testAccount, "/", "deploy")
	providerARN := arn.OIDCProvider(testAccount, testProvider)
	type tc struct {
		name   string
		params func(url.Values)
		claims func(map[string]any)
		dir    func(*testing.T, *fakeDir)

		wantCode, wantMsg string
		wantReason        string        // the decision log's reason for a denial
		wantDuration      time.Duration // of the issued credentials; default 1h
		check             func(*testing.T, *WebIdentityResult)
	}
	tests := []tc{
		{name: "baseline allowed", check: func(t *testing.T, r *WebIdentityResult) {
			if r.SubjectFromWebIdentityToken != "org/o/project/p/user/u" || r.Provider != providerARN || r.Audience != "o" {
				t.Errorf("result subject %q provider %q audience %q", r.SubjectFromWebIdentityToken, r.Provider, r.Audience)
			}
			if r.AssumedRoleUser.Arn != "arn:aws:sts::123456789012:assumed-role/deploy/job-1" || r.AssumedRoleUser.AssumedRoleID != "AROAdeploy:job-1" {
				t.Errorf("assumed role user = %+v", r.AssumedRoleUser)
			}
			if r.PackedPolicySize != nil {
				t.Errorf("PackedPolicySize = %d without session policy or tags", *r.PackedPolicySize)
			}
		}},
		{name: "token with surrounding newline", params: func(v url.Values) { v.Set("WebIdentityToken", v.Get("WebIdentityToken")+"\n") }},
		{name: "second aud is the client id", claims: func(c map[string]any) { c["aud"] = []string{"x", "o"} },
			check: func(t *testing.T, r *WebIdentityResult) {
				if r.Audience != "o" {
					t.Errorf("Audience = %q, want the matched client id o", r.Audience)
				}
			}},
		{name: "shortest duration", params: func(v url.Values) { v.Set("DurationSeconds", "900") }, wantDuration: 15 * time.Minute},
		{name: "duration up to the role's maximum", params: func(v url.Values) { v.Set("DurationSeconds", "7200") },
			dir: func(_ *testing.T, d *fakeDir) { d.roles["deploy"].MaxSessionDuration = 7200 }, wantDuration: 2 * time.Hour},
		{name: "duration below 900", params: func(v url.Values) { v.Set("DurationSeconds", "899") }, wantCode: awserr.CodeValidation,
			wantMsg: "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
		{name: "duration above 43200", params: func(v url.Values) { v.Set("DurationSeconds", "43201") }, wantCode: awserr.CodeValidation,
			wantMsg: "1 validation error detected: Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200"},
		{name: "duration beyond the role's maximum", params: func(v url.Values) { v.Set("DurationSeconds", "3601") }, wantCode: awserr.CodeValidation,
			wantMsg: "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."},
		{name: "session name with a space", params: func(v url.Values) { v.Set("RoleSessionName", "job 1") }, wantCode: awserr.CodeValidation,
			wantMsg: `1 validation error detected: Value 'job 1' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`},
		{name: "session name too short", params: func(v url.Values) { v.Set("RoleSessionName", "j") }, wantCode: awserr.CodeValidation,
			wantMsg: "1 validation error detected: Value 'j' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{name: "token missing", params: func(v url.Values) { v.Del("WebIdentityToken") }, wantCode: awserr.CodeValidation,
			wantMsg: "1 validation error detected: Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null"},
		{name: "token not a JWT", params: func(v url.Values) { v.Set("WebIdentityToken", "not-a-jwt") }, wantCode: awserr.CodeInvalidIdentityToken,
			wantMsg: "The web identity token provided could not be validated", wantReason: "token rejected"},
		{name: "provider missing", dir: func(_ *testing.T, d *fakeDir) { delete(d.providers, testProvider) }, wantCode: awserr.CodeInvalidIdentityToken,
			wantMsg: "No OpenIDConnect provider found in your account for " + testIssuer, wantReason: "issuer not registered"},
		{name: "store unavailable", dir: func(_ *testing.T, d *fakeDir) { d.err = store.ErrUnavailable }, wantCode: awserr.CodeServiceUnavailable,
			wantMsg: "Service is unavailable. Please try again later."},
		{name: "expired token", claims: func(c map[string]any) { c["exp"] = testNow.Add(-10 * time.Minute).Unix() }, wantCode: awserr.CodeExpiredTokenException,
			wantMsg:    "Token expired: current date/time 1777636800 must be before the expiration date/time1777636200",
			wantReason: "token time rejected"},
		{name: "expired within the clock skew", claims: func(c map[string]any) { c["exp"] = testNow.Add(-4 * time.Minute).Unix() }},
		{name: "audience mismatch", claims: func(c map[string]any) { c["aud"] = "other" }, wantCode: awserr.CodeInvalidIdentityToken,
			wantMsg: "Incorrect token audience", wantReason: "audience rejected"},
		{name: "not signed by the issuer's key", claims: func(c map[string]any) { c["iss"] = "https://ci.example.com/org/other" },
			dir: func(_ *testing.T, d *fakeDir) {
				d.providers["ci.example.com/org/other"] = &store.Provider{URL: "ci.example.com/org/other", ClientIDs: []string{"o"}}
			}, wantCode: awserr.CodeInvalidIdentityToken, wantMsg: "The web identity token provided could not be validated", wantReason: "signature rejected"},
		{name: "trust policy condition not met", claims: func(c map[string]any) { c["sub"] = "org/o/project/q/user/u" },
			wantCode: awserr.CodeAccessDenied, wantMsg: "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{name: "explicit deny wins over allow", claims: func(c map[string]any) { c["sub"] = "org/o/project/q/user/u" },
			dir:      func(t *testing.T, d *fakeDir) { d.roles["deploy"] = testRole(t, "deploy", denyProjectQ) },
			wantCode: awserr.CodeAccessDenied, wantMsg: "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{name: "explicit deny does not touch others", dir: func(t *testing.T, d *fakeDir) { d.roles["deploy"] = testRole(t, "deploy", denyProjectQ) }},
		{name: "role missing", params: func(v url.Values) { v.Set("RoleArn", arn.Role(testAccount, "/", "nope")) },
			wantCode: awserr.CodeAccessDenied, wantMsg: "Not authorized to perform sts:AssumeRoleWithWebIdentity", wantReason: "no such role in this account"},
		{name: "role of another account", params: func(v url.Values) { v.Set("RoleArn", arn.Role("210987654321", "/", "deploy")) },
			wantCode: awserr.CodeAccessDenied, wantMsg: "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{name: "role ARN malformed", params: func(v url.Values) { v.Set("RoleArn", "arn:aws:iam:role/deploy-xx") },
			wantCode: awserr.CodeValidation, wantMsg: "arn:aws:iam:role/deploy-xx is invalid"},
		{name: "session policy", params: func(v url.Values) { v.Set("Policy", readOnly) }, check: func(t *testing.T, r *WebIdentityResult) {
			if r.PackedPolicySize == nil || *r.PackedPolicySize <= 0 || *r.PackedPolicySize > 100 {
				t.Errorf("PackedPolicySize = %v, want a percentage", r.PackedPolicySize)
			}
		}},
		{name: "session policy malformed", params: func(v url.Values) { v.Set("Policy", `{"Version":"2012-10-17"}`) }, wantCode: awserr.CodeMalformedPolicy},
		{name: "session policy ARN missing", params: func(v url.Values) { v.Set("PolicyArns.member.1.arn", "arn:aws:iam::123456789012:policy/gone") },
			wantCode: awserr.CodeMalformedPolicy, wantMsg: "The policy ARN does not exist or is not attachable: arn:aws:iam::123456789012:policy/gone"},
		{name: "session policy ARN attached", params: func(v url.Values) { v.Set("PolicyArns.member.1.arn", "arn:aws:iam::123456789012:policy/ro") }},
		{name: "eleven session policy ARNs", params: func(v url.Values) {
			for i := 1; i <= 11; i++ {
				v.Set(fmt.Sprintf("PolicyArns.member.%d.arn", i), "arn:aws:iam::123456789012:policy/ro")
			}
		}, wantCode: awserr.CodeValidation,
			wantMsg: "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10"},
		{name: "session tags need sts:TagSession", claims: func(c map[string]any) {
			c["https://aws.amazon.com/tags"] = map[string]any{"principal_tags": map[string]any{"team": []string{"a"}}}
		}, wantCode: awserr.CodeAccessDenied, wantMsg: "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{name: "session tags allowed", claims: func(c map[string]any) {
			c["https://aws.amazon.com/tags"] = map[string]any{"principal_tags": map[string]any{"team": []string{"a"}}}
		}, dir: func(t *testing.T, d *fakeDir) { d.roles["deploy"] = testRole(t, "deploy", webTrustTagging) },
			check: func(t *testing.T, r *WebIdentityResult) {
				if r.PackedPolicySize == nil {
					t.Error("PackedPolicySize missing with session tags")
				}
			}},
		{name: "session tags malformed", claims: func(c map[string]any) { c["https://aws.amazon.com/tags"] = "team=a" },
			dir:      func(t *testing.T, d *fakeDir) { d.roles["deploy"] = testRole(t, "deploy", webTrustTagging) },
			wantCode: awserr.CodeIDPRejectedClaim, wantMsg: "The web identity token has an invalid session tag or source identity claim.",
			wantReason: "session attributes rejected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := &fakeDir{
				roles:     map[string]*directory.Role{"deploy": testRole(t, "deploy", webTrust)},
				providers: map[string]*store.Provider{testProvider: {URL: testProvider, ClientIDs: []string{"o"}}},
				managed:   map[string]string{"arn:aws:iam::123456789012:policy/ro": readOnly},
			}
			if tc.dir != nil {
				tc.dir(t, dir)
			}
			h := newHarness(t, dir)
			claims := map[string]any{"iss": testIssuer, "aud": "o", "sub": "org/o/project/p/user/u",
				"iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(time.Hour).Unix()}
			if tc.claims != nil {
				tc.claims(claims)
			}
			params := url.Values{"RoleArn": {roleARN}, "RoleSessionName": {"job-1"}, "WebIdentityToken": {signToken(t, claims)}}
			if tc.params != nil {
				tc.params(params)
			}
			out, err := h.svc.AssumeRoleWithWebIdentity(context.Background(), call("AssumeRoleWithWebIdentity", params, nil))
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantCode, tc.wantMsg)
				if tc.wantReason != "" && !strings.Contains(h.log.String(), "reason=\""+tc.wantReason+"\"") {
					t.Errorf("decision log lacks reason %q:\n%s", tc.wantReason, h.log)
				}
				if strings.Contains(h.log.String(), "verdict=allow") {
					t.Errorf("a denied call logged an allow:\n%s", h.log)
				}
				return
			}
			if err != nil {
				t.Fatalf("AssumeRoleWithWebIdentity: %v", err)
			}
			r := out.(*WebIdentityResult)
			sess, _, err := h.sealer.Open(r.Credentials.AccessKeyID, r.Credentials.SessionToken)
			if err != nil {
				t.Fatalf("minted credentials do not open: %v", err)
			}
			want := tc.wantDuration
			if want == 0 {
				want = time.Hour
			}
			if got := sess.Expiration.Sub(testNow); got != want {
				t.Errorf("session lasts %s, want %s", got, want)
			}
			if sess.RoleName != "deploy" || sess.ProviderARN != providerARN || sess.Subject != claims["sub"] || sess.Chained {
				t.Errorf("session = %+v", sess)
			}
			if !strings.Contains(h.log.String(), "verdict=allow") {
				t.Errorf("decision log lacks the allow:\n%s", h.log)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// The token is judged before the role: a bad token for a missing role is a
// token error, as AWS answers.
func TestWebIdentityTokenBeforeRole(t *testing.T) {
	h := newHarness(t, &fakeDir{providers: map[string]*store.Provider{testProvider: {URL: testProvider, ClientIDs: []string{"o"}}}})
	claims := map[string]any{"iss": testIssuer, "aud": "other", "sub": "s", "exp": testNow.Add(time.Hour).Unix()}
	params := url.Values{"RoleArn": {arn.Role(testAccount, "/", "nope")}, "RoleSessionName": {"job-1"}, "WebIdentityToken": {signToken(t, claims)}}
	_, err := h.svc.AssumeRoleWithWebIdentity(context.Background(), call("AssumeRoleWithWebIdentity", params, nil))
	wantErr(t, err, awserr.CodeInvalidIdentityToken, "Incorrect token audience")
	if errors.Is(err, store.ErrNotFound) {
		t.Fatal("the role was looked up before the token was judged")
	}
}
