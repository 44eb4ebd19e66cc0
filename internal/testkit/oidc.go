package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Key algorithms an OIDCProvider signs with.
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// rsaKeys holds RSA keys generated ahead of use: generating one takes long
// on a loaded machine, so the first provider starts a generator that keeps
// a few ready. No key is ever handed out twice — two providers never share
// a key, so a token of one never verifies with another's.
var rsaKeys = struct {
	once sync.Once
	ch   chan *rsa.PrivateKey
}{ch: make(chan *rsa.PrivateKey, 2)}

func startRSAGenerator() {
	rsaKeys.once.Do(func() {
		go func() {
			for {
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					return // newKey generates its own
				}
				rsaKeys.ch <- k // blocks while two wait unused
			}
		}()
	})
}

// newKey returns a new key of alg, never returned before.
func newKey(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		startRSAGenerator()
		select {
		case k := <-rsaKeys.ch:
			return k, nil
		default:
			return rsa.GenerateKey(rand.Reader, 2048)
		}
	}
	return nil, fmt.Errorf("testkit: no keys of algorithm %q", alg)
}

// OIDCProvider is a fake external OIDC provider on its own TLS host:
// discovery at /.well-known/openid-configuration, keys at /jwks. It starts
// with one ES256 key, "k1", served and used by Sign. Faults are set with
// SetJWKSHandler and SetDiscovery.
type OIDCProvider struct {
	// URL is the issuer URL, https://127.0.0.1:port.
	URL    string
	Server *httptest.Server
	// Requests counts every request, DiscoveryHits and JWKSHits those
	// of each document.
	Requests, DiscoveryHits, JWKSHits atomic.Int32

	mu        sync.Mutex
	keys      map[string]providerKey
	served    []string
	discovery []byte
	jwks      http.Handler
	extra     map[string]http.Handler
}

// ProviderOption adjusts a provider before it starts.
type ProviderOption func(*httptest.Server)

// WithCertificate makes the provider present cert (a chain and its key)
// instead of httptest's certificate.
func WithCertificate(cert tls.Certificate) ProviderOption {
	return func(s *httptest.Server) { s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}} }
}

type providerKey struct {
	alg    string
	signer crypto.Signer
}

// NewOIDCProvider starts a provider, closed when t ends. Its TLS
// certificate is httptest's unless an option says otherwise: trust it with
// CertPool or Client.
func NewOIDCProvider(t testing.TB, opts ...ProviderOption) *OIDCProvider {
	t.Helper()
	p := &OIDCProvider{keys: map[string]providerKey{}, extra: map[string]http.Handler{}}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.Server.Config.ErrorLog = log.New(io.Discard, "", 0) // clients that give up are expected
	for _, o := range opts {
		o(p.Server)
	}
	p.Server.StartTLS()
	t.Cleanup(p.Server.Close)
	p.URL = p.Server.URL
	p.AddKey(t, "k1", ES256)
	p.Serve("k1")
	return p
}

// Host is the provider's URL without its scheme, as IAM names a provider.
func (p *OIDCProvider) Host() string { return strings.TrimPrefix(p.URL, "https://") }

// Certificate is the provider's TLS certificate.
func (p *OIDCProvider) Certificate() *x509.Certificate { return p.Server.Certificate() }

// CertPool trusts the provider's certificate alone.
func (p *OIDCProvider) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Server.Certificate())
	return pool
}

// Client is an HTTP client that trusts the provider.
func (p *OIDCProvider) Client() *http.Client { return p.Server.Client() }

// AddKey gives the provider a new signing key kid of alg (ES256 or RS256;
// RSA keys are generated ahead of use); it is not served until Serve names
// it.
func (p *OIDCProvider) AddKey(t testing.TB, kid, alg string) {
	t.Helper()
	s, err := newKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.keys[kid] = providerKey{alg: alg, signer: s}
	p.mu.Unlock()
}

// Key returns the private key kid.
func (p *OIDCProvider) Key(kid string) crypto.Signer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[kid].signer
}

// Serve sets the keys /jwks serves.
func (p *OIDCProvider) Serve(kids ...string) {
	p.mu.Lock()
	p.served = kids
	p.mu.Unlock()
}

// SetDiscovery replaces the discovery document (nil: the provider's own,
// naming URL and URL/jwks).
func (p *OIDCProvider) SetDiscovery(doc []byte) {
	p.mu.Lock()
	p.discovery = doc
	p.mu.Unlock()
}

// SetJWKSHandler makes h answer /jwks (nil: the served keys); faults such
// as errors, garbage, hangs and redirects are handlers.
func (p *OIDCProvider) SetJWKSHandler(h http.Handler) {
	p.mu.Lock()
	p.jwks = h
	p.mu.Unlock()
}

// Handle makes h answer path, beside discovery and /jwks (a redirect, a
// second key set, a fault).
func (p *OIDCProvider) Handle(path string, h http.Handler) {
	p.mu.Lock()
	p.extra[path] = h
	p.mu.Unlock()
}

// JWKS returns the key set of the served keys.
func (p *OIDCProvider) JWKS() jose.JSONWebKeySet {
	p.mu.Lock()
	defer p.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, kid := range p.served {
		k := p.keys[kid]
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.signer.Public(), KeyID: kid, Algorithm: k.alg, Use: "sig"})
	}
	return set
}

func (p *OIDCProvider) serve(w http.ResponseWriter, r *http.Request) {
	p.Requests.Add(1)
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		p.DiscoveryHits.Add(1)
		p.mu.Lock()
		doc := p.discovery
		p.mu.Unlock()
		if doc == nil {
			doc, _ = json.Marshal(map[string]any{"issuer": p.URL, "jwks_uri": p.URL + "/jwks",
				"id_token_signing_alg_values_supported": []string{ES256, RS256}})
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	case "/jwks":
		p.JWKSHits.Add(1)
		p.mu.Lock()
		h := p.jwks
		p.mu.Unlock()
		if h != nil {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p.JWKS())
	default:
		p.mu.Lock()
		h := p.extra[r.URL.Path]
		p.mu.Unlock()
		if h == nil {
			h = http.NotFoundHandler()
		}
		h.ServeHTTP(w, r)
	}
}

// Token is what Sign puts in a token. Zero fields take the defaults: iss
// the provider's URL, sub "ci/acme/app/deploy", aud "sts.amazonaws.com",
// iat and nbf Now, exp an hour after.
type Token struct {
	Issuer, Subject string
	Audience        any // string or []string
	Now             time.Time
	TTL             time.Duration
	Claims          map[string]any         // more claims, or overrides (nil deletes)
	Headers         map[jose.HeaderKey]any // extra protected headers
	KID             string                 // default "k1"
	Key             crypto.Signer          // default: the provider's key KID
}

// Sign returns a compact JWS of tk, signed with the provider's key (or
// tk.Key).
func (p *OIDCProvider) Sign(t testing.TB, tk Token) string {
	t.Helper()
	if tk.KID == "" {
		tk.KID = "k1"
	}
	p.mu.Lock()
	k, ok := p.keys[tk.KID]
	p.mu.Unlock()
	if tk.Key != nil {
		k = providerKey{alg: algOf(tk.Key), signer: tk.Key}
	} else if !ok {
		t.Fatalf("testkit: provider has no key %q", tk.KID)
	}
	if tk.Issuer == "" {
		tk.Issuer = p.URL
	}
	return SignJWT(t, k.signer, tk)
}

func algOf(s crypto.Signer) string {
	if _, ok := s.(*rsa.PrivateKey); ok {
		return RS256
	}
	return ES256
}

// SignJWT signs tk with key (ES256 for an ECDSA key, RS256 for RSA) under
// the key id tk.KID.
func SignJWT(t testing.TB, key crypto.Signer, tk Token) string {
	t.Helper()
	if tk.Subject == "" {
		tk.Subject = "ci/acme/app/deploy"
	}
	if tk.Audience == nil {
		tk.Audience = "sts.amazonaws.com"
	}
	if tk.Now.IsZero() {
		tk.Now = time.Now()
	}
	if tk.TTL == 0 {
		tk.TTL = time.Hour
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	for h, v := range tk.Headers {
		opts = opts.WithHeader(h, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(algOf(key)),
		Key: jose.JSONWebKey{Key: key, KeyID: tk.KID}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"iss": tk.Issuer, "sub": tk.Subject, "aud": tk.Audience,
		"iat": tk.Now.Unix(), "nbf": tk.Now.Unix(), "exp": tk.Now.Add(tk.TTL).Unix()}
	for c, v := range tk.Claims {
		if v == nil {
			delete(claims, c)
			continue
		}
		claims[c] = v
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
