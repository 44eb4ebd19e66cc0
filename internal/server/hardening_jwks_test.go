package server_test

// End-to-end fault tests of external issuers' key retrieval: every JWKS
// failure becomes AWS's InvalidIdentityToken, nothing else on the server is
// held up by it, the exchange recovers when the endpoint does, keys named
// in token headers are never fetched, unregistered issuers are never
// contacted, and one provider's key never verifies another's token.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithy "github.com/aws/smithy-go"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/server"
)

// wantRefusal asserts err is InvalidIdentityToken with exactly msg.
func wantRefusal(t *testing.T, out *sts.AssumeRoleWithWebIdentityOutput, err error, msg string) {
	t.Helper()
	if out != nil {
		t.Fatalf("got credentials, want InvalidIdentityToken %q", msg)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidIdentityToken" || ae.ErrorMessage() != msg {
		t.Fatalf("err = %v, want InvalidIdentityToken %q", err, msg)
	}
}

// refetchWait is more than the fetcher's least time between two fetches of
// one issuer (10s), so that moving the server clock by it allows a retry.
const refetchWait = 11 * time.Second

func TestHardeningJWKSFaults(t *testing.T) {
	nf := newNetFaults()
	f := newFixture(t, withDialer(nf))
	ctx := context.Background()
	other := newExtIssuer(t) // the host a redirect points to; never registered
	tests := []struct {
		name  string
		fault func(e *extIssuer)
		heal  func(e *extIssuer)
	}{
		{name: "host down", fault: func(e *extIssuer) { nf.setDown(e.hostPort, true) },
			heal: func(e *extIssuer) { nf.setDown(e.hostPort, false) }},
		{name: "jwks answers 500", fault: func(e *extIssuer) { e.setMode(jwks500) }},
		{name: "jwks answers garbage", fault: func(e *extIssuer) { e.setMode(jwksGarbage) }},
		{name: "jwks larger than 1 MiB", fault: func(e *extIssuer) { e.setMode(jwksHuge) }},
		{name: "jwks redirects to another host", fault: func(e *extIssuer) {
			e.mu.Lock()
			e.redirectTo = other.srv.URL + "/jwks"
			e.mu.Unlock()
			e.setMode(jwksRedirect)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newExtIssuer(t)
			role := f.register(t, e, fmt.Sprintf("fault-%d", i))
			tt.fault(e)
			out, err := f.exchange(ctx, role, e.mint(t, "k1"))
			wantRefusal(t, out, err, oidc.MsgKeyRetrieval)
			if other.requests.Load() != 0 || nf.dialed(other.hostPort) != 0 {
				t.Fatalf("the redirect target was contacted (%d requests)", other.requests.Load())
			}
			if log := f.srv.Log(); !containsAll(log, `"verification keys unavailable"`, e.hostPort) {
				t.Errorf("log does not record the key retrieval failure for %s", e.hostPort)
			}

			// The service recovers when the endpoint does (once the
			// fetcher's retry interval has passed).
			if tt.heal != nil {
				tt.heal(e)
			} else {
				e.setMode(jwksOK)
			}
			f.clock.Advance(refetchWait)
			if _, err := f.exchange(ctx, role, e.mint(t, "k1")); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
}

// TestHardeningJWKSHangIsolated proves a JWKS host that never answers
// stalls only the exchanges for that issuer: while one is in flight,
// GetCallerIdentity, a hosted CircleCI exchange and an exchange for another
// external issuer all complete, and the stalled exchange ends with
// InvalidIdentityToken once the fetch times out.
func TestHardeningJWKSHangIsolated(t *testing.T) {
	// The other traffic must finish while the fetch still hangs; a fetch
	// timeout far above its duration keeps a loaded machine from ending
	// the hang first (which would prove nothing either way).
	const fetchTimeout = 10 * time.Second
	f := newFixture(t, func(c *server.Config) { c.FetchTimeout = fetchTimeout })
	ctx := context.Background()
	slow, healthy := newExtIssuer(t), newExtIssuer(t)
	slowRole, healthyRole := f.register(t, slow, "slow"), f.register(t, healthy, "healthy")
	slow.setMode(jwksHang)

	type result struct {
		out *sts.AssumeRoleWithWebIdentityOutput
		err error
		at  time.Time
	}
	stalled := make(chan result, 1)
	go func() {
		out, err := f.exchange(ctx, slowRole, slow.mint(t, "k1"))
		stalled <- result{out, err, time.Now()}
	}()
	select {
	case <-slow.hanging:
	case <-time.After(15 * time.Second):
		t.Fatal("the exchange never reached the hanging JWKS host")
	}

	start := time.Now()
	if _, err := f.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity while a JWKS host hangs: %v", err)
	}
	if _, err := f.assume(ctx, f.mint(t, ciclaims.Params{}), nil); err != nil {
		t.Fatalf("hosted CircleCI exchange while a JWKS host hangs: %v", err)
	}
	if _, err := f.exchange(ctx, healthyRole, healthy.mint(t, "k1")); err != nil {
		t.Fatalf("exchange for another external issuer while a JWKS host hangs: %v", err)
	}
	done := time.Now()
	t.Logf("other traffic completed in %v while the JWKS host hung", done.Sub(start))

	var r result
	select {
	case r = <-stalled:
	case <-time.After(fetchTimeout + 30*time.Second):
		t.Fatal("the stalled exchange never ended: the fetch has no timeout")
	}
	if !r.at.After(done) {
		t.Fatalf("the stalled exchange ended (%v) before the other traffic finished (%v): the host did not hang", r.at, done)
	}
	wantRefusal(t, r.out, r.err, oidc.MsgKeyRetrieval)

	slow.setMode(jwksOK)
	f.clock.Advance(refetchWait)
	if _, err := f.exchange(ctx, slowRole, slow.mint(t, "k1")); err != nil {
		t.Fatalf("after the host recovered: %v", err)
	}
}

// TestHardeningJWKSRotation rotates an external issuer's keys: a token
// signed by a new key is accepted once the set may be refetched, and a key
// the issuer withdrew no longer verifies anything.
func TestHardeningJWKSRotation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e := newExtIssuer(t)
	role := f.register(t, e, "rotating")
	if _, err := f.exchange(ctx, role, e.mint(t, "k1")); err != nil {
		t.Fatalf("before rotation: %v", err)
	}
	before := e.requests.Load()

	e.addKey(t, "k2")
	e.setServed("k2")
	newTok, oldTok := e.mint(t, "k2"), e.mint(t, "k1")
	f.clock.Advance(refetchWait)
	if _, err := f.exchange(ctx, role, newTok); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if e.requests.Load() == before {
		t.Fatal("the unknown kid did not cause a refetch")
	}
	out, err := f.exchange(ctx, role, oldTok)
	wantRefusal(t, out, err, oidc.MsgKeyRetrieval)

	// Unknown kids do not let a caller hammer the provider: within the
	// refetch interval no new fetch happens.
	n := e.requests.Load()
	for range 5 {
		out, err := f.exchange(ctx, role, signToken(t, jwtSpec{iss: e.srv.URL, kid: "nope", key: e.key("k2")}))
		wantRefusal(t, out, err, oidc.MsgKeyRetrieval)
	}
	if got := e.requests.Load(); got != n {
		t.Errorf("5 tokens with unknown kids caused %d fetches within the refetch interval", got-n)
	}
}

// TestHardeningSmuggledKeysFetchNothing sends tokens naming keys in their
// headers (jku, x5u, jwk, x5c) and tokens of unregistered or look-alike
// issuers: all are refused and the attacker's host is never contacted.
func TestHardeningSmuggledKeysFetchNothing(t *testing.T) {
	nf := newNetFaults()
	f := newFixture(t, withDialer(nf))
	ctx := context.Background()
	legit, evil := newExtIssuer(t), newExtIssuer(t)
	role := f.register(t, legit, "legit")
	evil.addKey(t, "evil")
	evil.setServed("k1", "evil")
	evilJWK := jose.JSONWebKey{Key: &evil.key("evil").PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}
	x5c := []string{base64.StdEncoding.EncodeToString(evil.srv.Certificate().Raw)}

	tests := []struct {
		name string
		tok  jwtSpec
		msg  string
	}{
		{name: "jku and x5u point at the attacker", msg: oidc.MsgKeyRetrieval, tok: jwtSpec{iss: legit.srv.URL, kid: "evil", key: evil.key("evil"),
			headers: map[jose.HeaderKey]any{"jku": evil.srv.URL + "/jwks", "x5u": evil.srv.URL + "/cert.pem"}}},
		{name: "jku with the legit kid", msg: oidc.MsgInvalidToken, tok: jwtSpec{iss: legit.srv.URL, kid: "k1", key: evil.key("evil"),
			headers: map[jose.HeaderKey]any{"jku": evil.srv.URL + "/jwks"}}},
		{name: "embedded jwk", msg: oidc.MsgInvalidToken, tok: jwtSpec{iss: legit.srv.URL, kid: "k1", key: evil.key("evil"),
			headers: map[jose.HeaderKey]any{"jwk": evilJWK}}},
		{name: "embedded x5c", msg: oidc.MsgInvalidToken, tok: jwtSpec{iss: legit.srv.URL, kid: "k1", key: evil.key("evil"),
			headers: map[jose.HeaderKey]any{"x5c": x5c}}},
		{name: "unregistered issuer", msg: "No OpenIDConnect provider found in your account for " + evil.srv.URL,
			tok: jwtSpec{iss: evil.srv.URL, kid: "evil", key: evil.key("evil")}},
		{name: "registered host over http", msg: "No OpenIDConnect provider found in your account for http://" + legit.hostPort,
			tok: jwtSpec{iss: "http://" + legit.hostPort, kid: "k1", key: legit.key("k1")}},
		{name: "look-alike path on the registered host", msg: "No OpenIDConnect provider found in your account for " + legit.srv.URL + "/evil",
			tok: jwtSpec{iss: legit.srv.URL + "/evil", kid: "k1", key: evil.key("evil")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.exchange(ctx, role, signToken(t, tt.tok))
			wantRefusal(t, out, err, tt.msg)
			if n := evil.requests.Load(); n != 0 {
				t.Fatalf("the attacker's host received %d requests", n)
			}
			if n := nf.dialed(evil.hostPort); n != 0 {
				t.Fatalf("the fetcher dialed the attacker's host %d times", n)
			}
		})
	}
	if legit.requests.Load() == 0 {
		t.Error("the registered issuer was never fetched: the cases above proved nothing about fetching")
	}
	if _, err := f.exchange(ctx, role, legit.mint(t, "k1")); err != nil {
		t.Errorf("the legit token: %v", err)
	}
}

// TestHardeningCrossProviderConfusion registers two external providers
// whose keys share a kid: a token signed by A's key but claiming B's iss is
// refused even though A's key set is cached in the same process.
func TestHardeningCrossProviderConfusion(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := newExtIssuer(t), newExtIssuer(t)
	a.addKey(t, "a-only")
	a.setServed("k1", "a-only")
	roleA, roleB := f.register(t, a, "provider-a"), f.register(t, b, "provider-b")
	// Both sets fetched and cached first.
	if _, err := f.exchange(ctx, roleA, a.mint(t, "k1")); err != nil {
		t.Fatalf("A's own token: %v", err)
	}
	if _, err := f.exchange(ctx, roleB, b.mint(t, "k1")); err != nil {
		t.Fatalf("B's own token: %v", err)
	}
	tests := []struct {
		name, role string
		tok        jwtSpec
		code, msg  string
	}{
		{name: "A's key, B's iss, shared kid", role: roleB, tok: jwtSpec{iss: b.srv.URL, kid: "k1", key: a.key("k1")},
			code: "InvalidIdentityToken", msg: oidc.MsgInvalidToken},
		{name: "A's key, B's iss, A's kid", role: roleB, tok: jwtSpec{iss: b.srv.URL, kid: "a-only", key: a.key("a-only")},
			code: "InvalidIdentityToken", msg: oidc.MsgKeyRetrieval},
		{name: "A's key, B's iss, for A's role", role: roleA, tok: jwtSpec{iss: b.srv.URL, kid: "k1", key: a.key("k1")},
			code: "InvalidIdentityToken", msg: oidc.MsgInvalidToken},
		{name: "A's genuine token for B's role", role: roleB, tok: jwtSpec{iss: a.srv.URL, kid: "k1", key: a.key("k1")},
			code: "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.exchange(ctx, tt.role, signToken(t, tt.tok))
			if out != nil {
				t.Fatalf("got credentials for %s", aws.ToString(out.AssumedRoleUser.Arn))
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tt.code || (tt.msg != "" && ae.ErrorMessage() != tt.msg) {
				t.Fatalf("err = %v, want %s %q", err, tt.code, tt.msg)
			}
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
