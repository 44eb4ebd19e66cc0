package issuer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/ciclaims"

	"github.com/keylessci/keyless/internal/testkit"
)

// cachingVerifier verifies tokens against a JWKS it fetches from the handler
// and caches for exactly as long as Cache-Control allows. It never refetches
// on an unknown kid, so a key that signs before verifiers can have seen it
// fails verification.
type cachingVerifier struct {
	t       *testing.T
	handler func() *httptest.ResponseRecorder
	now     func() time.Time
	set     jose.JSONWebKeySet
	expires time.Time
	fetches int
}

func (v *cachingVerifier) keys() jose.JSONWebKeySet {
	now := v.now()
	if v.fetches > 0 && now.Before(v.expires) {
		return v.set
	}
	rec := v.handler()
	if rec.Code != 200 {
		v.t.Fatalf("jwks fetch: %d %s", rec.Code, rec.Body)
	}
	cc := rec.Header().Get("Cache-Control")
	age, ok := strings.CutPrefix(cc, "public, max-age=")
	sec, err := strconv.Atoi(age)
	if !ok || err != nil || sec <= 0 {
		v.t.Fatalf("Cache-Control %q", cc)
	}
	v.set = jose.JSONWebKeySet{}
	if err := json.Unmarshal(rec.Body.Bytes(), &v.set); err != nil {
		v.t.Fatal(err)
	}
	v.expires = now.Add(time.Duration(sec) * time.Second)
	v.fetches++
	return v.set
}

func (v *cachingVerifier) verify(tok string) error {
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return err
	}
	set := v.keys()
	kid := jws.Signatures[0].Header.KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		return fmt.Errorf("kid %s not in the cached JWKS", kid)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return err
	}
	var c struct{ Exp, Iat int64 }
	if err := json.Unmarshal(payload, &c); err != nil {
		return err
	}
	if now := v.now().Unix(); now >= c.Exp || now < c.Iat {
		return fmt.Errorf("token not valid at %d (iat %d exp %d)", now, c.Iat, c.Exp)
	}
	return nil
}

// TestRotationWithoutFailedVerification mints tokens continuously while the
// keys rotate (automatically and by hand) and checks that every token is
// accepted, when minted and again just before it expires, by a verifier
// that caches the JWKS as long as Cache-Control allows.
func TestRotationWithoutFailedVerification(t *testing.T) {
	st := testkit.Store(t)
	clk := testkit.NewClock(time.Time{})
	s, err := New(Config{Store: st, KeyEncryption: testAEAD(t), Now: clk.Now,
		RotationPeriod: 2 * time.Hour, JWKSMaxAge: 5 * time.Minute, MaxTTL: 5 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	is, err := s.Create(ctx, CreateRequest{OrgID: testOrg})
	if err != nil {
		t.Fatal(err)
	}
	firstKID := keysOf(t, st, is.ID)[0].KID
	v := &cachingVerifier{t: t, now: clk.Now, handler: func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/org/"+testOrg+"/.well-known/jwks-pub.json", nil))
		return rec
	}}
	type minted struct {
		tok string
		exp time.Time
	}
	var outstanding []minted
	kids := map[string]bool{}
	const step = 97 * time.Second
	start := clk.Now()
	manualDone := false
	for i := 0; ; i++ {
		now := clk.Now()
		if err := s.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		if !manualDone && now.Sub(start) > 3*time.Hour {
			if err := s.Rotate(ctx, is.ID); err != nil {
				t.Fatal(err)
			}
			manualDone = true
		}
		if now.Sub(start) < 7*time.Hour {
			ttl := time.Hour
			if i%2 == 1 {
				ttl = 6 * time.Hour // capped at MaxTTL
			}
			tok, err := s.Mint(ctx, is.ID, MintRequest{TTL: ttl, Params: ciclaims.Params{ProjectID: testProject}})
			if err != nil {
				t.Fatal(err)
			}
			if err := v.verify(tok); err != nil {
				t.Fatalf("at +%v a fresh token failed: %v", now.Sub(start), err)
			}
			h, _ := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
			kids[h.Signatures[0].Header.KeyID] = true
			outstanding = append(outstanding, minted{tok: tok, exp: now.Add(min(ttl, 5*time.Hour))})
		} else if len(outstanding) == 0 {
			break
		}
		// Recheck every outstanding token now and then, and each one at the
		// last step before it expires.
		kept := outstanding[:0]
		for _, m := range outstanding {
			last := !now.Add(step).Before(m.exp)
			if last || i%25 == 0 {
				if err := v.verify(m.tok); err != nil {
					t.Fatalf("at +%v a token expiring at +%v failed: %v", now.Sub(start), m.exp.Sub(start), err)
				}
			}
			if !last {
				kept = append(kept, m)
			}
		}
		outstanding = kept
		clk.Advance(step)
	}
	if len(kids) < 3 {
		t.Errorf("tokens were signed by %d keys, want at least 3 (two rotations)", len(kids))
	}
	if v.fetches < 10 {
		t.Errorf("the verifier fetched the JWKS only %d times", v.fetches)
	}
	// Keys whose tokens have all expired have left the store; the rest are
	// still published.
	for _, k := range keysOf(t, st, is.ID) {
		if k.KID == firstKID {
			t.Errorf("the first key remains after every token it signed expired")
		}
		if !k.PublishEnd.IsZero() && !clk.Now().Before(k.PublishEnd) {
			t.Errorf("key %s remains after its PublishEnd", k.KID)
		}
	}
}

func TestRotationSchedule(t *testing.T) {
	s, st, clk := newTestService(t) // max-age 5m, max TTL 5h, rotation 30d
	ctx := context.Background()
	is, err := s.Create(ctx, CreateRequest{OrgID: testOrg, Alg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := clk.Now()
	kidAt := func() string {
		t.Helper()
		tok, err := s.Mint(ctx, is.ID, MintRequest{Params: ciclaims.Params{ProjectID: testProject}})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := verify(t, s, is.URL, tok)
		return h.KeyID
	}
	published := func() int {
		set, _, err := s.KeySet(ctx, is.URL)
		if err != nil {
			t.Fatal(err)
		}
		return len(set.Keys)
	}
	a := kidAt()
	if err := s.Rotate(ctx, is.ID); err != nil {
		t.Fatal(err)
	}
	keys := keysOf(t, st, is.ID)
	if len(keys) != 2 || published() != 2 {
		t.Fatalf("after rotate: %d stored, %d published", len(keys), published())
	}
	// Both keys were created at the clock's one instant: the store orders
	// keys by CreatedAt only, so tell them apart by the key that signed.
	old, next := keys[0], keys[1]
	if next.KID == a {
		old, next = next, old
	}
	b := next.KID
	signFrom := t0.Add(5*time.Minute + margin)
	if old.KID != a || !next.SignFrom.Equal(signFrom) || !old.SignUntil.Equal(signFrom) ||
		!old.PublishEnd.Equal(signFrom.Add(5*time.Hour+margin)) {
		t.Errorf("schedule: %+v", keys)
	}
	if got := kidAt(); got != a {
		t.Errorf("right after rotate the new key signs")
	}
	clk.Advance(signFrom.Sub(t0) - time.Second)
	if got := kidAt(); got != a {
		t.Errorf("1s before SignFrom the new key signs")
	}
	clk.Advance(time.Second)
	if got := kidAt(); got != b {
		t.Errorf("at SignFrom the old key still signs")
	}
	// The old key stays published until all its tokens have expired.
	clk.Advance(5*time.Hour + margin - time.Second)
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if published() != 2 || len(keysOf(t, st, is.ID)) != 2 {
		t.Errorf("old key removed before its tokens expired")
	}
	clk.Advance(time.Second)
	if published() != 1 {
		t.Errorf("old key still published after PublishEnd")
	}
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if len(keysOf(t, st, is.ID)) != 1 || keysOf(t, st, is.ID)[0].KID != b {
		t.Errorf("Tick did not remove the old key: %+v", keysOf(t, st, is.ID))
	}
	// Automatic rotation once the key has signed for RotationPeriod, once.
	clk.Set(signFrom.Add(DefaultRotationPeriod - time.Second))
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if len(keysOf(t, st, is.ID)) != 1 {
		t.Errorf("rotated before the rotation period")
	}
	clk.Advance(time.Second)
	for range 3 {
		if err := s.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(keysOf(t, st, is.ID)) != 2 {
		t.Errorf("after the rotation period: %d keys, want 2 (one pending)", len(keysOf(t, st, is.ID)))
	}
	if got := kidAt(); got != b {
		t.Errorf("the pending key signs at once")
	}
}

func TestTickRecoversIssuerWithoutKeys(t *testing.T) {
	s, st, _ := newTestService(t)
	ctx := context.Background()
	is, err := s.Create(ctx, CreateRequest{OrgID: testOrg, Alg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keysOf(t, st, is.ID) {
		if err := st.DeleteSigningKey(ctx, is.ID, k.KID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Mint(ctx, is.ID, MintRequest{Params: ciclaims.Params{ProjectID: testProject}}); err == nil {
		t.Fatal("minted without a key")
	}
	if err := s.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mint(ctx, is.ID, MintRequest{Params: ciclaims.Params{ProjectID: testProject}}); err != nil {
		t.Fatalf("after Tick: %v", err)
	}
}

func TestDeleteDropsCachedSigners(t *testing.T) {
	s, _, _ := newTestService(t)
	ctx := context.Background()
	is, err := s.Create(ctx, CreateRequest{OrgID: testOrg, Alg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mint(ctx, is.ID, MintRequest{Params: ciclaims.Params{ProjectID: testProject}}); err != nil {
		t.Fatal(err)
	}
	if len(s.signers) != 1 {
		t.Fatalf("%d cached signers", len(s.signers))
	}
	if err := s.Delete(ctx, is.ID); err != nil {
		t.Fatal(err)
	}
	if len(s.signers) != 0 {
		t.Errorf("%d cached signers after delete", len(s.signers))
	}
	if _, err := s.Mint(ctx, is.ID, MintRequest{Params: ciclaims.Params{ProjectID: testProject}}); err == nil {
		t.Error("minted for a deleted issuer")
	}
}
