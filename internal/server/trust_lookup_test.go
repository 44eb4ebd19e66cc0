package server_test

// Security round 2, item 10: issuer documents are looked up through an
// index (see issuer.TestWellKnownLookupIsIndexed), issuers have a quota,
// and every miss answers alike.

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
)

func TestIssuerLookupsAndQuota(t *testing.T) {
	srv := servertest.Start(t, func(c *server.Config) { c.MaxIssuers = 3 })
	ctx := context.Background()
	// Two issuers share a path on different hosts: a request for that path
	// from a third host finds neither (they exist, but are not this host's).
	for _, r := range []issuer.CreateRequest{
		{Profile: "generic", ID: "a", URL: "https://ci-a.example/shared"},
		{Profile: "generic", ID: "b", URL: "https://ci-b.example/shared"},
	} {
		if _, err := srv.Issuers().Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	get := func(path, host string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		return do(t, req)
	}
	if code, _ := get("/shared/.well-known/openid-configuration", "ci-a.example"); code != http.StatusOK {
		t.Fatalf("issuer a on its own host: %d", code)
	}
	if code, _ := get("/_keyless/issuers/b/.well-known/jwks.json", ""); code != http.StatusOK {
		t.Fatalf("issuer b by id: %d", code)
	}

	t.Run("misses answer alike", func(t *testing.T) {
		wantCode, wantBody := get("/_keyless/issuers/no-such-issuer/.well-known/openid-configuration", "")
		if wantCode != http.StatusNotFound {
			t.Fatalf("unknown id: status %d", wantCode)
		}
		for name, req := range map[string][2]string{
			"unknown id, jwks":             {"/_keyless/issuers/no-such-issuer/.well-known/jwks.json", ""},
			"unknown path":                 {"/no/such/path/.well-known/openid-configuration", ""},
			"existing, not for this host":  {"/shared/.well-known/openid-configuration", "elsewhere.example"},
			"existing, not for this host2": {"/shared/.well-known/jwks-pub.json", "127.0.0.1"},
		} {
			code, body := get(req[0], req[1])
			if code != wantCode || body != wantBody {
				t.Errorf("%s: %d %s, want the unknown-id answer %d %s", name, code, body, wantCode, wantBody)
			}
		}
	})

	t.Run("quota", func(t *testing.T) {
		if _, err := srv.Issuers().Create(ctx, issuer.CreateRequest{Profile: "generic", ID: "c", URL: "https://ci-c.example/c"}); err != nil {
			t.Fatal(err)
		}
		req := signedRequest(t, http.MethodPost, srv.URL, "/_keyless/issuers",
			`{"profile":"generic","id":"d","url":"https://ci-d.example/d"}`, rootCreds, "keyless", time.Now())
		code, body := do(t, req)
		if code != http.StatusConflict || !strings.Contains(body, "LimitExceeded") || !strings.Contains(body, "IssuersPerAccount") {
			t.Fatalf("fourth issuer over a quota of 3: %d %s", code, body)
		}
	})
}
