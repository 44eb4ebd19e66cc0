package oidc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
)

func TestVerifierStepsAndSkew(t *testing.T) {
	testKeys(t)
	good := keySet(jwk(rsa2048, "k1", "RS256"))
	unreachable := awserr.New(awserr.CodeInvalidIdentityToken, 400, MsgKeyRetrieval)
	storeDown := awserr.New(awserr.CodeServiceUnavailable, 503, "Service is unavailable. Please try again later.")
	type tc struct {
		name      string
		claims    func(map[string]any)
		sign      any // signing key; default rsa2048
		providers staticProviders
		provErr   error // the provider source fails with it
		keys      staticKeys
		nilKeys   bool // the key source answers no set and no error
		skew      time.Duration
		opts      bool // run with AllSteps

		wantStep  string // first failed step, "" for a verified token
		wantCode  string
		wantMsg   string
		wantRan   []string
		wantCalls int // key fetches
		wantID    string
	}
	all := []string{StepParse, StepIssuer, StepAudience, StepKeys, StepSignature, StepTime}
	tests := []tc{
		{name: "verified", wantRan: all, wantCalls: 1, wantID: "sts.amazonaws.com"},
		{name: "azp chosen when listed", claims: func(c map[string]any) { c["aud"] = []string{"x", "sts.amazonaws.com"}; c["azp"] = "sts.amazonaws.com" },
			wantRan: all, wantCalls: 1, wantID: "sts.amazonaws.com"},
		{name: "expired within default skew", claims: func(c map[string]any) { c["exp"] = testNow.Unix() - 240 },
			wantRan: all, wantCalls: 1, wantID: "sts.amazonaws.com"},
		{name: "expired beyond default skew", claims: func(c map[string]any) { c["exp"] = testNow.Unix() - 301 },
			wantStep: StepTime, wantCode: awserr.CodeExpiredTokenException, wantRan: all, wantCalls: 1},
		{name: "configured skew applies", skew: time.Minute, claims: func(c map[string]any) { c["exp"] = testNow.Unix() - 61 },
			wantStep: StepTime, wantCode: awserr.CodeExpiredTokenException, wantRan: all, wantCalls: 1},
		{name: "iat in the future beyond skew", claims: func(c map[string]any) { c["iat"] = testNow.Unix() + 301 },
			wantStep: StepTime, wantCode: awserr.CodeInvalidIdentityToken, wantMsg: MsgInvalidToken, wantRan: all, wantCalls: 1},
		{name: "unparsable", claims: func(c map[string]any) { delete(c, "exp") },
			wantStep: StepParse, wantCode: awserr.CodeInvalidIdentityToken, wantMsg: MsgInvalidToken, wantRan: []string{StepParse}},
		{name: "issuer not registered", providers: staticProviders{},
			wantStep: StepIssuer, wantCode: awserr.CodeInvalidIdentityToken, wantMsg: "No OpenIDConnect provider found in your account for " + testIssuer,
			wantRan: []string{StepParse, StepIssuer}},
		{name: "issuer not https", claims: func(c map[string]any) { c["iss"] = "http://issuer.example.com" },
			wantStep: StepIssuer, wantCode: awserr.CodeInvalidIdentityToken, wantMsg: "No OpenIDConnect provider found in your account for http://issuer.example.com",
			wantRan: []string{StepParse, StepIssuer}},
		{name: "provider store unavailable passes through", provErr: storeDown,
			wantStep: StepIssuer, wantCode: awserr.CodeServiceUnavailable, wantRan: []string{StepParse, StepIssuer}},
		{name: "wrong audience stops before any key fetch", claims: func(c map[string]any) { c["aud"] = "other" },
			wantStep: StepAudience, wantCode: awserr.CodeInvalidIdentityToken, wantMsg: MsgIncorrectAudience,
			wantRan: []string{StepParse, StepIssuer, StepAudience}},
		{name: "missing aud", claims: func(c map[string]any) { delete(c, "aud") },
			wantStep: StepAudience, wantMsg: "Missing a required claim: aud", wantCode: awserr.CodeInvalidIdentityToken,
			wantRan: []string{StepParse, StepIssuer, StepAudience}},
		{name: "keys unreachable", keys: staticKeys{err: unreachable},
			wantStep: StepKeys, wantCode: awserr.CodeInvalidIdentityToken, wantMsg: MsgKeyRetrieval,
			wantRan: []string{StepParse, StepIssuer, StepAudience, StepKeys}, wantCalls: 1},
		{name: "nil key set is a retrieval failure", nilKeys: true,
			wantStep: StepSignature, wantCode: awserr.CodeInvalidIdentityToken, wantMsg: MsgKeyRetrieval,
			wantRan: []string{StepParse, StepIssuer, StepAudience, StepKeys, StepSignature}, wantCalls: 1},
		{name: "bad signature", sign: rsaOther,
			wantStep: StepSignature, wantCode: awserr.CodeInvalidIdentityToken, wantMsg: MsgInvalidToken,
			wantRan: []string{StepParse, StepIssuer, StepAudience, StepKeys, StepSignature}, wantCalls: 1},
		{name: "all steps still fail on the first", opts: true, sign: rsaOther,
			claims:   func(c map[string]any) { c["aud"] = "other"; c["exp"] = testNow.Unix() - 600 },
			wantStep: StepAudience, wantMsg: MsgIncorrectAudience, wantCode: awserr.CodeInvalidIdentityToken, wantRan: all, wantCalls: 1},
		{name: "all steps without a provider fetch keys and check time", opts: true, providers: staticProviders{},
			wantStep: StepIssuer, wantCode: awserr.CodeInvalidIdentityToken,
			wantMsg: "No OpenIDConnect provider found in your account for " + testIssuer,
			wantRan: []string{StepParse, StepIssuer, StepKeys, StepSignature, StepTime}, wantCalls: 1},
		{name: "all steps stop at an unparsable token", opts: true, claims: func(c map[string]any) { delete(c, "iss") },
			wantStep: StepParse, wantCode: awserr.CodeInvalidIdentityToken, wantMsg: MsgInvalidToken, wantRan: []string{StepParse}},
		{name: "all steps for a non-https issuer fetch nothing", opts: true, claims: func(c map[string]any) { c["iss"] = "http://issuer.example.com" },
			wantStep: StepIssuer, wantCode: awserr.CodeInvalidIdentityToken,
			wantMsg: "No OpenIDConnect provider found in your account for http://issuer.example.com",
			wantRan: []string{StepParse, StepIssuer, StepTime}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			claims := baseClaims()
			if tc.claims != nil {
				tc.claims(claims)
			}
			key := tc.sign
			if key == nil {
				key = rsa2048
			}
			raw := signRaw(t, "RS256", key, `{"alg":"RS256","kid":"k1","typ":"JWT"}`, mustJSON(t, claims))
			var providers ProviderSource = testProviders()
			if tc.providers != nil {
				providers = tc.providers
			}
			if tc.provErr != nil {
				providers = failingProviders{tc.provErr}
			}
			keys := tc.keys
			if keys.set == nil && keys.err == nil && !tc.nilKeys {
				keys.set = good
			}
			calls := 0
			keys.calls = &calls
			v, err := NewVerifier(VerifierConfig{Providers: providers, Keys: keys, ClockSkew: tc.skew, Now: func() time.Time { return testNow }})
			if err != nil {
				t.Fatal(err)
			}
			var tr Trace
			opts := []VerifyOption{WithTrace(&tr)}
			if tc.opts {
				opts = append(opts, AllSteps())
			}
			tok, err := v.Verify(context.Background(), raw, opts...)

			step, stepErr := tr.Failed()
			if step != tc.wantStep || !errors.Is(err, stepErr) {
				t.Errorf("failed step = %q (%v), Verify err %v; want step %q", step, stepErr, err, tc.wantStep)
			}
			if tc.wantStep == "" {
				if err != nil || tok == nil {
					t.Fatalf("Verify = %v, %v; want a verified token", tok, err)
				}
				if tok.Provider == nil || tok.Provider.URL != "issuer.example.com" || tok.ClientID != tc.wantID {
					t.Errorf("verified token provider %+v client id %q, want issuer.example.com and %q", tok.Provider, tok.ClientID, tc.wantID)
				}
			} else {
				if tok != nil {
					t.Fatalf("Verify returned a token with error %v", err)
				}
				e := awserr.As(err)
				if e == nil || e.Code != tc.wantCode || (tc.wantMsg != "" && e.Message != tc.wantMsg) {
					t.Fatalf("err = %v; want %s %q", err, tc.wantCode, tc.wantMsg)
				}
			}
			var ran []string
			for _, s := range all {
				if tr.Ran(s) {
					ran = append(ran, s)
				}
			}
			if !slices.Equal(ran, tc.wantRan) {
				t.Errorf("ran %v, want %v", ran, tc.wantRan)
			}
			if calls != tc.wantCalls {
				t.Errorf("key fetches = %d, want %d", calls, tc.wantCalls)
			}
			if tc.wantStep != StepParse && (tr.Token == nil || tr.Token.Subject != "org/o1/project/p1/user/u1") {
				t.Errorf("trace token = %+v, want the parsed token", tr.Token)
			}
		})
	}
}

func TestNewVerifierConfig(t *testing.T) {
	ok := VerifierConfig{Providers: testProviders(), Keys: staticKeys{}}
	tests := []struct {
		name     string
		mod      func(*VerifierConfig)
		wantErr  bool
		wantSkew time.Duration
	}{
		{name: "defaults", wantSkew: DefaultClockSkew},
		{name: "explicit skew", mod: func(c *VerifierConfig) { c.ClockSkew = time.Minute }, wantSkew: time.Minute},
		{name: "negative skew", mod: func(c *VerifierConfig) { c.ClockSkew = -time.Second }, wantErr: true},
		{name: "no providers", mod: func(c *VerifierConfig) { c.Providers = nil }, wantErr: true},
		{name: "no keys", mod: func(c *VerifierConfig) { c.Keys = nil }, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			v, err := NewVerifier(cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NewVerifier err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && v.ClockSkew() != tc.wantSkew {
				t.Fatalf("ClockSkew = %s, want %s", v.ClockSkew(), tc.wantSkew)
			}
		})
	}
}

type failingProviders struct{ err error }

func (f failingProviders) Provider(context.Context, string) (*Provider, error) { return nil, f.err }

func TestSum256(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 1024, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := strings.Repeat("ab.c", n)[:n]
			if got, want := sum256(s), sha256.Sum256([]byte(s)); got != want {
				t.Errorf("sum256 = %x, want %x", got, want)
			}
		})
	}
}
