package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAdminAPI sends arbitrary methods, paths and bodies to the admin
// handler on the fake store. It must never panic or answer 5xx, every answer
// but 204 is JSON, and every error carries a code and a message.
func FuzzAdminAPI(f *testing.F) {
	methods := []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch}
	seeds := []struct {
		method uint8
		path   string
		body   string
	}{
		{1, "", `{"profile":"circleci","org_id":"org-2","alg":"ES256"}`},
		{1, "", `{"profile":"generic","id":"g","url":"https://ci.example.com:8443/x","alg":"ES256","aud":["a"]}`},
		{1, "", `{"profile":"github","id":"gh","alg":"ES256"}`},
		{1, "", `{"profile":"circleci","org_id":"x","alg":"ES256"} {}`},
		{1, "", `{"profil":"circleci"}`},
		{1, "", `{"org_id":"\u0000\ud800","alg":"ES256"}`},
		{0, "", ""},
		{0, "/" + testOrg, ""},
		{2, "/" + testOrg, ""},
		{1, "/" + testOrg + "/rotate", ""},
		{1, "/" + testOrg + "/token", `{"project_id":"p","v2":true,"vcs_origin":"github.com/o/r","vcs_ref":"refs/heads/main","ttl":"30m","claims":{"x":"1"}}`},
		{1, "/" + testOrg + "/token", `{"project_id":"p","ttl":"-5s","aud":["a","b"],"context_ids":["c"]}`},
		{1, "/" + testOrg + "/token", `{"project_id":"p","claims":{"iss":"x","exp":1}}`},
		{1, "/" + testOrg + "/token", `{"project_id":"p","ttl":"99999h"}`},
		{1, "/" + testOrg + "/token", `[1,2,3]`},
		{0, "/" + testOrg + "/.well-known/jwks-pub.json", ""},
		{0, "/" + testOrg + "/.well-known/openid-configuration", ""},
		{0, "//..//" + testOrg + "/token/", ""},
		{3, "x", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	s, _, _ := newTestService(f)
	if _, err := s.Create(context.Background(), CreateRequest{OrgID: testOrg, Alg: "ES256"}); err != nil {
		f.Fatal(err)
	}
	h := adminHandler(s)
	f.Fuzz(func(t *testing.T, method uint8, path, body string) {
		req := httptest.NewRequest(http.MethodGet, "/", strings.NewReader(body))
		req.Method = methods[int(method)%len(methods)]
		req.URL.Path = "/_keyless/issuers" + path
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: status %d: %s", req.Method, req.URL.Path, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusNoContent || (rec.Code >= 300 && rec.Code < 400) {
			return // no body; or the mux redirecting an unclean path to its clean form
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %q: status %d, answer is not a JSON object: %v: %q", req.Method, req.URL.Path, rec.Code, err, rec.Body)
		}
		if rec.Code >= 400 {
			if code, _ := out["code"].(string); code == "" {
				t.Fatalf("%s %q: error %d without code: %v", req.Method, req.URL.Path, rec.Code, out)
			}
			if msg, _ := out["message"].(string); msg == "" {
				t.Fatalf("%s %q: error %d without message: %v", req.Method, req.URL.Path, rec.Code, out)
			}
		}
	})
}
