package issuer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/store"
)

const (
	testOrg     = "a64b0a19-f221-4291-b000-8d24bd842b72"
	testProject = "5a301f56-eaa7-4cce-9441-37810f7c8452"
	testUser    = "0b1c2d3e-0000-4000-8000-000000000001"
)

// verify checks tok against the published keys of issuerURL and returns its
// header and claims.
func verify(t *testing.T, s *Service, issuerURL, tok string) (jose.Header, map[string]any) {
	t.Helper()
	set, ok, err := s.KeySet(context.Background(), issuerURL)
	if err != nil || !ok {
		t.Fatalf("KeySet(%s) = ok %v, err %v", issuerURL, ok, err)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	h := jws.Signatures[0].Header
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d published keys", h.KeyID, len(keys))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	return h, claims
}

func rawHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.SplitN(tok, ".", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%#v is not a number", v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestMintProfiles(t *testing.T) {
	tests := []struct {
		name   string
		create CreateRequest
		req    MintRequest
		iss    string
		want   map[string]any
		ttl    int64
		nbf    bool
	}{
		{name: "circleci v1", create: CreateRequest{Profile: "circleci", OrgID: testOrg},
			req: MintRequest{Params: ciclaims.Params{ProjectID: testProject, UserID: testUser}},
			iss: "https://oidc.circleci.com/org/" + testOrg, ttl: 3600,
			want: map[string]any{"aud": testOrg, "sub": "org/" + testOrg + "/project/" + testProject + "/user/" + testUser,
				"oidc.circleci.com/project-id": testProject, "oidc.circleci.com/org-id": testOrg,
				"oidc.circleci.com/ssh-rerun": false}},
		{name: "circleci v2 with aud and ttl", create: CreateRequest{Profile: "circleci", OrgID: testOrg},
			req: MintRequest{TTL: 90 * time.Minute, Params: ciclaims.Params{ProjectID: testProject, UserID: testUser, V2: true,
				VCSOrigin: "github.com/o/r", VCSRef: "refs/heads/main", Audience: []string{"a", "b"}, ContextIDs: []string{"c1"},
				OrgID: "ignored"}},
			iss: "https://oidc.circleci.com/org/" + testOrg, ttl: 5400,
			want: map[string]any{"aud": []any{"a", "b"},
				"sub":                           "org/" + testOrg + "/project/" + testProject + "/user/" + testUser + "/vcs-origin/github.com/o/r/vcs-ref/refs/heads/main",
				"oidc.circleci.com/context-ids": []any{"c1"}, "oidc.circleci.com/org-id": testOrg}},
		{name: "ttl capped", create: CreateRequest{Profile: "circleci", OrgID: testOrg, Alg: "ES256"},
			req: MintRequest{TTL: 10 * time.Hour, Params: ciclaims.Params{ProjectID: testProject}},
			iss: "https://oidc.circleci.com/org/" + testOrg, ttl: 5 * 3600, want: map[string]any{"aud": testOrg}},
		{name: "github", create: CreateRequest{Profile: "github"},
			req: MintRequest{Params: ciclaims.Params{Repository: "octo/app", Environment: "prod"}},
			iss: "https://token.actions.githubusercontent.com", ttl: 3600, nbf: true,
			want: map[string]any{"aud": "sts.amazonaws.com", "sub": "repo:octo/app:environment:prod", "repository": "octo/app"}},
		{name: "gitlab instance", create: CreateRequest{Profile: "gitlab", URL: "https://gitlab.example.com/"},
			req: MintRequest{Params: ciclaims.Params{ProjectPath: "g/p", Extra: map[string]string{"user_access_level": "maintainer"}}},
			iss: "https://gitlab.example.com", ttl: 3600, nbf: true,
			want: map[string]any{"aud": "https://gitlab.example.com", "sub": "project_path:g/p:ref_type:branch:ref:main",
				"user_access_level": "maintainer"}},
		{name: "generic", create: CreateRequest{Profile: "generic", URL: "https://ci.example.com/jenkins", Audience: []string{"sts.amazonaws.com"}},
			req: MintRequest{Params: ciclaims.Params{Extra: map[string]string{"sub": "job:deploy", "n": "3"}}},
			iss: "https://ci.example.com/jenkins", ttl: 3600, nbf: true,
			want: map[string]any{"aud": "sts.amazonaws.com", "sub": "job:deploy", "n": json.Number("3")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, clk := newTestService(t)
			ctx := context.Background()
			is, err := s.Create(ctx, tc.create)
			if err != nil {
				t.Fatal(err)
			}
			if is.URL != tc.iss {
				t.Errorf("issuer url = %q, want %q", is.URL, tc.iss)
			}
			tok, err := s.Mint(ctx, is.ID, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			h, claims := verify(t, s, tc.iss, tok)
			if h.Algorithm != is.Alg {
				t.Errorf("alg = %q, want %q", h.Algorithm, is.Alg)
			}
			if d := cmp.Diff(map[string]any{"alg": is.Alg, "kid": h.KeyID, "typ": "JWT"}, rawHeader(t, tok)); d != "" {
				t.Errorf("header (-want +got):\n%s", d)
			}
			if claims["iss"] != tc.iss {
				t.Errorf("iss = %v", claims["iss"])
			}
			iat, exp := num(t, claims["iat"]), num(t, claims["exp"])
			if iat != clk.Now().Unix() || exp-iat != tc.ttl {
				t.Errorf("iat %d exp %d, want iat %d and exp-iat %d", iat, exp, clk.Now().Unix(), tc.ttl)
			}
			if _, ok := claims["nbf"]; ok != tc.nbf {
				t.Errorf("nbf present = %v, want %v", ok, tc.nbf)
			}
			if jti, _ := claims["jti"].(string); len(jti) != 36 {
				t.Errorf("jti = %v", claims["jti"])
			}
			for k, v := range tc.want {
				if d := cmp.Diff(v, claims[k]); d != "" {
					t.Errorf("claim %s (-want +got):\n%s", k, d)
				}
			}
		})
	}
}

func TestMintErrors(t *testing.T) {
	s, _, _ := newTestService(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, CreateRequest{Profile: "circleci", OrgID: testOrg}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		id     string
		req    MintRequest
		status int
	}{
		{name: "unknown issuer", id: "nope", req: MintRequest{Params: ciclaims.Params{ProjectID: testProject}}},
		{name: "no project", id: testOrg, req: MintRequest{}, status: 400},
		{name: "reserved claim", id: testOrg, req: MintRequest{Params: ciclaims.Params{ProjectID: testProject, Extra: map[string]string{"exp": "1"}}}, status: 400},
		{name: "negative ttl", id: testOrg, req: MintRequest{TTL: -time.Second, Params: ciclaims.Params{ProjectID: testProject}}, status: 400},
		{name: "tiny ttl", id: testOrg, req: MintRequest{TTL: time.Millisecond, Params: ciclaims.Params{ProjectID: testProject}}, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Mint(ctx, tc.id, tc.req)
			if err == nil {
				t.Fatal("Mint succeeded")
			}
			if tc.status == 0 {
				if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("err = %v, want not found", err)
				}
				return
			}
			if e := awserr.As(err); e == nil || e.Status != tc.status {
				t.Errorf("err = %v, want status %d", err, tc.status)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	tests := []struct {
		name    string
		req     CreateRequest
		wantID  string
		wantURL string
		wantErr bool
	}{
		{name: "circleci default", req: CreateRequest{OrgID: testOrg}, wantID: testOrg, wantURL: "https://oidc.circleci.com/org/" + testOrg},
		{name: "circleci generated org", req: CreateRequest{Profile: "circleci"}},
		{name: "circleci id and org differ", req: CreateRequest{Profile: "circleci", ID: "a", OrgID: "b"}, wantErr: true},
		{name: "github", req: CreateRequest{Profile: "github", ID: "gh"}, wantID: "gh", wantURL: "https://token.actions.githubusercontent.com"},
		{name: "generic needs url", req: CreateRequest{Profile: "generic"}, wantErr: true},
		{name: "generic with port", req: CreateRequest{Profile: "generic", ID: "j", URL: "https://localhost:8443/ci"}, wantID: "j", wantURL: "https://localhost:8443/ci"},
		{name: "bad scheme", req: CreateRequest{Profile: "generic", URL: "ftp://x"}, wantErr: true},
		{name: "http refused", req: CreateRequest{Profile: "generic", URL: "http://ci.example.com"}, wantErr: true},
		{name: "query", req: CreateRequest{Profile: "generic", URL: "https://x/?a=b"}, wantErr: true},
		{name: "bad profile", req: CreateRequest{Profile: "jenkins"}, wantErr: true},
		{name: "bad alg", req: CreateRequest{OrgID: testOrg, Alg: "HS256"}, wantErr: true},
		{name: "bad id", req: CreateRequest{OrgID: "a/b"}, wantErr: true},
		{name: "empty audience", req: CreateRequest{OrgID: testOrg, Audience: []string{""}}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, st, _ := newTestService(t)
			is, err := s.Create(context.Background(), tc.req)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Create succeeded: %+v", is)
				}
				if e := awserr.As(err); e == nil || e.Status != 400 {
					t.Errorf("err = %v, want a 400", err)
				}
				if len(listIssuers(t, st)) != 0 {
					t.Error("issuer stored despite the error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantID != "" && is.ID != tc.wantID {
				t.Errorf("id = %q, want %q", is.ID, tc.wantID)
			}
			if tc.wantURL != "" && is.URL != tc.wantURL {
				t.Errorf("url = %q, want %q", is.URL, tc.wantURL)
			}
			if is.ID == "" || len(keysOf(t, st, is.ID)) != 1 {
				t.Errorf("issuer %q has %d keys, want 1", is.ID, len(keysOf(t, st, is.ID)))
			}
		})
	}
}

func TestCreateDuplicate(t *testing.T) {
	s, _, _ := newTestService(t)
	ctx := context.Background()
	if _, err := s.Create(ctx, CreateRequest{OrgID: testOrg}); err != nil {
		t.Fatal(err)
	}
	for _, req := range []CreateRequest{{OrgID: testOrg}, {Profile: "generic", ID: "other", URL: "https://oidc.circleci.com/org/" + testOrg}} {
		if _, err := s.Create(ctx, req); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("Create(%+v) err = %v, want ErrAlreadyExists", req, err)
		}
	}
}

func TestPrivateKeyNeverStoredInPlaintext(t *testing.T) {
	s, st, _ := newTestService(t)
	ctx := context.Background()
	is, err := s.Create(ctx, CreateRequest{OrgID: testOrg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Rotate(ctx, is.ID); err != nil {
		t.Fatal(err)
	}
	keys := keysOf(t, st, is.ID)
	if len(keys) != 2 {
		t.Fatalf("%d keys", len(keys))
	}
	for _, k := range keys {
		der, err := s.unseal(is.ID, k.KID, k.Sealed)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			t.Fatal(err)
		}
		d := priv.(*rsa.PrivateKey).D.Bytes()
		p := priv.(*rsa.PrivateKey).Primes[0].Bytes()
		for name, field := range map[string][]byte{"sealed": k.Sealed, "public": k.Public} {
			if bytes.Contains(field, der) || bytes.Contains(field, d) || bytes.Contains(field, p) {
				t.Errorf("key %s: %s field holds private key material", k.KID, name)
			}
			if _, err := x509.ParsePKCS8PrivateKey(field); err == nil {
				t.Errorf("key %s: %s field parses as a private key", k.KID, name)
			}
		}
		var pub map[string]any
		if err := json.Unmarshal(k.Public, &pub); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := pub[f]; ok {
				t.Errorf("public JWK has private field %q", f)
			}
		}
		// The kid is the RFC 7638 thumbprint of the public key.
		want, _ := keyID(priv.(*rsa.PrivateKey).Public())
		if k.KID != want {
			t.Errorf("kid %q, want thumbprint %q", k.KID, want)
		}
	}
	// The AAD binds a sealed key to its issuer and kid.
	if _, err := s.unseal(is.ID, keys[1].KID, keys[0].Sealed); err == nil {
		t.Error("a sealed key opened under another kid")
	}
	if _, err := s.unseal("other", keys[0].KID, keys[0].Sealed); err == nil {
		t.Error("a sealed key opened under another issuer")
	}
}

func TestMintRequestJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    MintRequest
		wantErr bool
	}{
		{name: "duration string", in: `{"project_id":"p","ttl":"90m","v2":true,"claims":{"a":"b"}}`,
			want: MintRequest{TTL: 90 * time.Minute, Params: ciclaims.Params{ProjectID: "p", V2: true, Extra: map[string]string{"a": "b"}}}},
		{name: "seconds", in: `{"ttl":600}`, want: MintRequest{TTL: 10 * time.Minute}},
		{name: "no ttl", in: `{"audience":["x"]}`, want: MintRequest{Params: ciclaims.Params{Audience: []string{"x"}}}},
		{name: "unknown field", in: `{"projectid":"p"}`, wantErr: true},
		{name: "bad ttl", in: `{"ttl":"soon"}`, wantErr: true},
		{name: "fractional ttl", in: `{"ttl":1.5}`, wantErr: true},
		{name: "ttl object", in: `{"ttl":{}}`, wantErr: true},
		{name: "wrong type", in: `{"v2":"yes"}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got MintRequest
			err := json.Unmarshal([]byte(tc.in), &got)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("decoded %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			// Round trip.
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			var again MintRequest
			if err := json.Unmarshal(b, &again); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(got, again); d != "" {
				t.Errorf("round trip %s (-want +got):\n%s", b, d)
			}
		})
	}
}

func BenchmarkMintRS256(b *testing.B) { benchmarkMint(b, "RS256") }
func BenchmarkMintES256(b *testing.B) { benchmarkMint(b, "ES256") }

func benchmarkMint(b *testing.B, alg string) {
	s, _, _ := newTestService(b)
	ctx := context.Background()
	is, err := s.Create(ctx, CreateRequest{OrgID: testOrg, Alg: alg})
	if err != nil {
		b.Fatal(err)
	}
	req := MintRequest{Params: ciclaims.Params{ProjectID: testProject, UserID: testUser, V2: true,
		VCSOrigin: "github.com/o/r", VCSRef: "refs/heads/main"}}
	if _, err := s.Mint(ctx, is.ID, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Mint(ctx, is.ID, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawRSASign is the baseline for BenchmarkMintRS256: one
// rsa.SignPKCS1v15 of a SHA-256 digest with a precomputed 2048-bit key.
func BenchmarkRawRSASign(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	key.Precompute()
	msg := bytes.Repeat([]byte("x"), 900)
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256(msg)
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMintConcurrent mints from many goroutines while keys rotate; run with
// -race it checks the signer cache and the shared signers.
func TestMintConcurrent(t *testing.T) {
	s, _, _ := newTestService(t)
	ctx := context.Background()
	is, err := s.Create(ctx, CreateRequest{OrgID: testOrg, Alg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			var err error
			for range 20 {
				if _, err = s.Mint(ctx, is.ID, MintRequest{Params: ciclaims.Params{ProjectID: testProject}}); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	if err := s.Rotate(ctx, is.ID); err != nil {
		t.Error(err)
	}
	if err := s.Tick(ctx); err != nil {
		t.Error(err)
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
