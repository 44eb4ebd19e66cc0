package testkit_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/keylessci/keyless/internal/sigv4"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/store/storetest"
	"github.com/keylessci/keyless/internal/testkit"
)

// TestStorePassesContract runs the storage contract's conformance suite
// against the store every unit test gets from testkit.Store: the tests'
// store cannot drift from the contract, because it is checked by it.
func TestStorePassesContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return testkit.Store(t) })
}

func TestClock(t *testing.T) {
	c := testkit.NewClock(time.Time{})
	if !c.Now().Equal(testkit.Epoch) {
		t.Fatalf("starts at %s, want %s", c.Now(), testkit.Epoch)
	}
	c.Advance(90 * time.Second)
	if got := c.Now().Sub(testkit.Epoch); got != 90*time.Second {
		t.Fatalf("advanced by %s", got)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Set(at)
	if !c.Now().Equal(at) {
		t.Fatalf("set: %s", c.Now())
	}
}

func TestWallClock(t *testing.T) {
	c := testkit.NewWallClock()
	near := func(name string, want time.Duration) {
		t.Helper()
		if got := time.Until(c.Now()); got < want-time.Minute || got > want+time.Minute {
			t.Errorf("%s: clock is %s from the real time, want about %s", name, got, want)
		}
	}
	near("new", 0)
	c.SetOffset(-3 * time.Hour)
	near("offset", -3*time.Hour)
	c.Advance(time.Hour)
	near("advanced", -2*time.Hour)
	for name, f := range map[string]func(){
		"Set on a wall clock":        func() { c.Set(testkit.Epoch) },
		"SetOffset on a fixed clock": func() { testkit.NewClock(time.Time{}).SetOffset(time.Hour) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("did not panic")
				}
			}()
			f()
		})
	}
}

func TestUUID(t *testing.T) {
	a, b := testkit.UUID(), testkit.UUID()
	if a == b {
		t.Fatal("two UUIDs are equal")
	}
	if len(a) != 36 || a[14] != '4' || !strings.ContainsRune("89ab", rune(a[19])) || strings.ToLower(a) != a {
		t.Fatalf("%q is not a lower-case version-4 UUID", a)
	}
}

// TestOIDCProviderVerifies has coreos/go-oidc, a verifier nobody here wrote,
// accept the fake provider's tokens through its discovery and JWKS, and
// reject them once the key is no longer served.
func TestOIDCProviderVerifies(t *testing.T) {
	for _, alg := range []string{testkit.ES256, testkit.RS256} {
		t.Run(alg, func(t *testing.T) {
			p := testkit.NewOIDCProvider(t)
			p.AddKey(t, "k2", alg)
			p.Serve("k2")
			ctx := oidc.ClientContext(context.Background(), p.Client())
			prov, err := oidc.NewProvider(ctx, p.URL)
			if err != nil {
				t.Fatal(err)
			}
			v := prov.Verifier(&oidc.Config{ClientID: "sts.amazonaws.com"})
			tok := p.Sign(t, testkit.Token{KID: "k2", Subject: "job:1"})
			idt, err := v.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if idt.Subject != "job:1" || idt.Issuer != p.URL {
				t.Errorf("sub %q iss %q", idt.Subject, idt.Issuer)
			}
			if _, err := v.Verify(ctx, p.Sign(t, testkit.Token{KID: "k1"})); err == nil {
				t.Error("a token of an unserved key verified")
			}
			if p.DiscoveryHits.Load() == 0 || p.JWKSHits.Load() == 0 {
				t.Errorf("hits: discovery %d jwks %d", p.DiscoveryHits.Load(), p.JWKSHits.Load())
			}
		})
	}
}

// TestOIDCProvidersShareNoKey: two providers' keys of one name are
// different keys, so a token of one never verifies with the other.
func TestOIDCProvidersShareNoKey(t *testing.T) {
	for _, alg := range []string{testkit.ES256, testkit.RS256} {
		t.Run(alg, func(t *testing.T) {
			a, b := testkit.NewOIDCProvider(t), testkit.NewOIDCProvider(t)
			a.AddKey(t, "k", alg)
			b.AddKey(t, "k", alg)
			type equaler interface{ Equal(crypto.PublicKey) bool }
			if a.Key("k").Public().(equaler).Equal(b.Key("k").Public()) || a.Key("k1").Public().(equaler).Equal(b.Key("k1").Public()) {
				t.Fatal("two providers share a key")
			}
		})
	}
}

func TestOIDCProviderFaults(t *testing.T) {
	p := testkit.NewOIDCProvider(t)
	p.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	resp, err := p.Client().Get(p.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
	p.SetJWKSHandler(nil)
	resp, err = p.Client().Get(p.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct{ Keys []map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) != 1 || set.Keys[0]["kid"] != "k1" {
		t.Fatalf("jwks %v %v", set, err)
	}
	if _, ok := p.Key("k1").(*ecdsa.PrivateKey); !ok {
		t.Fatal("k1 is not an ECDSA key")
	}
}

// TestAdminSigns checks the admin client's signature with keyless's own
// SigV4 verifier, and that a wrong secret fails it.
func TestAdminSigns(t *testing.T) {
	cr := aws.Credentials{AccessKeyID: "AKIATESTKIT000000001", SecretAccessKey: "testkit-secret-testkit-secret-000000000"}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	verdict := make(chan error, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s, err := sigv4.Parse(r)
		if err == nil {
			err = s.Verify(r, body, cr.SecretAccessKey, at)
		}
		if err == nil && s.Scope() != "20260301/us-east-1/keyless/aws4_request" {
			err = fmt.Errorf("scope %s", s.Scope())
		}
		verdict <- err
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	a := testkit.Admin{Endpoint: srv.URL, Creds: cr, Now: func() time.Time { return at }}
	a.Do(t, http.MethodPost, "/_keyless/issuers", `{"profile":"generic"}`)
	if err := <-verdict; err != nil {
		t.Fatalf("keyless rejects the kit's signature: %v", err)
	}
	a.Creds.SecretAccessKey = "another-secret-another-secret-000000000"
	a.Do(t, http.MethodPost, "/_keyless/issuers", `{"profile":"generic"}`)
	if err := <-verdict; err == nil {
		t.Fatal("a signature with another secret verified")
	}
}

func TestOIDCProviderHandleAndCertificate(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := testkit.NewOIDCProvider(t, testkit.WithCertificate(tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}))
	if !bytes.Equal(p.Certificate().Raw, der) {
		t.Fatal("Certificate is not the one given")
	}
	p.Handle("/moved", http.RedirectHandler("/jwks", http.StatusFound))
	hc := p.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(p.URL + "/moved") // the handshake trusts CertPool: the given certificate
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/jwks" {
		t.Errorf("/moved: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, err = hc.Get(p.URL + "/elsewhere"); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unhandled path: %d, want 404", resp.StatusCode)
	}
}
