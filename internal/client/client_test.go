package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// stsFaults answers the first n exchanges with the given status and code,
// then with a fixed success.
func stsFaults(t *testing.T, n int32, status int, code, msg string) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			w.WriteHeader(status)
			fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code, msg)
			return
		}
		fmt.Fprint(w, `<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>
<AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>
<Expiration>2030-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/r/s</Arn>
<AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestAssumeRetries(t *testing.T) {
	const keyMsg = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
	tests := []struct {
		name       string
		fail       int32
		status     int
		code, msg  string
		attempts   int
		wantCalls  int32
		wantErr    string
		wantDelays []time.Duration
		wantDenied bool
	}{
		{name: "idp error then success", fail: 2, status: 400, code: "IDPCommunicationError", msg: "x", attempts: 5, wantCalls: 3,
			wantDelays: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}},
		{name: "verification key", fail: 1, status: 400, code: "InvalidIdentityToken", msg: keyMsg, attempts: 5, wantCalls: 2,
			wantDelays: []time.Duration{50 * time.Millisecond}},
		{name: "503", fail: 1, status: 503, code: "ServiceUnavailable", msg: "x", attempts: 5, wantCalls: 2,
			wantDelays: []time.Duration{50 * time.Millisecond}},
		{name: "throttling", fail: 1, status: 400, code: "Throttling", msg: "Rate exceeded", attempts: 5, wantCalls: 2,
			wantDelays: []time.Duration{50 * time.Millisecond}},
		{name: "gives up", fail: 9, status: 400, code: "IDPCommunicationError", msg: "x", attempts: 4, wantCalls: 4,
			wantErr: "gave up after 4 attempts", wantDelays: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}},
		{name: "backoff capped", fail: 9, status: 400, code: "IDPCommunicationError", msg: "x", attempts: 6, wantCalls: 6,
			wantErr: "gave up", wantDelays: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}},
		{name: "other invalid token is final", fail: 9, status: 400, code: "InvalidIdentityToken", msg: "The web identity token provided could not be validated",
			attempts: 5, wantCalls: 1, wantErr: "could not be validated"},
		{name: "access denied is final", fail: 9, status: 403, code: "AccessDenied", msg: "Not authorized to perform sts:AssumeRoleWithWebIdentity",
			attempts: 5, wantCalls: 1, wantErr: "keyless explain", wantDenied: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := stsFaults(t, tc.fail, tc.status, tc.code, tc.msg)
			var delays []time.Duration
			c, err := New(Config{STSEndpoint: srv.URL, MaxAttempts: tc.attempts, BaseDelay: 100 * time.Millisecond, MaxDelay: 500 * time.Millisecond,
				Rand:  func() float64 { return 0.5 },
				Sleep: func(_ context.Context, d time.Duration) error { delays = append(delays, d); return nil }})
			if err != nil {
				t.Fatal(err)
			}
			cr, err := c.Assume(context.Background(), AssumeInput{RoleARN: "arn:aws:iam::111122223333:role/r", Token: testToken, SessionName: "s"})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Assume: %v", err)
				}
				if cr.AccessKeyID != "ASIAX" || cr.Account != "111122223333" || !cr.Expiration.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("credentials = %+v", cr)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Assume error = %v, want %q", err, tc.wantErr)
			}
			var denied *DeniedError
			if errors.As(err, &denied) != tc.wantDenied {
				t.Errorf("DeniedError = %v, want %v", errors.As(err, &denied), tc.wantDenied)
			}
			if tc.wantDenied && (denied.Subject != "org/o/project/p/user/u" || denied.Issuer != "https://oidc.circleci.com/org/o") {
				t.Errorf("denied claims = %+v", denied)
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("calls = %d, want %d", got, tc.wantCalls)
			}
			if fmt.Sprint(delays) != fmt.Sprint(tc.wantDelays) {
				t.Errorf("delays = %v, want %v", delays, tc.wantDelays)
			}
		})
	}
}

// testToken is an unsigned-looking but well-formed RS256 JWS whose claims
// are iss https://oidc.circleci.com/org/o, aud o, sub org/o/project/p/user/u.
var testToken = func() string {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	return enc(`{"alg":"RS256","kid":"k"}`) + "." +
		enc(`{"iss":"https://oidc.circleci.com/org/o","aud":"o","sub":"org/o/project/p/user/u","exp":4102444800,"iat":1700000000}`) + "." + enc("sig")
}()

func TestRetryableContext(t *testing.T) {
	if retryable(context.Canceled) || retryable(nil) {
		t.Error("context cancellation and nil must not be retried")
	}
}

func TestSanitizeSessionName(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"valid", "CircleCI", "CircleCI"},
		{"spaces and punctuation", "deploy prod #42 (retry)", "deploy-prod-42-retry"},
		{"keeps allowed symbols", "a+b=c,d.e@f_g-h", "a+b=c,d.e@f_g-h"},
		{"no trailing hyphen after cut", strings.Repeat("a", 63) + " b", strings.Repeat("a", 63)},
		{"cut to 64", strings.Repeat("x", 80), strings.Repeat("x", 64)},
		{"too short falls back", "é", "fallback"},
		{"unicode", "jöb", "j-b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SanitizeSessionName(tc.in, "fallback"); got != tc.want {
				t.Errorf("SanitizeSessionName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSetSection(t *testing.T) {
	base := "[default]\nregion = x\n\n[profile a]\nrole_arn = old\nweb_identity_token_file = f\n\n[profile b]\nregion = y\n"
	tests := []struct {
		name, content, section string
		kvs                    []KV
		want                   string
	}{
		{"replace middle", base, "profile a", []KV{{Key: "region", Value: "z"}},
			"[default]\nregion = x\n\n[profile a]\nregion = z\n[profile b]\nregion = y\n"},
		{"append", base, "profile c", []KV{{Key: "k", Value: "v"}}, base + "\n[profile c]\nk = v\n"},
		{"remove", base, "profile b", nil, "[default]\nregion = x\n\n[profile a]\nrole_arn = old\nweb_identity_token_file = f\n"},
		{"empty file", "", "x", []KV{{Key: "k", Value: "v"}}, "[x]\nk = v\n"},
		{"nested services block", "[services old]\niam =\n  endpoint_url = a\n", "services old",
			[]KV{{Key: "sts", Sub: []KV{{Key: "endpoint_url", Value: "http://127.0.0.1:1"}}}},
			"[services old]\nsts =\n  endpoint_url = http://127.0.0.1:1\n"},
		{"spaced header", "[ profile  a ]\nk = 1\n", "profile a", []KV{{Key: "k", Value: "2"}}, "[profile a]\nk = 2\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SetSection(tc.content, tc.section, tc.kvs); got != tc.want {
				t.Errorf("SetSection =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
