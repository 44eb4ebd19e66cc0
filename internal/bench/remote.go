package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/policy"
)

// Remote is a self-hosted-style issuer keyless does not host: an httptest
// TLS server publishing discovery and a JWKS, trusted by keyless through
// the provider's thumbprint, as AWS trusts a self-hosted issuer.
type Remote struct {
	URL        string // https://127.0.0.1:PORT/<name>
	Thumbprint string
	Keys       int // keys in its JWKS; the signing key is the last one
	srv        *httptest.Server
	signer     jose.Signer
	RoleARN    string
	Tokens     []string
}

// StartRemote serves an issuer whose JWKS holds keys keys: one RSA signing
// key and keys-1 P-256 decoys listed before it (decoys are EC only because
// RSA key generation would dominate the setup time; lookup is by kid).
func StartRemote(name string, keys int) (*Remote, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	set := jose.JSONWebKeySet{}
	for i := range keys - 1 {
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: ec.Public(), KeyID: fmt.Sprintf("decoy-%03d", i), Algorithm: "ES256", Use: "sig"})
	}
	set.Keys = append(set.Keys, jose.JSONWebKey{Key: priv.Public(), KeyID: "signer", Algorithm: "RS256", Use: "sig"})
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	r := &Remote{Keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("/"+name+"/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["RS256"]}`, r.URL, r.URL+"/jwks")
	})
	mux.HandleFunc("/"+name+"/jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(jwks)
	})
	r.srv = httptest.NewTLSServer(mux)
	r.URL = r.srv.URL + "/" + name
	r.Thumbprint = oidc.Thumbprint(r.srv.Certificate())
	r.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: "signer"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		r.srv.Close()
		return nil, err
	}
	return r, nil
}

// Close stops the issuer's server.
func (r *Remote) Close() { r.srv.Close() }

// Token signs a job token for sub.
func (r *Remote) Token(sub string, now time.Time) (string, error) {
	claims, err := json.Marshal(map[string]any{"iss": r.URL, "sub": sub, "aud": "sts.amazonaws.com",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": newUUID()})
	if err != nil {
		return "", err
	}
	jws, err := r.signer.Sign(claims)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// Register creates the issuer's provider (pinned by thumbprint) and a role
// admitting sub on the keyless server, and signs tokens tokens.
func (r *Remote) Register(ctx context.Context, hc *http.Client, endpoint string, root aws.Credentials, role string, tokens int) error {
	ic := iamClient(endpoint, root, hc)
	pout, err := ic.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(r.URL), ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{r.Thumbprint}})
	if err != nil {
		return fmt.Errorf("create provider %s: %w", r.URL, err)
	}
	host := strings.TrimPrefix(r.URL, "https://")
	sub := "repo:acme/app:ref:refs/heads/main"
	trust := policy.WebIdentityTrustJSON(aws.ToString(pout.OpenIDConnectProviderArn), policy.Conditions{
		"StringEquals": {host + ":aud": {"sts.amazonaws.com"}, host + ":sub": {sub}}})
	rout, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		return fmt.Errorf("create role %s: %w", role, err)
	}
	r.RoleARN = aws.ToString(rout.Role.Arn)
	for range tokens {
		t, err := r.Token(sub, time.Now())
		if err != nil {
			return err
		}
		r.Tokens = append(r.Tokens, t)
	}
	return nil
}
