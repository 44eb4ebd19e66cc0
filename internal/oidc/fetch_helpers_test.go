package oidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keylessci/keyless/internal/testkit"
)

// provider is testkit's fake OIDC provider (discovery plus JWKS over TLS)
// with knobs for the faults the fetcher must survive, changed with set.
type provider struct {
	*testkit.OIDCProvider
	srv                     *httptest.Server
	discoveryHits, jwksHits *atomic.Int32

	mu           sync.Mutex
	jwks         []byte        // served at /jwks
	status       int           // non-zero: status for /jwks
	cacheControl string        // Cache-Control for /jwks
	discovery    []byte        // nil: the default document
	hang         chan struct{} // non-nil: /jwks blocks until closed or the client leaves
	redirectTo   string        // non-empty: /jwks redirects here
}

func (p *provider) set(fn func(p *provider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
	p.SetDiscovery(p.discovery)
}

// serveJWKS answers /jwks with the knobs' body and faults.
func (p *provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	body, status, cc, hang, redirect := p.jwks, p.status, p.cacheControl, p.hang, p.redirectTo
	p.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	if status != 0 {
		w.WriteHeader(status)
	}
	w.Write(body)
}

// newProvider starts a provider serving keys, with httptest's certificate
// unless cert is given; /moved redirects to /jwks.
func newProvider(t *testing.T, cert *tls.Certificate, keys ...jose.JSONWebKey) *provider {
	t.Helper()
	var opts []testkit.ProviderOption
	if cert != nil {
		opts = append(opts, testkit.WithCertificate(*cert))
	}
	kp := testkit.NewOIDCProvider(t, opts...)
	p := &provider{OIDCProvider: kp, srv: kp.Server, discoveryHits: &kp.DiscoveryHits, jwksHits: &kp.JWKSHits,
		jwks: jwksJSON(t, keys...)}
	kp.SetJWKSHandler(http.HandlerFunc(p.serveJWKS))
	kp.Handle("/moved", http.RedirectHandler("/jwks", http.StatusFound))
	t.Cleanup(func() { // before the server closes: release hanging requests
		p.mu.Lock()
		if p.hang != nil {
			select {
			case <-p.hang:
			default:
				close(p.hang)
			}
		}
		p.mu.Unlock()
	})
	return p
}

func (p *provider) pool() *x509.CertPool { return p.CertPool() }

func jwksJSON(t testing.TB, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testPKI is an untrusted CA and a leaf for 127.0.0.1 that it signed; the
// server presents both, so the CA is the chain's top certificate.
type testPKI struct {
	ca, leaf *x509.Certificate
	tlsCert  tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keyless test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return &testPKI{ca: ca, leaf: leaf, tlsCert: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}}
}
