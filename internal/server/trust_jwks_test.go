package server_test

// Security round 2, item 9: the discovery document's jwks_uri is fetched
// only over HTTPS, under every fetch limit, and never at a loopback,
// link-local or private address unless the provider itself is on an
// address of that kind or the operator allows it (--allow-private-jwks).

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/testkit"
)

// newJWKSPointer is a provider on loopback whose discovery document names
// jwksURI (relative paths are on the provider itself); it signs with "k1".
func newJWKSPointer(t *testing.T, jwksURI string) *testkit.OIDCProvider {
	t.Helper()
	p := testkit.NewOIDCProvider(t)
	if strings.HasPrefix(jwksURI, "/") {
		jwksURI = p.URL + jwksURI
	}
	doc, err := json.Marshal(map[string]string{"issuer": p.URL, "jwks_uri": jwksURI})
	if err != nil {
		t.Fatal(err)
	}
	p.SetDiscovery(doc)
	return p
}

func TestJWKSTargetPolicy(t *testing.T) {
	for _, tc := range []struct {
		name       string
		jwksURI    string // "/jwks": on the provider itself
		allow      bool   // --allow-private-jwks
		wantDialed string // an address the fetcher must (or, when wantOK is false and allow is false, must not) dial
		wantOK     bool
	}{
		{name: "jwks on the loopback provider itself", jwksURI: "/jwks", wantOK: true},
		{name: "plain http jwks_uri", jwksURI: "http://127.0.0.1:1/jwks"},
		{name: "cloud metadata (link-local)", jwksURI: "https://169.254.169.254/latest/jwks", wantDialed: "169.254.169.254:443"},
		{name: "private network", jwksURI: "https://10.0.0.7:8443/jwks", wantDialed: "10.0.0.7:8443"},
		{name: "IPv6 unique local", jwksURI: "https://[fd00::7]/jwks", wantDialed: "[fd00::7]:443"},
		{name: "private network, operator allows", jwksURI: "https://10.0.0.7:8443/jwks", allow: true, wantDialed: "10.0.0.7:8443"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newJWKSPointer(t, tc.jwksURI)
			nf := newNetFaults()
			if tc.wantDialed != "" {
				nf.setDown(tc.wantDialed, true) // never really leave the machine
			}
			f := newFixture(t, withDialer(nf), func(c *server.Config) { c.AllowPrivateJWKS = tc.allow })
			ctx := context.Background()
			prov, err := f.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
				Url: aws.String(p.URL), ClientIDList: []string{extAudience},
				ThumbprintList: []string{oidc.Thumbprint(p.Certificate())}})
			if err != nil {
				t.Fatal(err)
			}
			trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
				"Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity"}]}`, aws.ToString(prov.OpenIDConnectProviderArn))
			r, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("jwks"), AssumeRolePolicyDocument: aws.String(trust)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.exchange(ctx, aws.ToString(r.Role.Arn), signToken(t, jwtSpec{iss: p.URL, kid: "k1", key: p.Key("k1")}))
			if tc.wantOK {
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				return
			}
			wantCode(t, err, "InvalidIdentityToken")
			if tc.wantDialed == "" {
				return
			}
			dialed := nf.dialed(tc.wantDialed)
			if tc.allow && dialed == 0 {
				t.Errorf("operator allowed private JWKS hosts, but %s was not dialed", tc.wantDialed)
			}
			if !tc.allow && dialed != 0 {
				t.Errorf("%s was dialed %d times; a non-public jwks_uri must be refused before any connection", tc.wantDialed, dialed)
			}
		})
	}
}
