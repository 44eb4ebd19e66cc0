package issuer

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/store"

	"github.com/keylessci/keyless/internal/testkit"
)

// listCounter counts full listings of the issuers.
type listCounter struct {
	Store
	lists atomic.Int32
}

func (c *listCounter) ListIssuers(ctx context.Context) ([]store.Issuer, error) {
	c.lists.Add(1)
	return c.Store.ListIssuers(ctx)
}

// TestWellKnownLookupIsIndexed: serving discovery and JWKS for many issuers
// does not list every issuer per request; the index is rebuilt only after a
// write (here or, via Invalidate, on another replica).
func TestWellKnownLookupIsIndexed(t *testing.T) {
	st := &listCounter{Store: testkit.Store(t)}
	clk := testkit.NewClock(time.Time{})
	s, err := New(Config{Store: st, KeyEncryption: testAEAD(t), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 40
	for i := range n {
		if _, err := s.Create(ctx, CreateRequest{Profile: "circleci", OrgID: fmt.Sprintf("org-%03d", i), Alg: "ES256"}); err != nil {
			t.Fatal(err)
		}
	}
	get := func(path string) int {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	st.lists.Store(0)
	for round := range 3 {
		for i := range n {
			for _, doc := range []string{"openid-configuration", "jwks-pub.json"} {
				if code := get(fmt.Sprintf("/org/org-%03d/.well-known/%s", i, doc)); code != http.StatusOK {
					t.Fatalf("round %d issuer %d %s: status %d", round, i, doc, code)
				}
			}
		}
		if code := get("/org/nope/.well-known/openid-configuration"); code != http.StatusNotFound {
			t.Fatalf("unknown issuer: status %d", code)
		}
	}
	if got := st.lists.Load(); got > 1 {
		t.Fatalf("%d full listings for %d requests, want at most 1 (the index build)", got, 3*(2*n+1))
	}
	// A new issuer is found at once; one made by another replica after
	// the server's version poll calls Invalidate.
	if _, err := s.Create(ctx, CreateRequest{Profile: "circleci", OrgID: "org-new"}); err != nil {
		t.Fatal(err)
	}
	if code := get("/org/org-new/.well-known/openid-configuration"); code != http.StatusOK {
		t.Fatalf("issuer created here: status %d", code)
	}
	if err := st.Store.CreateIssuer(ctx, store.Issuer{ID: "elsewhere", Profile: "generic", URL: "https://ci.example/elsewhere", Alg: "ES256"}); err != nil {
		t.Fatal(err)
	}
	s.Invalidate()
	if code := get("/elsewhere/.well-known/openid-configuration"); code != http.StatusOK {
		t.Fatalf("issuer created elsewhere, after Invalidate: status %d", code)
	}
}

func TestIssuerQuota(t *testing.T) {
	s, err := New(Config{Store: testkit.Store(t), KeyEncryption: testAEAD(t), MaxIssuers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 2 {
		if _, err := s.Create(ctx, CreateRequest{Profile: "generic", ID: fmt.Sprintf("i%d", i), URL: fmt.Sprintf("https://ci.example/%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.Create(ctx, CreateRequest{Profile: "generic", ID: "i2", URL: "https://ci.example/2"})
	if e := awserr.As(err); e == nil || e.Code != awserr.CodeLimitExceeded {
		t.Fatalf("third issuer: err = %v, want LimitExceeded", err)
	}
	if err := s.Delete(ctx, "i0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, CreateRequest{Profile: "generic", ID: "i2", URL: "https://ci.example/2"}); err != nil {
		t.Fatalf("after a delete there is room again: %v", err)
	}
}
