package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/testkit"
)

const explainTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/oidc.circleci.com/org/o"},
 "Action":"sts:AssumeRoleWithWebIdentity",
 "Condition":{"StringLike":{"oidc.circleci.com/org/o:sub":"org/o/project/p/*"}}}]}`

// hostedIssuer serves discovery and JWKS for https://oidc.circleci.com/org/o
// under /org/o, as a keyless server does (testkit's provider, with its key
// "k1"), and signs tokens with that key.
func hostedIssuer(t *testing.T) (*testkit.OIDCProvider, func(claims map[string]any) string) {
	t.Helper()
	p := testkit.NewOIDCProvider(t)
	const iss = "https://oidc.circleci.com/org/o"
	p.Handle("/org/o/.well-known/openid-configuration", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "jwks_uri": iss + "/.well-known/jwks-pub.json"})
	}))
	p.Handle("/org/o/.well-known/jwks-pub.json", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(p.JWKS())
	}))
	sign := func(claims map[string]any) string {
		// Every claim is the test's: nil deletes testkit's defaults it omits.
		all := map[string]any{"iss": nil, "sub": nil, "aud": nil, "iat": nil, "nbf": nil, "exp": nil}
		for k, v := range claims {
			all[k] = v
		}
		return testkit.SignJWT(t, p.Key("k1"), testkit.Token{KID: "k1", Claims: all})
	}
	return p, sign
}

func TestExplain(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	srv, sign := hostedIssuer(t)
	baseline := func() map[string]any {
		return map[string]any{"iss": "https://oidc.circleci.com/org/o", "aud": "o", "sub": "org/o/project/p/user/u",
			"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(), "oidc.circleci.com/project-id": "p"}
	}
	tests := []struct {
		name        string
		mod         func(map[string]any)
		tamper      bool
		wantVerdict string
		wantChecks  map[string]string // name → status
		wantFix     string
	}{
		{name: "allow", wantVerdict: "allow", wantChecks: map[string]string{"signature": CheckOK, "expiry": CheckOK,
			"trust policy": CheckOK, "provider": CheckSkipped}},
		{name: "other project", mod: func(c map[string]any) { c["sub"] = "org/o/project/q/user/u" }, wantVerdict: "deny",
			wantChecks: map[string]string{"trust policy": CheckFail, "signature": CheckOK},
			wantFix:    `sub is "org/o/project/q/user/u", the policy expects "org/o/project/p/*"`},
		{name: "expired beyond the clock skew", mod: func(c map[string]any) { c["exp"] = now.Add(-6 * time.Minute).Unix() }, wantVerdict: "deny",
			wantChecks: map[string]string{"expiry": CheckFail, "trust policy": CheckOK}, wantFix: "fresh token"},
		// The server allows 5 minutes of clock skew; explain decides as it does.
		{name: "expired within the clock skew", mod: func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }, wantVerdict: "allow",
			wantChecks: map[string]string{"expiry": CheckOK, "signature": CheckOK, "trust policy": CheckOK}},
		{name: "issued in the future within the clock skew", mod: func(c map[string]any) { c["iat"] = now.Add(4 * time.Minute).Unix() }, wantVerdict: "allow",
			wantChecks: map[string]string{"expiry": CheckOK}},
		{name: "issued in the future beyond the clock skew", mod: func(c map[string]any) { c["iat"] = now.Add(6 * time.Minute).Unix() }, wantVerdict: "deny",
			wantChecks: map[string]string{"expiry": CheckFail}},
		{name: "tampered", tamper: true, wantVerdict: "deny", wantChecks: map[string]string{"signature": CheckFail}},
		{name: "bad session tag", mod: func(c map[string]any) { c["https://aws.amazon.com/tags"] = "nope" }, wantVerdict: "deny",
			wantChecks: map[string]string{"session attributes": CheckFail}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims := baseline()
			if tc.mod != nil {
				tc.mod(claims)
			}
			tok := sign(claims)
			if tc.tamper {
				parts := strings.Split(tok, ".")
				parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(mustJSON(claims), "project/p/", "project/p/x/", 1)))
				tok = strings.Join(parts, ".")
			}
			c, err := New(Config{STSEndpoint: srv.URL, HTTPClient: srv.Client(), Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := c.Explain(context.Background(), ExplainInput{RoleARN: "arn:aws:iam::111122223333:role/deploy", TrustPolicy: explainTrust, Token: tok})
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			if rep.Verdict != tc.wantVerdict {
				t.Errorf("verdict = %s, want %s; checks %+v", rep.Verdict, tc.wantVerdict, rep.Checks)
			}
			got := map[string]string{}
			for _, ch := range rep.Checks {
				got[ch.Name] = ch.Status
			}
			for name, status := range tc.wantChecks {
				if got[name] != status {
					t.Errorf("check %s = %q, want %q (%+v)", name, got[name], status, rep.Checks)
				}
			}
			if tc.wantFix != "" && !strings.Contains(fmt.Sprint(rep.Fix), tc.wantFix) {
				t.Errorf("fix = %q, want it to contain %q", rep.Fix, tc.wantFix)
			}
			for _, ch := range rep.Checks {
				if strings.Contains(ch.Detail, "allowed by allowed by") {
					t.Errorf("check %s repeats itself: %q", ch.Name, ch.Detail)
				}
			}
			if tc.wantVerdict == "allow" && len(rep.Fix) != 0 {
				t.Errorf("allow with fixes %q", rep.Fix)
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		c, _ := New(Config{STSEndpoint: srv.URL, HTTPClient: srv.Client()})
		for _, in := range []ExplainInput{
			{RoleARN: "not-an-arn", TrustPolicy: explainTrust, Token: sign(baseline())},
			{RoleARN: "arn:aws:iam::111122223333:role/deploy", TrustPolicy: explainTrust, Token: "x.y.z"},
			{RoleARN: "arn:aws:iam::111122223333:role/deploy", TrustPolicy: `{"Statement":[]`, Token: sign(baseline())},
		} {
			if _, err := c.Explain(context.Background(), in); err == nil {
				t.Errorf("Explain(%+v) succeeded, want an error", in)
			}
		}
	})
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }
