package server_test

// Shared fakes of the hardening tests: external OIDC issuers on their own
// TLS hosts (with request counters and switchable faults), a dialer that can
// take hosts down, and a fixture that registers such issuers with a server.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
)

// extAudience is the audience every external issuer's tokens carry.
const extAudience = "sts.amazonaws.com"

// jwksMode is what an external issuer's JWKS endpoint does.
type jwksMode string

const (
	jwksOK       jwksMode = "ok"
	jwks500      jwksMode = "500"
	jwksGarbage  jwksMode = "garbage"
	jwksHuge     jwksMode = "huge"     // a valid set padded beyond 1 MiB
	jwksHang     jwksMode = "hang"     // never answers
	jwksRedirect jwksMode = "redirect" // 302 to another host
)

// extIssuer is an external OIDC issuer served by its own TLS host:
// discovery at /.well-known/openid-configuration, keys at /jwks.
type extIssuer struct {
	srv      *httptest.Server
	hostPort string
	requests atomic.Int32 // every request the host received
	hanging  chan struct{}

	mu         sync.Mutex
	mode       jwksMode
	served     []string // kids whose public keys /jwks serves
	keys       map[string]*ecdsa.PrivateKey
	redirectTo string
}

func newExtIssuer(t *testing.T) *extIssuer {
	t.Helper()
	e := &extIssuer{mode: jwksOK, keys: map[string]*ecdsa.PrivateKey{}, hanging: make(chan struct{}, 16)}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(e.serve))
	e.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // clients that time out are expected
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	e.hostPort = strings.TrimPrefix(e.srv.URL, "https://")
	e.addKey(t, "k1")
	e.setServed("k1")
	return e
}

func (e *extIssuer) serve(w http.ResponseWriter, r *http.Request) {
	e.requests.Add(1)
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": e.srv.URL, "jwks_uri": e.srv.URL + "/jwks"})
		return
	case "/jwks":
	default:
		http.NotFound(w, r)
		return
	}
	e.mu.Lock()
	mode, redirect := e.mode, e.redirectTo
	set := jose.JSONWebKeySet{}
	for _, kid := range e.served {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &e.keys[kid].PublicKey, KeyID: kid, Algorithm: "ES256", Use: "sig"})
	}
	e.mu.Unlock()
	body, _ := json.Marshal(set)
	switch mode {
	case jwks500:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case jwksGarbage:
		body = []byte(`<html>not a key set</html>`)
	case jwksHuge:
		body = append([]byte(`{"padding":"`+strings.Repeat("x", 1<<20)+`",`), body[1:]...)
	case jwksHang:
		e.hanging <- struct{}{}
		<-r.Context().Done() // until the client gives up
		return
	case jwksRedirect:
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (e *extIssuer) addKey(t *testing.T, kid string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.keys[kid] = k
	e.mu.Unlock()
}

func (e *extIssuer) setServed(kids ...string) {
	e.mu.Lock()
	e.served = kids
	e.mu.Unlock()
}

func (e *extIssuer) setMode(m jwksMode) {
	e.mu.Lock()
	e.mode = m
	e.mu.Unlock()
}

func (e *extIssuer) key(kid string) *ecdsa.PrivateKey {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.keys[kid]
}

// jwtSpec is what a test mints: the claims and headers to sign.
type jwtSpec struct {
	iss, sub, aud, kid string
	key                *ecdsa.PrivateKey
	headers            map[jose.HeaderKey]any
}

// mint returns a valid ES256 token of e signed by its key kid.
func (e *extIssuer) mint(t *testing.T, kid string) string {
	t.Helper()
	return signToken(t, jwtSpec{iss: e.srv.URL, kid: kid, key: e.key(kid)})
}

func signToken(t *testing.T, tk jwtSpec) string {
	t.Helper()
	if tk.sub == "" {
		tk.sub = "ci/acme/app/deploy"
	}
	if tk.aud == "" {
		tk.aud = extAudience
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	for k, v := range tk.headers {
		opts = opts.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: tk.key, KeyID: tk.kid}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{"iss": tk.iss, "sub": tk.sub, "aud": tk.aud,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()})
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

// netFaults is the JWKS fetcher's dialer: it counts dials per address and
// refuses connections to hosts marked down.
type netFaults struct {
	mu    sync.Mutex
	down  map[string]bool
	dials map[string]int
}

func newNetFaults() *netFaults { return &netFaults{down: map[string]bool{}, dials: map[string]int{}} }

func (n *netFaults) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	n.dials[addr]++
	down := n.down[addr]
	n.mu.Unlock()
	if down {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
}

func (n *netFaults) setDown(addr string, down bool) {
	n.mu.Lock()
	n.down[addr] = down
	n.mu.Unlock()
}

func (n *netFaults) dialed(addr string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dials[addr]
}

func withDialer(n *netFaults) servertest.Options {
	return func(c *server.Config) { c.FetchDialContext = n.dial }
}

// register registers e as an OIDC provider of f's server, trusted by its
// certificate's thumbprint, and creates role name trusting it; it returns
// the role's ARN.
func (f *fixture) register(t *testing.T, e *extIssuer, name string) string {
	t.Helper()
	ctx := context.Background()
	p, err := f.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(e.srv.URL), ClientIDList: []string{extAudience},
		ThumbprintList: []string{oidc.Thumbprint(e.srv.Certificate())}})
	if err != nil {
		t.Fatalf("create provider %s: %v", e.srv.URL, err)
	}
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringEquals":{"%s:aud":%q}}}]}`, aws.ToString(p.OpenIDConnectProviderArn), e.hostPort, extAudience)
	r, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatalf("create role %s: %v", name, err)
	}
	return aws.ToString(r.Role.Arn)
}

// exchange calls AssumeRoleWithWebIdentity for roleARN, unsigned.
func (f *fixture) exchange(ctx context.Context, roleARN, tok string) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	return anonSTS(f.srv.URL).AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("hardening"), WebIdentityToken: aws.String(tok)})
}

// advance moves the server clock forward by d.
func (c *clock) advance(d time.Duration) { c.offset.Add(int64(d)) }
