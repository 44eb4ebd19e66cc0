package sts

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/directory"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/testkit"
)

// The unit tests drive the STS through its own narrow interfaces: a fake
// Directory and KeySource, the real policy engine, a real creds.Sealer
// with a fixed key, and a fixed clock.

const (
	testAccount  = "123456789012"
	testIssuer   = "https://ci.example.com/org/o"
	testProvider = "ci.example.com/org/o"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func genKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// testKey signs the test tokens; otherKey is another issuer's.
var testKey, otherKey = sync.OnceValue(genKey), sync.OnceValue(genKey)

// fakeDir is a Directory over maps. err, when set, fails every lookup (a
// store outage).
type fakeDir struct {
	roles     map[string]*directory.Role
	providers map[string]*store.Provider
	managed   map[string]string // policy ARN → document
	err       error
}

func (d *fakeDir) Role(_ context.Context, name string) (*directory.Role, error) {
	if d.err != nil {
		return nil, d.err
	}
	if r, ok := d.roles[name]; ok {
		return r, nil
	}
	return nil, fmt.Errorf("role %s: %w", name, store.ErrNotFound)
}

func (d *fakeDir) Provider(_ context.Context, u string) (*store.Provider, error) {
	if d.err != nil {
		return nil, d.err
	}
	if p, ok := d.providers[u]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("provider %s: %w", u, store.ErrNotFound)
}

// SessionPolicies compiles as directory.Directory does.
func (d *fakeDir) SessionPolicies(_ context.Context, doc string, arns []string) ([]*policy.Policy, error) {
	var out []*policy.Policy
	if doc != "" {
		p, err := policy.Parse(doc, policy.Session)
		if err != nil {
			return nil, fmt.Errorf("compile session policy: %w", err)
		}
		out = append(out, p)
	}
	for _, a := range arns {
		src, ok := d.managed[a]
		if !ok {
			return nil, fmt.Errorf("get session policy %s: %w", a, store.ErrNotFound)
		}
		p, err := policy.Parse(src, policy.Session)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// fakeKeys serves the test key for testIssuer and otherKey, under the
// same kid, for any other issuer.
type fakeKeys struct{}

func (fakeKeys) Keys(_ context.Context, issuer string, _ []string, _ string) (*jose.JSONWebKeySet, error) {
	key := testKey()
	if issuer != testIssuer {
		key = otherKey()
	}
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}, nil
}

func mustPolicy(t *testing.T, doc string, kind policy.Kind) *policy.Policy {
	t.Helper()
	p, err := policy.Parse(doc, kind)
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	return p
}

func testRole(t *testing.T, name, trust string, perms ...string) *directory.Role {
	t.Helper()
	r := &directory.Role{Role: store.Role{Name: name, Path: "/", ID: "AROA" + name, MaxSessionDuration: 3600},
		ARN: arn.Role(testAccount, "/", name), Trust: mustPolicy(t, trust, policy.Trust)}
	for _, p := range perms {
		r.Permissions = append(r.Permissions, mustPolicy(t, p, policy.Identity))
	}
	return r
}

// harness is a Service over a fakeDir with a real Sealer and a log buffer.
type harness struct {
	svc    *Service
	sealer *creds.Sealer
	log    *bytes.Buffer
}

func newHarness(t *testing.T, dir *fakeDir) harness {
	t.Helper()
	clock := func() time.Time { return testNow }
	sealer, err := creds.New(creds.Config{Keys: [][]byte{bytes.Repeat([]byte{7}, creds.KeySize)}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	svc, err := New(Config{Directory: dir, Keys: fakeKeys{}, Creds: sealer, Account: testAccount, Now: clock,
		Log: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return harness{svc: svc, sealer: sealer, log: &buf}
}

// signToken signs claims with the test key as an ES256 JWT.
func signToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: testKey(), KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call is the decoded call of action, as the server's decoder builds it.
func call(action string, params url.Values, caller *identity.Caller) *awsquery.Call {
	req, err := awsquery.Decode(testkit.QueryRequest(action, params))
	if err != nil {
		panic("decode a well-formed query request: " + err.Error()) // a broken test helper
	}
	return &awsquery.Call{Request: req, RequestID: "req-1", Caller: caller,
		SourceIP: "192.0.2.1", Now: testNow}
}

// wantErr checks err is an *awserr.Error with code and, unless msg is "",
// exactly msg.
func wantErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	e := awserr.As(err)
	if e == nil {
		t.Fatalf("err = %v, want %s", err, code)
	}
	if e.Code != code || (msg != "" && e.Message != msg) {
		t.Fatalf("err = %s %q, want %s %q", e.Code, e.Message, code, msg)
	}
}
