package issuer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/keylessci/keyless/internal/ciclaims"
)

func adminDo(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Code != http.StatusNoContent {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: content-type %q", method, path, ct)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v: %q", method, path, err, rec.Body)
		}
	}
	return rec.Code, out
}

// adminHandler is the admin API as the server mounts it, without
// authentication: AdminMux over AdminRoutes, and the public well-known
// aliases under the admin prefix.
func adminHandler(s *Service) http.Handler {
	mux := AdminMux(s.AdminRoutes(), func(rt AdminRoute) http.Handler { return rt.Handler })
	wk := s.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && IsWellKnownPath(r.URL.Path) {
			wk.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func TestAdminHandler(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string // for errors
		check                    func(t *testing.T, s *Service, out map[string]any)
	}{
		{name: "create circleci", method: "POST", path: "/_keyless/issuers", body: `{"profile":"circleci","org_id":"org-2","alg":"ES256"}`,
			status: 201, check: func(t *testing.T, _ *Service, out map[string]any) {
				if out["id"] != "org-2" || out["url"] != "https://oidc.circleci.com/org/org-2" || out["alg"] != "ES256" {
					t.Errorf("created %v", out)
				}
				keys, _ := out["keys"].([]any)
				if len(keys) != 1 || keys[0].(map[string]any)["status"] != "signing" {
					t.Errorf("keys %v", out["keys"])
				}
			}},
		{name: "create duplicate", method: "POST", path: "/_keyless/issuers", body: `{"org_id":"` + testOrg + `"}`, status: 409, code: "EntityAlreadyExists"},
		{name: "create bad json", method: "POST", path: "/_keyless/issuers", body: `{"profile":`, status: 400, code: "InvalidInput"},
		{name: "create unknown field", method: "POST", path: "/_keyless/issuers", body: `{"profil":"circleci"}`, status: 400, code: "InvalidInput"},
		{name: "create trailing data", method: "POST", path: "/_keyless/issuers", body: `{"org_id":"x","alg":"ES256"} {}`, status: 400, code: "InvalidInput"},
		{name: "create empty body", method: "POST", path: "/_keyless/issuers", status: 400, code: "InvalidInput"},
		{name: "create bad profile", method: "POST", path: "/_keyless/issuers", body: `{"profile":"jenkins"}`, status: 400, code: "InvalidInput"},
		{name: "create generic without url", method: "POST", path: "/_keyless/issuers", body: `{"profile":"generic"}`, status: 400, code: "InvalidInput"},
		{name: "create body too large", method: "POST", path: "/_keyless/issuers", body: `{"id":"` + strings.Repeat("a", 70<<10) + `"}`, status: 413},
		{name: "list", method: "GET", path: "/_keyless/issuers", status: 200, check: func(t *testing.T, _ *Service, out map[string]any) {
			if l, _ := out["issuers"].([]any); len(l) != 1 {
				t.Errorf("issuers %v", out["issuers"])
			}
		}},
		{name: "list wrong method", method: "PUT", path: "/_keyless/issuers", status: 405},
		{name: "get", method: "GET", path: "/_keyless/issuers/" + testOrg, status: 200, check: func(t *testing.T, _ *Service, out map[string]any) {
			if out["jwks_uri"] != "https://oidc.circleci.com/org/"+testOrg+"/.well-known/jwks-pub.json" {
				t.Errorf("jwks_uri %v", out["jwks_uri"])
			}
			if aud, _ := out["audience"].([]any); len(aud) != 1 || aud[0] != testOrg {
				t.Errorf("audience %v", out["audience"])
			}
		}},
		{name: "get unknown", method: "GET", path: "/_keyless/issuers/nope", status: 404, code: "NoSuchEntity"},
		{name: "delete", method: "DELETE", path: "/_keyless/issuers/" + testOrg, status: 204, check: func(t *testing.T, s *Service, _ map[string]any) {
			if _, err := s.Get(context.Background(), testOrg); err == nil {
				t.Error("issuer still there")
			}
		}},
		{name: "delete unknown", method: "DELETE", path: "/_keyless/issuers/nope", status: 404, code: "NoSuchEntity"},
		{name: "rotate", method: "POST", path: "/_keyless/issuers/" + testOrg + "/rotate", status: 200, check: func(t *testing.T, _ *Service, out map[string]any) {
			// Both keys were created at the test clock's one instant: the
			// store orders keys by CreatedAt only, so their order is open.
			keys, _ := out["keys"].([]any)
			var statuses []string
			for _, k := range keys {
				statuses = append(statuses, fmt.Sprint(k.(map[string]any)["status"]))
			}
			slices.Sort(statuses)
			if !slices.Equal(statuses, []string{"next", "signing"}) {
				t.Errorf("keys after rotate %v", out["keys"])
			}
		}},
		{name: "rotate unknown", method: "POST", path: "/_keyless/issuers/nope/rotate", status: 404, code: "NoSuchEntity"},
		{name: "rotate wrong method", method: "GET", path: "/_keyless/issuers/" + testOrg + "/rotate", status: 405},
		{name: "token", method: "POST", path: "/_keyless/issuers/" + testOrg + "/token",
			body:   `{"project_id":"` + testProject + `","v2":true,"vcs_origin":"github.com/o/r","vcs_ref":"refs/heads/main","ttl":"30m","claims":{"x":"1"}}`,
			status: 200, check: func(t *testing.T, s *Service, out map[string]any) {
				tok, _ := out["token"].(string)
				_, claims := verify(t, s, "https://oidc.circleci.com/org/"+testOrg, tok)
				if num(t, claims["exp"])-num(t, claims["iat"]) != 1800 || claims["oidc.circleci.com/project-id"] != testProject ||
					!strings.HasSuffix(claims["sub"].(string), "/vcs-origin/github.com/o/r/vcs-ref/refs/heads/main") {
					t.Errorf("claims %v", claims)
				}
			}},
		{name: "token unknown issuer", method: "POST", path: "/_keyless/issuers/nope/token", body: `{"project_id":"p"}`, status: 404, code: "NoSuchEntity"},
		{name: "token missing project", method: "POST", path: "/_keyless/issuers/" + testOrg + "/token", body: `{}`, status: 400, code: "InvalidInput"},
		{name: "token empty body", method: "POST", path: "/_keyless/issuers/" + testOrg + "/token", status: 400, code: "InvalidInput"},
		{name: "token unknown field", method: "POST", path: "/_keyless/issuers/" + testOrg + "/token", body: `{"project":"p"}`, status: 400, code: "InvalidInput"},
		{name: "token bad ttl", method: "POST", path: "/_keyless/issuers/" + testOrg + "/token", body: `{"project_id":"p","ttl":"forever"}`, status: 400, code: "InvalidInput"},
		{name: "token reserved claim", method: "POST", path: "/_keyless/issuers/" + testOrg + "/token", body: `{"project_id":"p","claims":{"iss":"x"}}`, status: 400, code: "InvalidInput"},
		{name: "token not an object", method: "POST", path: "/_keyless/issuers/" + testOrg + "/token", body: `[1]`, status: 400, code: "InvalidInput"},
		{name: "token wrong method", method: "GET", path: "/_keyless/issuers/" + testOrg + "/token", status: 405},
		{name: "unknown subresource", method: "POST", path: "/_keyless/issuers/" + testOrg + "/keys", status: 404},
		{name: "unknown resource", method: "GET", path: "/_keyless/roles", status: 404},
		{name: "issuers prefix lookalike", method: "GET", path: "/_keyless/issuersx", status: 404},
		{name: "trailing slash", method: "GET", path: "/_keyless/issuers/" + testOrg + "/", status: 200},
		{name: "slash in id", method: "GET", path: "/_keyless/issuers/a%2Fb", status: 404, code: "NotFound"},
		{name: "delete wrong method", method: "PUT", path: "/_keyless/issuers/" + testOrg, status: 405, code: "MethodNotAllowed"},
		{name: "well-known via admin", method: "GET", path: "/_keyless/issuers/" + testOrg + "/.well-known/jwks-pub.json", status: 200,
			check: func(t *testing.T, _ *Service, out map[string]any) {
				if keys, _ := out["keys"].([]any); len(keys) != 1 {
					t.Errorf("jwks %v", out)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := newTestService(t)
			if _, err := s.Create(context.Background(), CreateRequest{OrgID: testOrg, Alg: "ES256"}); err != nil {
				t.Fatal(err)
			}
			status, out := adminDo(t, adminHandler(s), tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, out)
			}
			if status >= 400 {
				if out["code"] == nil || out["message"] == nil {
					t.Errorf("error body %v lacks code/message", out)
				}
				if tc.code != "" && out["code"] != tc.code {
					t.Errorf("code %v, want %s", out["code"], tc.code)
				}
			}
			if tc.check != nil {
				tc.check(t, s, out)
			}
		})
	}
}

// TestAdminMintRequestRoundTrip checks that a MintRequest marshalled by a
// client is what the admin API decodes.
func TestAdminMintRequestRoundTrip(t *testing.T) {
	s, _, _ := newTestService(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, CreateRequest{Profile: "github", ID: "gh", Alg: "ES256"}); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(MintRequest{Params: ciclaims.Params{Repository: "octo/app", Ref: "refs/tags/v1",
		Audience: []string{"a"}, Extra: map[string]string{"enterprise_id": "9"}}})
	if err != nil {
		t.Fatal(err)
	}
	status, out := adminDo(t, adminHandler(s), "POST", "/_keyless/issuers/gh/token", string(body))
	if status != 200 {
		t.Fatalf("status %d: %v", status, out)
	}
	_, claims := verify(t, s, "https://token.actions.githubusercontent.com", out["token"].(string))
	if claims["sub"] != "repo:octo/app:ref:refs/tags/v1" || claims["aud"] != "a" || claims["enterprise_id"] != json.Number("9") {
		t.Errorf("claims %v", claims)
	}
}
