package oidc

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/testkit"
)

func testFetcher(clock *testkit.Clock, roots *x509.CertPool, mod func(*FetcherConfig)) *Fetcher {
	cfg := FetcherConfig{RootCAs: roots, Timeout: 2 * time.Second, Now: clock.Now,
		MinTTL: time.Minute, MaxTTL: time.Hour, DefaultTTL: 10 * time.Minute, RefetchInterval: 10 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	return NewFetcher(cfg)
}

func wantAWS(t *testing.T, err error, msg string) {
	t.Helper()
	e := awserr.As(err)
	if e == nil || e.Code != awserr.CodeInvalidIdentityToken || e.Status != 400 || e.Message != msg {
		t.Fatalf("err = %v, want InvalidIdentityToken 400 %q", err, msg)
	}
}

func TestFetcherFaults(t *testing.T) {
	testKeys(t)
	good := jwk(rsa2048, "k1", "RS256")
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "https://" + down.Addr().String()
	down.Close()
	other := newProvider(t, nil, good) // another host (port) for redirects

	tests := []struct {
		name    string
		setup   func(p *provider)
		issuer  func(p *provider) string // default p.srv.URL
		cfg     func(*FetcherConfig)
		wantErr string // substring of the internal cause
	}{
		{name: "endpoint down", issuer: func(*provider) string { return downURL }, wantErr: "connect"},
		{name: "JWKS 500", setup: func(p *provider) { p.status = 500 }, wantErr: "status 500"},
		{name: "JWKS garbage", setup: func(p *provider) { p.jwks = []byte("<html>oops</html>") }, wantErr: "jwks"},
		{name: "JWKS without keys", setup: func(p *provider) { p.jwks = []byte(`{"kyes":[]}`) }, wantErr: "no keys member"},
		{name: "JWKS with duplicate members", setup: func(p *provider) { p.jwks = []byte(`{"keys":[],"keys":[]}`) }, wantErr: "duplicate"},
		{name: "JWKS mixing in a symmetric key", setup: func(p *provider) {
			p.jwks = []byte(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`)
		}, wantErr: "symmetric"},
		{name: "discovery garbage", setup: func(p *provider) { p.discovery = []byte("not json") }, wantErr: "discovery"},
		{name: "discovery without jwks_uri", setup: func(p *provider) { p.discovery = []byte(`{"issuer":"x"}`) }, wantErr: "no jwks_uri"},
		{name: "jwks_uri over http", setup: func(p *provider) {
			p.discovery = []byte(`{"jwks_uri":"http://` + strings.TrimPrefix(p.srv.URL, "https://") + `/jwks"}`)
		}, wantErr: "not an https URL"},
		{name: "JWKS larger than the cap", setup: func(p *provider) {
			p.jwks = append(append([]byte(`{"keys":[]`), strings.Repeat(" ", 1<<20)...), '}')
		}, wantErr: "larger than"},
		{name: "JWKS slower than the timeout", setup: func(p *provider) { p.hang = make(chan struct{}) },
			cfg: func(c *FetcherConfig) { c.Timeout = 200 * time.Millisecond }, wantErr: "jwks"},
		{name: "redirect to another host", setup: func(p *provider) { p.redirectTo = other.srv.URL + "/jwks" }, wantErr: "another host"},
		{name: "issuer over http", issuer: func(p *provider) string { return strings.Replace(p.srv.URL, "https", "http", 1) }, wantErr: "not an https URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, nil, good)
			if tc.setup != nil {
				p.set(tc.setup)
			}
			issuer := p.srv.URL
			if tc.issuer != nil {
				issuer = tc.issuer(p)
			}
			roots := p.pool()
			roots.AddCert(other.srv.Certificate())
			var hooked []error
			f := testFetcher(testkit.NewClock(testNow), roots, func(c *FetcherConfig) {
				c.OnFetch = func(_ string, err error) { hooked = append(hooked, err) }
				if tc.cfg != nil {
					tc.cfg(c)
				}
			})
			keys, err := f.Keys(context.Background(), issuer, nil, "k1")
			if keys != nil {
				t.Fatalf("got keys %v despite the fault", keys)
			}
			wantAWS(t, err, MsgKeyRetrieval)
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("internal cause %q does not mention %q", err, tc.wantErr)
			}
			if other.jwksHits.Load() != 0 {
				t.Fatal("the other host was contacted")
			}
			if strings.HasPrefix(issuer, "https") && (len(hooked) != 1 || hooked[0] == nil) {
				t.Fatalf("OnFetch calls = %v, want one failure", hooked)
			}
		})
	}
}

func TestFetcherSameHostRedirect(t *testing.T) {
	testKeys(t)
	p := newProvider(t, nil, jwk(rsa2048, "k1", "RS256"))
	p.set(func(p *provider) { p.discovery = []byte(`{"jwks_uri":"` + p.srv.URL + `/moved"}`) })
	keys, err := testFetcher(testkit.NewClock(testNow), p.pool(), nil).Keys(context.Background(), p.srv.URL, nil, "k1")
	if err != nil || len(keys.Key("k1")) != 1 {
		t.Fatalf("keys=%v err=%v, want k1 through a same-host redirect", keys, err)
	}
}

func TestFetcherRotationAndRateLimit(t *testing.T) {
	testKeys(t)
	p := newProvider(t, nil, jwk(rsa2048, "k1", "RS256"))
	clock := testkit.NewClock(testNow)
	f := testFetcher(clock, p.pool(), nil)
	ctx := context.Background()
	get := func(kid string) *jose.JSONWebKeySet {
		t.Helper()
		keys, err := f.Keys(ctx, p.srv.URL, nil, kid)
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	steps := []struct {
		name        string
		advance     time.Duration
		rotate      bool
		kid         string
		wantFetches int32
		wantKID     bool
	}{
		{name: "first use fetches", kid: "k1", wantFetches: 1, wantKID: true},
		{name: "cached", advance: time.Second, kid: "k1", wantFetches: 1, wantKID: true},
		{name: "new kid within the refetch interval is not fetched", rotate: true, kid: "k2", wantFetches: 1, wantKID: false},
		{name: "new kid after the interval refetches", advance: 10 * time.Second, kid: "k2", wantFetches: 2, wantKID: true},
		{name: "garbage kids are rate limited", advance: time.Second, kid: "nope", wantFetches: 2, wantKID: false},
		{name: "garbage kids again", advance: time.Second, kid: "nope2", wantFetches: 2, wantKID: false},
		{name: "after the interval one more fetch", advance: 10 * time.Second, kid: "nope3", wantFetches: 3, wantKID: false},
		{name: "old kid still served from cache", advance: time.Second, kid: "k1", wantFetches: 3, wantKID: true},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		if s.rotate {
			p.set(func(p *provider) { p.jwks = jwksJSON(t, jwk(rsa2048, "k1", "RS256"), jwk(ec256, "k2", "ES256")) })
		}
		keys := get(s.kid)
		if got := p.jwksHits.Load(); got != s.wantFetches {
			t.Fatalf("%s: JWKS fetches = %d, want %d", s.name, got, s.wantFetches)
		}
		if got := len(keys.Key(s.kid)) == 1; got != s.wantKID {
			t.Fatalf("%s: kid %s present = %v, want %v", s.name, s.kid, got, s.wantKID)
		}
	}
	// A token with the unknown kid gets the distinguishable error.
	tok, err := Parse(signRaw(t, "RS256", rsa2048, `{"alg":"RS256","kid":"nope"}`, mustJSON(t, baseClaims())))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.verify(get("nope")); !errors.Is(err, ErrUnknownKID) {
		t.Fatalf("Verify = %v, want ErrUnknownKID", err)
	}
}

func TestFetcherCacheControl(t *testing.T) {
	testKeys(t)
	tests := []struct {
		name         string
		cacheControl string
		stillCached  time.Duration // no refetch at this age
		expired      time.Duration // refetch at this age
	}{
		{name: "max-age honoured", cacheControl: "public, max-age=300", stillCached: 290 * time.Second, expired: 301 * time.Second},
		{name: "max-age below MinTTL is raised", cacheControl: "max-age=5", stillCached: 50 * time.Second, expired: 61 * time.Second},
		{name: "max-age above MaxTTL is capped", cacheControl: "max-age=31536000", stillCached: 59 * time.Minute, expired: time.Hour + time.Second},
		{name: "no-store means MinTTL", cacheControl: "max-age=600, no-store", stillCached: 50 * time.Second, expired: 61 * time.Second},
		{name: "absent means DefaultTTL", cacheControl: "", stillCached: 9 * time.Minute, expired: 10*time.Minute + time.Second},
		{name: "malformed max-age means DefaultTTL", cacheControl: "max-age=soon", stillCached: 9 * time.Minute, expired: 10*time.Minute + time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, nil, jwk(rsa2048, "k1", "RS256"))
			p.set(func(p *provider) { p.cacheControl = tc.cacheControl })
			clock := testkit.NewClock(testNow)
			f := testFetcher(clock, p.pool(), nil)
			for _, step := range []struct {
				at   time.Duration
				want int32
			}{{0, 1}, {tc.stillCached, 1}, {tc.expired, 2}} {
				clock.Advance(step.at - (clock.Now().Sub(testNow)))
				if _, err := f.Keys(context.Background(), p.srv.URL, nil, "k1"); err != nil {
					t.Fatal(err)
				}
				if got := p.jwksHits.Load(); got != step.want {
					t.Fatalf("at %v: fetches = %d, want %d", step.at, got, step.want)
				}
			}
		})
	}
}

func TestFetcherSingleflight(t *testing.T) {
	testKeys(t)
	p := newProvider(t, nil, jwk(rsa2048, "k1", "RS256"))
	release := make(chan struct{})
	p.set(func(p *provider) { p.hang = release })
	f := testFetcher(testkit.NewClock(testNow), p.pool(), nil)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := f.Keys(context.Background(), p.srv.URL, nil, "k1")
			errs <- err
		})
	}
	// Hold the first fetch in the JWKS handler until it has arrived; the
	// other callers queue behind it meanwhile. (If some start late they
	// find the cache filled; either way the provider sees one fetch.)
	for p.jwksHits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if d, j := p.discoveryHits.Load(), p.jwksHits.Load(); d != 1 || j != 1 {
		t.Fatalf("%d concurrent callers caused %d discovery and %d JWKS fetches, want 1 each", n, d, j)
	}
}

func TestFetcherStaleIfErrorAndRecovery(t *testing.T) {
	testKeys(t)
	p := newProvider(t, nil, jwk(rsa2048, "k1", "RS256"))
	clock := testkit.NewClock(testNow)
	var failures int
	f := testFetcher(clock, p.pool(), func(c *FetcherConfig) {
		c.OnFetch = func(_ string, err error) {
			if err != nil {
				failures++
			}
		}
	})
	ctx := context.Background()
	if _, err := f.Keys(ctx, p.srv.URL, nil, "k1"); err != nil {
		t.Fatal(err)
	}
	p.set(func(p *provider) { p.status = 500 })
	clock.Advance(11 * time.Minute) // past DefaultTTL

	keys, err := f.Keys(ctx, p.srv.URL, nil, "k1")
	if err != nil || len(keys.Key("k1")) != 1 {
		t.Fatalf("stale-if-error: keys=%v err=%v, want the stale set", keys, err)
	}
	if failures != 1 || p.jwksHits.Load() != 2 {
		t.Fatalf("failures=%d fetches=%d, want a failed refresh attempt", failures, p.jwksHits.Load())
	}
	// A kid the stale set lacks is not papered over.
	clock.Advance(11 * time.Second)
	_, err = f.Keys(ctx, p.srv.URL, nil, "k9")
	wantAWS(t, err, MsgKeyRetrieval)

	// Failures are not retried inside the refetch interval.
	clock.Advance(time.Second)
	if _, err := f.Keys(ctx, p.srv.URL, nil, "k1"); err != nil {
		t.Fatal(err)
	}
	if p.jwksHits.Load() != 3 {
		t.Fatalf("fetches = %d, want no retry within the interval", p.jwksHits.Load())
	}
	// Past MaxStale the stale set is no longer served.
	clock.Advance(25 * time.Hour)
	_, err = f.Keys(ctx, p.srv.URL, nil, "k1")
	wantAWS(t, err, MsgKeyRetrieval)

	// The provider recovers, and so does the fetcher, after the interval.
	p.set(func(p *provider) {
		p.status = 0
		p.jwks = jwksJSON(t, jwk(rsa2048, "k1", "RS256"), jwk(ec256, "k2", ""))
	})
	clock.Advance(11 * time.Second)
	keys, err = f.Keys(ctx, p.srv.URL, nil, "k2")
	if err != nil || len(keys.Key("k2")) != 1 {
		t.Fatalf("after recovery: keys=%v err=%v", keys, err)
	}
}

func TestFetcherNegativeCache(t *testing.T) {
	testKeys(t)
	p := newProvider(t, nil, jwk(rsa2048, "k1", "RS256"))
	p.set(func(p *provider) { p.status = 503 })
	clock := testkit.NewClock(testNow)
	f := testFetcher(clock, p.pool(), nil)
	for i := range 5 {
		_, err := f.Keys(context.Background(), p.srv.URL, nil, "k1")
		wantAWS(t, err, MsgKeyRetrieval)
		clock.Advance(time.Second)
		_ = i
	}
	if got := p.jwksHits.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1 within the refetch interval", got)
	}
}

func TestFetcherTLSTrust(t *testing.T) {
	testKeys(t)
	pki := newTestPKI(t)
	p := newProvider(t, &pki.tlsCert, jwk(rsa2048, "k1", "RS256"))
	trusted := x509.NewCertPool()
	trusted.AddCert(pki.ca)
	untrusted := x509.NewCertPool() // trusts nothing: stands in for system roots

	tests := []struct {
		name        string
		roots       *x509.CertPool
		thumbprints []string
		wantMsg     string // "" = success
	}{
		{name: "trusted via RootCAs", roots: trusted},
		{name: "trusted via RootCAs, thumbprints ignored", roots: trusted, thumbprints: []string{strings.Repeat("0", 40)}},
		{name: "thumbprint of the top (CA) certificate", roots: untrusted, thumbprints: []string{Thumbprint(pki.ca)}},
		{name: "thumbprint in upper case", roots: untrusted, thumbprints: []string{strings.ToUpper(Thumbprint(pki.ca))}},
		{name: "thumbprint of the leaf", roots: untrusted, thumbprints: []string{strings.Repeat("a", 40), Thumbprint(pki.leaf)}},
		{name: "thumbprint mismatch", roots: untrusted, thumbprints: []string{strings.Repeat("a", 40)}, wantMsg: MsgThumbprint},
		{name: "no thumbprints and untrusted", roots: untrusted, wantMsg: MsgThumbprint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := testFetcher(testkit.NewClock(testNow), tc.roots, nil)
			keys, err := f.Keys(context.Background(), p.srv.URL, tc.thumbprints, "k1")
			if tc.wantMsg == "" {
				if err != nil || len(keys.Key("k1")) != 1 {
					t.Fatalf("keys=%v err=%v", keys, err)
				}
				return
			}
			wantAWS(t, err, tc.wantMsg)
		})
	}
	t.Run("thumbprint matches but host does not", func(t *testing.T) {
		// "localhost" resolves to the same server, but the leaf is for 127.0.0.1 only.
		issuer := strings.Replace(p.srv.URL, "127.0.0.1", "localhost", 1)
		f := testFetcher(testkit.NewClock(testNow), untrusted, func(c *FetcherConfig) {
			c.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, p.srv.Listener.Addr().String())
			}
		})
		_, err := f.Keys(context.Background(), issuer, []string{Thumbprint(pki.ca)}, "k1")
		wantAWS(t, err, MsgKeyRetrieval)
	})
}

func TestFetcherHangingIssuerIsolated(t *testing.T) {
	testKeys(t)
	slow := newProvider(t, nil, jwk(rsa2048, "k1", "RS256"))
	fast := newProvider(t, nil, jwk(rsa2048, "k1", "RS256"))
	slow.set(func(p *provider) { p.hang = make(chan struct{}) })
	roots := slow.pool()
	roots.AddCert(fast.srv.Certificate())
	f := testFetcher(testkit.NewClock(testNow), roots, func(c *FetcherConfig) { c.Timeout = 30 * time.Second })

	slowDone := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, err := f.Keys(ctx, slow.srv.URL, nil, "k1")
		slowDone <- err
	}()
	for slow.jwksHits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	if _, err := f.Keys(context.Background(), fast.srv.URL, nil, "k1"); err != nil {
		t.Fatalf("fast issuer failed while another hangs: %v", err)
	}
	select {
	case err := <-slowDone:
		t.Fatalf("hanging issuer returned early: %v", err)
	default:
	}
	// The waiting caller can leave; it gets the key-retrieval error.
	cancel()
	wantAWS(t, <-slowDone, MsgKeyRetrieval)
}
