package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"

	"github.com/keylessci/keyless/internal/ciclaims"

	"github.com/keylessci/keyless/internal/testkit"
)

// TestGoOIDCVerifies has coreos/go-oidc, a verifier nobody here wrote, accept
// minted tokens through discovery and JWKS served by Handler over TLS.
func TestGoOIDCVerifies(t *testing.T) {
	tests := []struct {
		name string
		alg  string
	}{
		{name: "RS256", alg: "RS256"},
		{name: "ES256", alg: "ES256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, clk := newTestService(t)
			srv := httptest.NewTLSServer(s.Handler())
			defer srv.Close()
			ctx := context.Background()
			is, err := s.Create(ctx, CreateRequest{Profile: "generic", URL: srv.URL, Alg: tc.alg, Audience: []string{"sts.amazonaws.com"}})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.Mint(ctx, is.ID, MintRequest{Params: ciclaims.Params{Extra: map[string]string{"sub": "job:1"}}})
			if err != nil {
				t.Fatal(err)
			}
			cctx := oidc.ClientContext(ctx, srv.Client())
			p, err := oidc.NewProvider(cctx, srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			v := p.Verifier(&oidc.Config{ClientID: "sts.amazonaws.com", Now: clk.Now})
			idt, err := v.Verify(cctx, tok)
			if err != nil {
				t.Fatalf("go-oidc rejected the token: %v", err)
			}
			if idt.Subject != "job:1" || idt.Issuer != srv.URL {
				t.Errorf("sub %q iss %q", idt.Subject, idt.Issuer)
			}
			// A token for another audience is rejected: the verifier is real.
			if _, err := p.Verifier(&oidc.Config{ClientID: "other", Now: clk.Now}).Verify(cctx, tok); err == nil {
				t.Error("go-oidc accepted a token for another audience")
			}
		})
	}
}

// rewriteHost sends every request to one test server, keeping the path.
type rewriteHost struct {
	to   *url.URL
	next http.RoundTripper
}

func (r rewriteHost) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = r.to.Scheme, r.to.Host, ""
	return r.next.RoundTrip(req)
}

// TestGoOIDCCircleCI verifies a CircleCI-profile token at its real issuer
// URL, https://oidc.circleci.com/org/<org>, with every request routed to the
// local server: the discovery and jwks-pub.json paths are CircleCI's.
func TestGoOIDCCircleCI(t *testing.T) {
	s, _, clk := newTestService(t)
	srv := httptest.NewTLSServer(s.Handler())
	defer srv.Close()
	ctx := context.Background()
	is, err := s.Create(ctx, CreateRequest{OrgID: testOrg})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Mint(ctx, is.ID, MintRequest{Params: ciclaims.Params{ProjectID: testProject, UserID: testUser}})
	if err != nil {
		t.Fatal(err)
	}
	to, _ := url.Parse(srv.URL)
	var paths []string
	client := &http.Client{Transport: rewriteHost{to: to, next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		paths = append(paths, r.URL.Path)
		return srv.Client().Transport.RoundTrip(r)
	})}}
	cctx := oidc.ClientContext(ctx, client)
	p, err := oidc.NewProvider(cctx, "https://oidc.circleci.com/org/"+testOrg)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: testOrg, Now: clk.Now}).Verify(cctx, tok)
	if err != nil {
		t.Fatalf("go-oidc rejected the token: %v", err)
	}
	var claims struct {
		ProjectID string `json:"oidc.circleci.com/project-id"`
	}
	if err := idt.Claims(&claims); err != nil || claims.ProjectID != testProject {
		t.Errorf("project-id %q, err %v", claims.ProjectID, err)
	}
	want := []string{"/org/" + testOrg + "/.well-known/openid-configuration", "/org/" + testOrg + "/.well-known/jwks-pub.json"}
	if d := cmp.Diff(want, paths); d != "" {
		t.Errorf("fetched paths (-want +got):\n%s", d)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHandler(t *testing.T) {
	s, _, _ := newTestService(t)
	ctx := context.Background()
	for _, req := range []CreateRequest{
		{OrgID: testOrg, Alg: "ES256"},
		{Profile: "github", ID: "gh", Alg: "ES256"},
		{Profile: "gitlab", ID: "gl", Alg: "ES256"},
		{Profile: "generic", ID: "jenkins", URL: "https://ci.example.com/jenkins/", Alg: "ES256"},
	} {
		if _, err := s.Create(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	org := "/org/" + testOrg
	tests := []struct {
		name, method, host, path string
		status                   int
		issuer                   string // discovery: expected issuer
		jwksURI                  string
		keys                     int // jwks: expected key count
	}{
		{name: "circleci discovery", host: "127.0.0.1:1", path: org + "/.well-known/openid-configuration", status: 200,
			issuer: "https://oidc.circleci.com" + org, jwksURI: "https://oidc.circleci.com" + org + "/.well-known/jwks-pub.json"},
		{name: "circleci jwks-pub", path: org + "/.well-known/jwks-pub.json", status: 200, keys: 1},
		{name: "circleci jwks.json alias", path: org + "/.well-known/jwks.json", status: 200, keys: 1},
		{name: "generic by path", path: "/jenkins/.well-known/openid-configuration", status: 200,
			issuer: "https://ci.example.com/jenkins", jwksURI: "https://ci.example.com/jenkins/.well-known/jwks.json"},
		{name: "shared root path by host github", host: "token.actions.githubusercontent.com", path: "/.well-known/openid-configuration",
			status: 200, issuer: "https://token.actions.githubusercontent.com"},
		{name: "shared root path by host gitlab", host: "GitLab.com", path: "/.well-known/openid-configuration",
			status: 200, issuer: "https://gitlab.com"},
		{name: "shared root path ambiguous", host: "127.0.0.1", path: "/.well-known/openid-configuration", status: 404},
		{name: "alias by id", path: "/_keyless/issuers/gh/.well-known/openid-configuration", status: 200,
			issuer: "https://token.actions.githubusercontent.com"},
		{name: "alias jwks", path: "/_keyless/issuers/gl/.well-known/jwks.json", status: 200, keys: 1},
		{name: "alias unknown", path: "/_keyless/issuers/nope/.well-known/jwks.json", status: 404},
		{name: "unknown org", path: "/org/other/.well-known/openid-configuration", status: 404},
		{name: "unknown document", path: org + "/.well-known/keys", status: 404},
		{name: "not well-known", path: org, status: 404},
		{name: "post", method: "POST", path: org + "/.well-known/jwks-pub.json", status: 405},
		{name: "head", method: "HEAD", path: org + "/.well-known/jwks-pub.json", status: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(or(tc.method, "GET"), "http://"+or(tc.host, "localhost")+tc.path, nil)
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content-type %q", ct)
			}
			var body map[string]any
			if tc.method != "HEAD" {
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body is not JSON: %v: %s", err, rec.Body)
				}
			}
			if tc.status != 200 {
				if body["code"] == nil || body["message"] == nil {
					t.Errorf("error body %v lacks code/message", body)
				}
				return
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=300" {
				t.Errorf("Cache-Control %q", cc)
			}
			if tc.issuer != "" && body["issuer"] != tc.issuer {
				t.Errorf("issuer %v, want %s", body["issuer"], tc.issuer)
			}
			if tc.jwksURI != "" && body["jwks_uri"] != tc.jwksURI {
				t.Errorf("jwks_uri %v, want %s", body["jwks_uri"], tc.jwksURI)
			}
			if tc.issuer != "" {
				for _, f := range []string{"id_token_signing_alg_values_supported", "response_types_supported",
					"subject_types_supported", "scopes_supported", "claims_supported"} {
					if _, ok := body[f].([]any); !ok {
						t.Errorf("discovery lacks %s", f)
					}
				}
			}
			if tc.keys > 0 {
				keys, _ := body["keys"].([]any)
				if len(keys) != tc.keys {
					t.Errorf("%d keys, want %d", len(keys), tc.keys)
				}
				for _, k := range keys {
					m := k.(map[string]any)
					if m["kid"] == nil || m["alg"] != "ES256" || m["use"] != "sig" || m["d"] != nil {
						t.Errorf("bad published key %v", m)
					}
				}
			}
		})
	}
}

func TestKeySet(t *testing.T) {
	s, _, _ := newTestService(t)
	ctx := context.Background()
	is, err := s.Create(ctx, CreateRequest{OrgID: testOrg, Alg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{is.URL, is.URL + "/"} {
		set, ok, err := s.KeySet(ctx, u)
		if err != nil || !ok || len(set.Keys) != 1 || !set.Keys[0].IsPublic() {
			t.Errorf("KeySet(%s) = %v, %v, %v", u, set, ok, err)
		}
	}
	for _, u := range []string{"https://oidc.circleci.com/org/other", "https://token.actions.githubusercontent.com", ""} {
		if _, ok, err := s.KeySet(ctx, u); ok || err != nil {
			t.Errorf("KeySet(%q) = ok %v, err %v; want not hosted", u, ok, err)
		}
	}
}

func TestIsWellKnownPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/org/x/.well-known/openid-configuration":               true,
		"/.well-known/jwks.json":                                true,
		"/_keyless/issuers/x/.well-known/jwks-pub.json":         true,
		"/_keyless/issuers/x/token":                             false,
		"/_keyless/issuers/x/.well-known/openid-configuration/": false,
		"/.well-known/other":                                    false,
	} {
		if got := IsWellKnownPath(p); got != want {
			t.Errorf("IsWellKnownPath(%q) = %v", p, got)
		}
	}
}

func TestDiscoveryFields(t *testing.T) {
	s, _, _ := newTestService(t)
	is, err := s.Create(context.Background(), CreateRequest{OrgID: testOrg, Alg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := discoveryDoc(is)
	if err != nil {
		t.Fatal(err)
	}
	var d discovery
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	want := discovery{
		Issuer: "https://oidc.circleci.com/org/" + testOrg, JWKSURI: "https://oidc.circleci.com/org/" + testOrg + "/.well-known/jwks-pub.json",
		SigningAlgs: []string{"ES256"}, ResponseTypes: []string{"id_token"}, SubjectTypes: []string{"public"},
		Scopes: []string{"openid"}, ClaimsSupported: ciclaims.ClaimsSupported(ciclaims.CircleCI),
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !strings.Contains(string(b), `"oidc.circleci.com/project-id"`) {
		t.Error("claims_supported lacks project-id")
	}
}

func TestNewValidates(t *testing.T) {
	st := testkit.Store(t)
	aead := testAEAD(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "no store", cfg: Config{KeyEncryption: aead}},
		{name: "no aead", cfg: Config{Store: st}},
		{name: "negative ttl", cfg: Config{Store: st, KeyEncryption: aead, MaxTTL: -time.Second}},
		{name: "rotation shorter than max-age", cfg: Config{Store: st, KeyEncryption: aead, RotationPeriod: time.Minute}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Error("New succeeded")
			}
		})
	}
}
