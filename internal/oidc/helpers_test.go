package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/awserr"
)

// Pre-generated test keys, made once per test binary.
var (
	keysOnce                     sync.Once
	rsa2048, rsaOther, rsa1024   *rsa.PrivateKey
	ec256, ec384, ec521, ecOther *ecdsa.PrivateKey
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		must := func(k *rsa.PrivateKey, err error) *rsa.PrivateKey {
			if err != nil {
				panic(err)
			}
			return k
		}
		mustEC := func(k *ecdsa.PrivateKey, err error) *ecdsa.PrivateKey {
			if err != nil {
				panic(err)
			}
			return k
		}
		rsa2048 = must(rsa.GenerateKey(rand.Reader, 2048))
		rsaOther = must(rsa.GenerateKey(rand.Reader, 2048))
		rsa1024 = must(rsa.GenerateKey(rand.Reader, 1024))
		ec256 = mustEC(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		ecOther = mustEC(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		ec384 = mustEC(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
		ec521 = mustEC(ecdsa.GenerateKey(elliptic.P521(), rand.Reader))
	})
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signRaw signs header.payload (given as JSON text) with key for alg and
// returns the compact token. key is *rsa.PrivateKey, *ecdsa.PrivateKey or
// []byte (HMAC) ; a nil key gives an empty signature.
func signRaw(t testing.TB, alg string, key any, header, payload string) string {
	t.Helper()
	input := enc([]byte(header)) + "." + enc([]byte(payload))
	if key == nil {
		return input + "."
	}
	var h crypto.Hash
	switch alg[2:] {
	case "256":
		h = crypto.SHA256
	case "384":
		h = crypto.SHA384
	case "512":
		h = crypto.SHA512
	}
	hh := h.New()
	hh.Write([]byte(input))
	digest := hh.Sum(nil)
	var sig []byte
	var err error
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, digest)
	case *ecdsa.PrivateKey:
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k, digest)
		size := (k.Curve.Params().BitSize + 7) / 8
		sig = make([]byte, 2*size)
		if err == nil {
			r.FillBytes(sig[:size])
			s.FillBytes(sig[size:])
		}
	case []byte:
		var m = hmac.New(sha256.New, k)
		if alg == "HS512" {
			m = hmac.New(sha512.New, k)
		}
		m.Write([]byte(input))
		sig = m.Sum(nil)
	default:
		err = errors.New("unknown key type")
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + enc(sig)
}

const testIssuer = "https://issuer.example.com"

var testNow = time.Unix(1_800_000_000, 0)

// baseClaims is the known-good claim set that cases mutate.
func baseClaims() map[string]any {
	return map[string]any{
		"iss": testIssuer,
		"sub": "org/o1/project/p1/user/u1",
		"aud": "sts.amazonaws.com",
		"iat": testNow.Unix() - 10,
		"nbf": testNow.Unix() - 10,
		"exp": testNow.Unix() + 3600,
	}
}

func jwk(key any, kid, alg string) jose.JSONWebKey {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		key = &k.PublicKey
	case *ecdsa.PrivateKey:
		key = &k.PublicKey
	}
	return jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"}
}

func keySet(keys ...jose.JSONWebKey) *jose.JSONWebKeySet {
	return &jose.JSONWebKeySet{Keys: keys}
}

func errCode(err error) string {
	if err == nil {
		return ""
	}
	if e := awserr.As(err); e != nil {
		return e.Code
	}
	return "non-aws error: " + err.Error()
}

// staticProviders is a ProviderSource over a fixed map of provider URLs.
type staticProviders map[string]*Provider

func (p staticProviders) Provider(_ context.Context, url string) (*Provider, error) {
	if pr, ok := p[url]; ok {
		return pr, nil
	}
	return nil, fmt.Errorf("provider %q: %w", url, ErrNoProvider)
}

// testProviders registers testIssuer with client id sts.amazonaws.com.
func testProviders() staticProviders {
	return staticProviders{strings.TrimPrefix(testIssuer, "https://"): {
		URL: strings.TrimPrefix(testIssuer, "https://"), ClientIDs: []string{"sts.amazonaws.com"}}}
}

// staticKeys is a KeySource that answers set (or err) and counts calls.
type staticKeys struct {
	set   *jose.JSONWebKeySet
	err   error
	calls *int
}

func (k staticKeys) Keys(context.Context, string, []string, string) (*jose.JSONWebKeySet, error) {
	if k.calls != nil {
		*k.calls++
	}
	return k.set, k.err
}
