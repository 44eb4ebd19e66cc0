package oidc

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/awserr"
)

// verifyAll runs the whole pipeline the STS runs, Verifier.Verify, with
// keys as the issuer's key set and the provider registered for testIssuer
// with client id sts.amazonaws.com.
func verifyAll(raw string, keys *jose.JSONWebKeySet) (*Token, error) {
	v, err := NewVerifier(VerifierConfig{Providers: testProviders(), Keys: staticKeys{set: keys}, Now: func() time.Time { return testNow }})
	if err != nil {
		return nil, err
	}
	return v.Verify(context.Background(), raw)
}

func TestTokenAttacks(t *testing.T) {
	testKeys(t)
	// Servers that a jku/x5u header points at; they must never be called.
	var smuggledHits atomic.Int64
	smuggle := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		smuggledHits.Add(1)
	}))
	defer smuggle.Close()

	const kid = "k1"
	good := keySet(jwk(rsa2048, kid, "RS256"))
	hdr := func(alg string) map[string]any { return map[string]any{"alg": alg, "kid": kid, "typ": "JWT"} }
	signed := func(alg string, key any, header map[string]any, claims map[string]any) string {
		return signRaw(t, alg, key, mustJSON(t, header), mustJSON(t, claims))
	}
	withClaim := func(k string, v any) map[string]any {
		c := baseClaims()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	rawClaim := func(k, v string) string { // claims JSON with k set to the raw JSON text v
		c := baseClaims()
		delete(c, k)
		s := mustJSON(t, c)
		return s[:len(s)-1] + fmt.Sprintf(",%q:%s}", k, v)
	}
	valid := signed("RS256", rsa2048, hdr("RS256"), baseClaims())
	parts := strings.Split(valid, ".")
	pubDER, err := x509.MarshalPKIXPublicKey(&rsa2048.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	attackerJWK := jwk(rsaOther, kid, "RS256")

	const (
		ok      = ""
		invalid = awserr.CodeInvalidIdentityToken
		expired = awserr.CodeExpiredTokenException
	)
	tests := []struct {
		name      string
		token     string
		keys      *jose.JSONWebKeySet
		want      string
		unknownID bool // ErrUnknownKID must be in the chain
	}{
		{name: "baseline RS256", token: valid, keys: good, want: ok},
		{name: "RS384", token: signed("RS384", rsa2048, hdr("RS384"), baseClaims()), keys: keySet(jwk(rsa2048, kid, "")), want: ok},
		{name: "RS512", token: signed("RS512", rsa2048, hdr("RS512"), baseClaims()), keys: keySet(jwk(rsa2048, kid, "RS512")), want: ok},
		{name: "ES256", token: signed("ES256", ec256, hdr("ES256"), baseClaims()), keys: keySet(jwk(ec256, kid, "ES256")), want: ok},
		{name: "ES384", token: signed("ES384", ec384, hdr("ES384"), baseClaims()), keys: keySet(jwk(ec384, kid, "")), want: ok},
		{name: "ES512", token: signed("ES512", ec521, hdr("ES512"), baseClaims()), keys: keySet(jwk(ec521, kid, "ES512")), want: ok},
		{name: "no kid with a single key", token: signed("RS256", rsa2048, map[string]any{"alg": "RS256"}, baseClaims()), keys: good, want: ok},
		{name: "no kid with two usable keys", token: signed("RS256", rsa2048, map[string]any{"alg": "RS256"}, baseClaims()),
			keys: keySet(jwk(rsa2048, "a", ""), jwk(rsaOther, "b", "")), want: invalid},
		{name: "aud array", token: signed("RS256", rsa2048, hdr("RS256"), withClaim("aud", []string{"x", "sts.amazonaws.com"})), keys: good, want: ok},
		{name: "aud number", token: signed("RS256", rsa2048, hdr("RS256"), withClaim("aud", 5)), keys: good, want: invalid},

		{name: "alg none", token: signRaw(t, "none", nil, `{"alg":"none","kid":"k1"}`, mustJSON(t, baseClaims())), keys: good, want: invalid},
		{name: "alg None with copied signature", token: enc([]byte(`{"alg":"None","kid":"k1"}`)) + "." + parts[1] + "." + parts[2], keys: good, want: invalid},
		{name: "HS256 keyed with the RSA public key", token: signed("HS256", pubDER, hdr("HS256"), baseClaims()), keys: good, want: invalid},
		{name: "HS256 keyed with the JWK modulus", token: signed("HS256", rsa2048.N.Bytes(), hdr("HS256"), baseClaims()), keys: good, want: invalid},
		{name: "PS256 refused", token: signed("RS256", rsa2048, hdr("PS256"), baseClaims()), keys: good, want: invalid},
		{name: "EdDSA refused", token: signed("RS256", rsa2048, hdr("EdDSA"), baseClaims()), keys: good, want: invalid},
		{name: "foreign key", token: signed("RS256", rsaOther, hdr("RS256"), baseClaims()), keys: good, want: invalid},
		{name: "tampered payload", token: parts[0] + "." + enc([]byte(mustJSON(t, withClaim("sub", "attacker")))) + "." + parts[2], keys: good, want: invalid},
		{name: "tampered header", token: enc([]byte(`{"alg":"RS256","kid":"k1","typ":"JWS"}`)) + "." + parts[1] + "." + parts[2], keys: good, want: invalid},
		{name: "truncated signature", token: valid[:len(valid)-4], keys: good, want: invalid},

		{name: "expired", token: signed("RS256", rsa2048, hdr("RS256"), withClaim("exp", testNow.Unix()-301)), keys: good, want: expired},
		{name: "expired within skew", token: signed("RS256", rsa2048, hdr("RS256"), withClaim("exp", testNow.Unix()-60)), keys: good, want: ok},
		{name: "nbf in the future", token: signed("RS256", rsa2048, hdr("RS256"), withClaim("nbf", testNow.Unix()+301)), keys: good, want: invalid},
		{name: "nbf within skew", token: signed("RS256", rsa2048, hdr("RS256"), withClaim("nbf", testNow.Unix()+60)), keys: good, want: ok},
		{name: "iat in the future", token: signed("RS256", rsa2048, hdr("RS256"), withClaim("iat", testNow.Unix()+3000)), keys: good, want: invalid},
		{name: "exp missing", token: signed("RS256", rsa2048, hdr("RS256"), withClaim("exp", nil)), keys: good, want: invalid},
		{name: "iss missing", token: signed("RS256", rsa2048, hdr("RS256"), withClaim("iss", nil)), keys: good, want: invalid},
		{name: "iss not a string", token: signed("RS256", rsa2048, hdr("RS256"), withClaim("iss", 7)), keys: good, want: invalid},
		{name: "exp float", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), rawClaim("exp", "1800003600.0")), keys: good, want: invalid},
		{name: "exp exponent", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), rawClaim("exp", "1.8e9")), keys: good, want: invalid},
		{name: "exp string", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), rawClaim("exp", `"1800003600"`)), keys: good, want: invalid},
		{name: "nbf float", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), rawClaim("nbf", "1799999990.5")), keys: good, want: invalid},
		{name: "iat string", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), rawClaim("iat", `"now"`)), keys: good, want: invalid},

		{name: "unknown kid", token: signed("RS256", rsa2048, map[string]any{"alg": "RS256", "kid": "k2"}, baseClaims()), keys: good, want: invalid, unknownID: true},
		{name: "empty key set", token: valid, keys: keySet(), want: invalid, unknownID: true},
		{name: "nil key set", token: valid, keys: nil, want: invalid, unknownID: true},
		{name: "ES256 token, RSA key", token: signed("ES256", ec256, hdr("ES256"), baseClaims()), keys: keySet(jwk(rsa2048, kid, "")), want: invalid},
		{name: "RS256 token, EC key", token: valid, keys: keySet(jwk(ec256, kid, "")), want: invalid},
		{name: "ES256 token, P-384 key", token: signed("ES256", ec384, hdr("ES256"), baseClaims()), keys: keySet(jwk(ec384, kid, "")), want: invalid},
		{name: "1024-bit RSA key", token: signed("RS256", rsa1024, hdr("RS256"), baseClaims()), keys: keySet(jwk(rsa1024, kid, "RS256")), want: invalid},
		{name: "key alg differs from token alg", token: valid, keys: keySet(jwk(rsa2048, kid, "RS512")), want: invalid},
		{name: "key use enc", token: valid, keys: keySet(jose.JSONWebKey{Key: &rsa2048.PublicKey, KeyID: kid, Use: "enc"}), want: invalid},
		{name: "ambiguous kid", token: valid, keys: keySet(jwk(rsa2048, kid, ""), jwk(rsaOther, kid, "")), want: invalid},
		{name: "symmetric key in set", token: valid, keys: keySet(jwk(rsa2048, kid, ""), jose.JSONWebKey{Key: pubDER, KeyID: "h"}), want: invalid},

		{name: "jwk header with attacker key", token: signed("RS256", rsaOther, map[string]any{"alg": "RS256", "kid": kid, "jwk": attackerJWK}, baseClaims()), keys: good, want: invalid},
		{name: "jwk header without kid", token: signed("RS256", rsaOther, map[string]any{"alg": "RS256", "jwk": attackerJWK}, baseClaims()), keys: good, want: invalid},
		{name: "jku header", token: signed("RS256", rsaOther, map[string]any{"alg": "RS256", "kid": "attacker", "jku": smuggle.URL + "/jwks"}, baseClaims()), keys: good, want: invalid, unknownID: true},
		{name: "x5u header", token: signed("RS256", rsaOther, map[string]any{"alg": "RS256", "kid": kid, "x5u": smuggle.URL + "/cert.pem"}, baseClaims()), keys: good, want: invalid},
		{name: "x5c header", token: signed("RS256", rsaOther, map[string]any{"alg": "RS256", "kid": kid, "x5c": []string{enc(smuggle.Certificate().Raw)}}, baseClaims()), keys: good, want: invalid},
		{name: "jwk/jku ignored on a good token", token: signed("RS256", rsa2048, map[string]any{"alg": "RS256", "kid": kid, "jku": smuggle.URL, "jwk": attackerJWK}, baseClaims()), keys: good, want: ok},

		{name: "crit unknown", token: signed("RS256", rsa2048, map[string]any{"alg": "RS256", "kid": kid, "crit": []string{"x-custom"}, "x-custom": 1}, baseClaims()), keys: good, want: invalid},
		{name: "crit empty", token: signed("RS256", rsa2048, map[string]any{"alg": "RS256", "kid": kid, "crit": []string{}}, baseClaims()), keys: good, want: invalid},
		{name: "duplicate alg in header", token: signRaw(t, "RS256", rsa2048, `{"alg":"none","alg":"RS256","kid":"k1"}`, mustJSON(t, baseClaims())), keys: good, want: invalid},
		{name: "duplicate kid via escape", token: signRaw(t, "RS256", rsa2048, `{"alg":"RS256","kid":"k1","\u006bid":"k2"}`, mustJSON(t, baseClaims())), keys: good, want: invalid},
		{name: "duplicate sub in payload", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), rawClaim("sub", `"a","sub":"b"`)), keys: good, want: invalid},
		{name: "duplicate member nested", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), rawClaim("ctx", `{"a":[{"x":1,"x":2}]}`)), keys: good, want: invalid},
		{name: "same name in sibling objects is fine", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), rawClaim("ctx", `[{"x":1},{"x":2}]`)), keys: good, want: ok},
		{name: "invalid UTF-8 in payload", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), rawClaim("x", "\"a\xff\"")), keys: good, want: invalid},

		{name: "oversized", token: signed("RS256", rsa2048, hdr("RS256"), withClaim("pad", strings.Repeat("a", MaxTokenLen))), keys: good, want: invalid},
		{name: "empty", token: "", keys: good, want: invalid},
		{name: "two parts", token: parts[0] + "." + parts[1], keys: good, want: invalid},
		{name: "four parts", token: valid + ".", keys: good, want: invalid},
		{name: "empty signature", token: parts[0] + "." + parts[1] + ".", keys: good, want: invalid},
		{name: "padded base64", token: parts[0] + "=." + parts[1] + "." + parts[2], keys: good, want: invalid},
		{name: "std base64 alphabet", token: parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+", keys: good, want: invalid},
		{name: "newline inside", token: parts[0] + "\n." + parts[1] + "." + parts[2], keys: good, want: invalid},
		{name: "space inside", token: " " + valid, keys: good, want: invalid},
		{name: "non-JSON header", token: enc([]byte("hello")) + "." + parts[1] + "." + parts[2], keys: good, want: invalid},
		{name: "non-JSON payload", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), "not json"), keys: good, want: invalid},
		{name: "payload is an array", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), `[1,2]`), keys: good, want: invalid},
		{name: "payload is null", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), `null`), keys: good, want: invalid},
		{name: "payload with trailing data", token: signRaw(t, "RS256", rsa2048, mustJSON(t, hdr("RS256")), mustJSON(t, baseClaims())+"{}"), keys: good, want: invalid},
		{name: "alg not a string", token: signRaw(t, "RS256", rsa2048, `{"alg":["RS256"],"kid":"k1"}`, mustJSON(t, baseClaims())), keys: good, want: invalid},
		{name: "header too deep", token: signRaw(t, "RS256", rsa2048, `{"alg":"RS256","x":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`, mustJSON(t, baseClaims())), keys: good, want: invalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := verifyAll(tc.token, tc.keys)
			if got := errCode(err); got != tc.want {
				t.Fatalf("code = %q, want %q (err: %v)", got, tc.want, err)
			}
			if tc.want == ok && tok == nil {
				t.Fatal("no token returned on success")
			}
			if tc.want != ok && tok != nil {
				t.Fatal("token returned along with an error")
			}
			if got := errors.Is(err, ErrUnknownKID); got != tc.unknownID {
				t.Fatalf("errors.Is(err, ErrUnknownKID) = %v, want %v (err: %v)", got, tc.unknownID, err)
			}
			if tc.unknownID && awserr.As(err).Message != MsgKeyRetrieval {
				t.Fatalf("message = %q, want %q", awserr.As(err).Message, MsgKeyRetrieval)
			}
		})
	}
	if n := smuggledHits.Load(); n != 0 {
		t.Fatalf("servers named in jku/x5u headers got %d requests, want 0", n)
	}
}

func TestParseFields(t *testing.T) {
	testKeys(t)
	c := baseClaims()
	c["aud"] = []string{"a", "b"}
	c["azp"] = "b"
	c["nested"] = map[string]any{"n": 12}
	delete(c, "nbf")
	raw := signRaw(t, "ES256", ec256, `{"alg":"ES256","kid":"e1"}`, mustJSON(t, c))
	tok, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Alg != "ES256" || tok.KID != "e1" || tok.Issuer != testIssuer || tok.Subject != c["sub"] || tok.AZP != "b" {
		t.Fatalf("header/claims not decoded: %+v", tok)
	}
	if len(tok.Audience) != 2 || tok.Audience[1] != "b" {
		t.Fatalf("Audience = %v", tok.Audience)
	}
	if tok.Expiry != testNow.Unix()+3600 || !tok.HasIssuedAt || tok.IssuedAt != testNow.Unix()-10 || tok.HasNotBefore {
		t.Fatalf("times = exp %d iat %d/%v nbf %v", tok.Expiry, tok.IssuedAt, tok.HasIssuedAt, tok.HasNotBefore)
	}
	if n := tok.Claims()["nested"].(map[string]any)["n"]; fmt.Sprint(n) != "12" || fmt.Sprintf("%T", n) != "json.Number" {
		t.Fatalf("nested number = %v (%T), want json.Number 12", n, n)
	}
	if tok.Raw != raw {
		t.Fatal("Raw not kept")
	}
}

func TestCheckTimeMessage(t *testing.T) {
	tok := &Token{Expiry: 1626191469}
	err := tok.checkTime(time.Unix(1626271164, 0), 0)
	e := awserr.As(err)
	if e == nil || e.Code != awserr.CodeExpiredTokenException || e.Status != 400 {
		t.Fatalf("err = %v, want ExpiredTokenException 400", err)
	}
	const want = "Token expired: current date/time 1626271164 must be before the expiration date/time1626191469"
	if e.Message != want {
		t.Fatalf("message = %q, want %q", e.Message, want)
	}
	if err := (&Token{Expiry: 1626271164}).checkTime(time.Unix(1626271164, 0), 0); err == nil {
		t.Fatal("exp == now must be expired")
	}
}

func TestMatchAudience(t *testing.T) {
	tests := []struct {
		name    string
		aud     []string
		azp     string
		clients []string
		want    string // the matched client id
		wantMsg string
	}{
		{name: "match", aud: []string{"sts.amazonaws.com"}, clients: []string{"sts.amazonaws.com"}, want: "sts.amazonaws.com"},
		{name: "match in array", aud: []string{"x", "y"}, clients: []string{"y"}, want: "y"},
		{name: "first listed aud wins", aud: []string{"x", "y", "z"}, clients: []string{"z", "y"}, want: "y"},
		{name: "azp match", aud: []string{"x"}, azp: "z", clients: []string{"z"}, want: "z"},
		{name: "azp preferred over aud", aud: []string{"x"}, azp: "z", clients: []string{"x", "z"}, want: "z"},
		{name: "azp not listed falls back to aud", aud: []string{"x"}, azp: "z", clients: []string{"x"}, want: "x"},
		{name: "no match", aud: []string{"x"}, clients: []string{"y"}, wantMsg: MsgIncorrectAudience},
		{name: "azp alone does not replace a missing aud", azp: "y", clients: []string{"y"}, wantMsg: "Missing a required claim: aud"},
		{name: "missing aud", clients: []string{"y"}, wantMsg: "Missing a required claim: aud"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := matchAudience(&Token{Audience: tc.aud, AZP: tc.azp}, tc.clients)
			if tc.wantMsg == "" {
				if err != nil || got != tc.want {
					t.Fatalf("matchAudience = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			e := awserr.As(err)
			if e == nil || e.Code != awserr.CodeInvalidIdentityToken || e.Message != tc.wantMsg {
				t.Fatalf("err = %v, want InvalidIdentityToken %q", err, tc.wantMsg)
			}
		})
	}
}
