package server_test

// Shared fakes of the hardening tests: external OIDC issuers on their own
// TLS hosts (testkit's provider, with switchable faults), a dialer that can
// take hosts down, and a fixture that registers such issuers with a server.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
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
	"github.com/keylessci/keyless/internal/testkit"
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

// extIssuer is an external OIDC issuer on its own TLS host: testkit's
// fake provider with the JWKS faults the hardening tests switch.
type extIssuer struct {
	*testkit.OIDCProvider
	srv        *httptest.Server
	hostPort   string
	requests   *atomic.Int32 // every request the host received
	hanging    chan struct{}
	mu         sync.Mutex
	redirectTo string
}

func newExtIssuer(t *testing.T) *extIssuer {
	t.Helper()
	p := testkit.NewOIDCProvider(t)
	return &extIssuer{OIDCProvider: p, srv: p.Server, hostPort: p.Host(), requests: &p.Requests, hanging: make(chan struct{}, 16)}
}

func (e *extIssuer) addKey(t *testing.T, kid string) { e.AddKey(t, kid, testkit.ES256) }

func (e *extIssuer) setServed(kids ...string) { e.Serve(kids...) }

// setMode makes the JWKS endpoint behave as m.
func (e *extIssuer) setMode(m jwksMode) {
	var h http.HandlerFunc
	switch m {
	case jwks500:
		h = func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	case jwksGarbage:
		h = func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`<html>not a key set</html>`)) }
	case jwksHuge:
		h = func(w http.ResponseWriter, _ *http.Request) {
			body, _ := json.Marshal(e.JWKS())
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(append([]byte(`{"padding":"`+strings.Repeat("x", 1<<20)+`",`), body[1:]...))
		}
	case jwksHang:
		h = func(_ http.ResponseWriter, r *http.Request) {
			e.hanging <- struct{}{}
			<-r.Context().Done() // until the client gives up
		}
	case jwksRedirect:
		h = func(w http.ResponseWriter, r *http.Request) {
			e.mu.Lock()
			to := e.redirectTo
			e.mu.Unlock()
			http.Redirect(w, r, to, http.StatusFound)
		}
	}
	if h == nil {
		e.SetJWKSHandler(nil)
		return
	}
	e.SetJWKSHandler(h)
}

func (e *extIssuer) key(kid string) *ecdsa.PrivateKey { return e.Key(kid).(*ecdsa.PrivateKey) }

// jwtSpec is what a test mints: the claims and headers to sign.
type jwtSpec struct {
	iss, sub, aud, kid string
	key                crypto.Signer
	headers            map[jose.HeaderKey]any
}

// mint returns a valid ES256 token of e signed by its key kid.
func (e *extIssuer) mint(t *testing.T, kid string) string {
	t.Helper()
	return signToken(t, jwtSpec{iss: e.srv.URL, kid: kid, key: e.Key(kid)})
}

// signToken signs tk (audience extAudience unless set) with testkit.
func signToken(t *testing.T, tk jwtSpec) string {
	t.Helper()
	if tk.aud == "" {
		tk.aud = extAudience
	}
	return testkit.SignJWT(t, tk.key, testkit.Token{Issuer: tk.iss, Subject: tk.sub, Audience: tk.aud, KID: tk.kid, Headers: tk.headers})
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
