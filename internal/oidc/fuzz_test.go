package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse and Verify never panic and that whatever
// Parse accepts satisfies its stated invariants. Seeds live in
// testdata/fuzz/FuzzParse; run longer with
//
//	go test ./internal/oidc -run '^$' -fuzz FuzzParse -fuzztime 5m
func FuzzParse(f *testing.F) {
	testKeys(f)
	keys := keySet(jwk(rsa2048, "k1", "RS256"), jwk(ec256, "e1", "ES256"))
	f.Add(signRaw(f, "RS256", rsa2048, `{"alg":"RS256","kid":"k1"}`, mustJSON(f, baseClaims())))
	f.Add(signRaw(f, "ES256", ec256, `{"alg":"ES256","kid":"e1"}`, mustJSON(f, baseClaims())))
	f.Add(signRaw(f, "RS256", rsa2048, `{"alg":"RS256"}`, `{"iss":"a","exp":1,"aud":["x",{"y":[1,2,{"z":null}]}]}`))
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := Parse(raw)
		if err != nil {
			if tok != nil {
				t.Fatal("token returned with an error")
			}
			return
		}
		if !supportedAlg(tok.Alg) {
			t.Fatalf("accepted alg %q", tok.Alg)
		}
		if tok.Issuer == "" || len(raw) > MaxTokenLen {
			t.Fatalf("accepted token without iss or oversized")
		}
		if !strings.HasPrefix(raw, tok.signingInput+".") || strings.Count(raw, ".") != 2 {
			t.Fatal("signing input is not the token's first two parts")
		}
		// What Parse accepted re-decodes to the same claims with the
		// standard decoder (no duplicate member could have been hidden).
		_, payload, err := parseJWS(raw)
		if err != nil {
			t.Fatalf("parseJWS fails on a token Parse accepted: %v", err)
		}
		d := json.NewDecoder(bytes.NewReader(payload))
		d.UseNumber()
		var again map[string]any
		if err := d.Decode(&again); err != nil || !reflect.DeepEqual(again, tok.Claims()) {
			t.Fatalf("claims re-decode differently: %v", err)
		}
		// The registered claims read from the index are what the standard
		// decoder reads.
		if iss, _ := again["iss"].(string); iss != tok.Issuer {
			t.Fatalf("iss %q, standard decoder %q", tok.Issuer, iss)
		}
		if sub, _ := again["sub"].(string); sub != tok.Subject {
			t.Fatalf("sub %q, standard decoder %q", tok.Subject, sub)
		}
		if exp, err := again["exp"].(json.Number).Int64(); err != nil || exp != tok.Expiry {
			t.Fatalf("exp %d, standard decoder %d (%v)", tok.Expiry, exp, err)
		}
		var header map[string]any // not a struct: its field names match case-insensitively
		h, err := b64.DecodeString(strings.Split(raw, ".")[0])
		if err != nil || json.Unmarshal(h, &header) != nil {
			t.Fatalf("header does not decode: %v", err)
		}
		if alg, _ := header["alg"].(string); alg != tok.Alg {
			t.Fatalf("alg %q, standard decoder %q", tok.Alg, alg)
		}
		if kid, _ := header["kid"].(string); kid != tok.KID {
			t.Fatalf("kid %q, standard decoder %q", tok.KID, kid)
		}
		_ = tok.verify(keys) // must not panic
		_ = tok.checkTime(testNow, 0)
	})
}

// FuzzIndexObject holds the one-pass scanner to encoding/json: what it
// accepts is valid JSON, and valid UTF-8 JSON objects it refuses have a
// duplicate member name or are nested too deeply.
func FuzzIndexObject(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":[1,2.5e-3,true,null,{"b":"\u00e9"}]}`, `{"a":1,"a":2}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`,
		`{"a":tru}`, `{"a":1}x`, `[1]`, `{"a":"\q"}`, `{"a":1e+}`, ` {"a" : -0.0E-0 } `, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := indexObject(data)
		valid := json.Valid(data)
		if err == nil && !valid {
			t.Fatalf("indexObject accepted invalid JSON %q", data)
		}
		if err != nil && valid && utf8.Valid(data) && bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) &&
			!errors.Is(err, errDuplicateMember) && !errors.Is(err, errJSONDepth) {
			t.Fatalf("indexObject refused valid JSON %q: %v", data, err)
		}
	})
}
