package server_test

// Security round 2, item 1: a thumbprint anchors a verified chain, it never
// stands in for one. A real impostor TLS server intercepts the provider's
// address and presents its own self-signed leaf plus a copy of the
// provider's (public) CA certificate, whose thumbprint is registered.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"

	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/testkit"
)

// testCert issues a certificate for 127.0.0.1 signed by parent (nil: self-signed).
func testCert(t *testing.T, cn string, isCA bool, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true}
	if isCA {
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage = nil
	} else {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// oidcHost is an OIDC provider's TLS host presenting chain (with leafKey),
// whose discovery document names the issuer issuerURL ("": its own URL) and
// whose JWKS holds its own key "k1".
func oidcHost(t *testing.T, chain []*x509.Certificate, leafKey crypto.Signer, issuerURL string) *testkit.OIDCProvider {
	t.Helper()
	var raw [][]byte
	for _, c := range chain {
		raw = append(raw, c.Raw)
	}
	p := testkit.NewOIDCProvider(t, testkit.WithCertificate(tls.Certificate{Certificate: raw, PrivateKey: leafKey}))
	if issuerURL == "" {
		issuerURL = p.URL
	}
	doc, err := json.Marshal(map[string]string{"issuer": issuerURL, "jwks_uri": issuerURL + "/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	p.SetDiscovery(doc)
	return p
}

func TestThumbprintAnchorsVerifiedChain(t *testing.T) {
	ca, caKey := testCert(t, "provider CA", true, nil, nil)
	leaf, leafKey := testCert(t, "127.0.0.1", false, ca, caKey)
	legit := oidcHost(t, []*x509.Certificate{leaf, ca}, leafKey, "")
	realURL, realSigner := legit.URL, legit.Key("k1")
	realAddr := strings.TrimPrefix(legit.URL, "https://")

	// The impostor: its own self-signed leaf for the same host, followed by
	// a copy of the provider's CA certificate; it serves its own keys under
	// the real issuer URL.
	evilLeaf, evilLeafKey := testCert(t, "127.0.0.1", false, nil, nil)
	impostor := oidcHost(t, []*x509.Certificate{evilLeaf, ca}, evilLeafKey, realURL)
	evilSigner := impostor.Key("k1")
	impostorAddr := strings.TrimPrefix(impostor.URL, "https://")

	for _, tc := range []struct {
		name      string
		intercept bool
		thumb     *x509.Certificate
		signer    crypto.Signer
		wantErr   string
	}{
		{name: "legit chain, CA thumbprint", thumb: ca, signer: realSigner},
		{name: "legit chain, leaf thumbprint", thumb: leaf, signer: realSigner},
		{name: "impostor with a copy of the CA", intercept: true, thumb: ca, signer: evilSigner, wantErr: oidc.MsgThumbprint},
		{name: "impostor pinned by another leaf", intercept: true, thumb: leaf, signer: evilSigner, wantErr: oidc.MsgThumbprint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Interception happens on the network path: every dial to the
			// provider's address reaches the impostor instead.
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				if tc.intercept && addr == realAddr {
					addr = impostorAddr
				}
				return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			}
			f := newFixture(t, func(c *server.Config) { c.FetchDialContext = dial })
			ctx := context.Background()
			p, err := f.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
				Url: aws.String(realURL), ClientIDList: []string{extAudience},
				ThumbprintList: []string{oidc.Thumbprint(tc.thumb)}})
			if err != nil {
				t.Fatal(err)
			}
			trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity"}]}`, aws.ToString(p.OpenIDConnectProviderArn))
			r, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("pinned"), AssumeRolePolicyDocument: aws.String(trust)})
			if err != nil {
				t.Fatal(err)
			}
			tok := signToken(t, jwtSpec{iss: realURL, kid: "k1", key: tc.signer})
			out, err := f.exchange(ctx, aws.ToString(r.Role.Arn), tok)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("legit provider refused: %v", err)
				}
				if out.Credentials == nil {
					t.Fatal("no credentials")
				}
				return
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidIdentityToken" || ae.ErrorMessage() != tc.wantErr {
				t.Fatalf("impostor: err = %v, want InvalidIdentityToken %q", err, tc.wantErr)
			}
		})
	}
}
