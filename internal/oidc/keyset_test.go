package oidc

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestParseKeySet(t *testing.T) {
	testKeys(t)
	keyJSON := func(k jose.JSONWebKey, extra map[string]any) string {
		b, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		for n, v := range extra {
			if v == nil {
				delete(m, n)
			} else {
				m[n] = v
			}
		}
		return mustJSON(t, m)
	}
	set := func(keys ...string) []byte { return []byte(`{"keys":[` + strings.Join(keys, ",") + `]}`) }
	rsaKey := jwk(rsa2048, "r", "RS256")
	ecKey := jwk(ec256, "e", "ES256")
	priv := jose.JSONWebKey{Key: rsa2048, KeyID: "p", Algorithm: "RS256", Use: "sig"}

	tests := []struct {
		name     string
		doc      []byte
		wantKIDs []string
		wantErr  string
	}{
		{name: "RSA and EC kept", doc: set(keyJSON(rsaKey, nil), keyJSON(ecKey, nil)), wantKIDs: []string{"r", "e"}},
		{name: "private key reduced to public", doc: set(keyJSON(priv, nil)), wantKIDs: []string{"p"}},
		{name: "use enc skipped", doc: set(keyJSON(rsaKey, map[string]any{"use": "enc"}), keyJSON(ecKey, nil)), wantKIDs: []string{"e"}},
		{name: "key_ops without verify skipped", doc: set(keyJSON(rsaKey, map[string]any{"use": nil, "key_ops": []string{"encrypt"}})), wantKIDs: nil},
		{name: "key_ops with verify kept", doc: set(keyJSON(rsaKey, map[string]any{"use": nil, "key_ops": []string{"verify"}})), wantKIDs: []string{"r"}},
		{name: "1024-bit RSA skipped", doc: set(keyJSON(jwk(rsa1024, "small", ""), nil)), wantKIDs: nil},
		{name: "EC key with RSA alg skipped", doc: set(keyJSON(ecKey, map[string]any{"alg": "RS256"})), wantKIDs: nil},
		{name: "EC key with another curve's alg skipped", doc: set(keyJSON(ecKey, map[string]any{"alg": "ES384"})), wantKIDs: nil},
		{name: "PS256 key skipped", doc: set(keyJSON(rsaKey, map[string]any{"alg": "PS256"})), wantKIDs: nil},
		{name: "unknown kty skipped", doc: set(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"}`, keyJSON(rsaKey, nil)), wantKIDs: []string{"r"}},
		{name: "malformed key skipped", doc: set(`{"kty":"RSA","n":"AQAB"}`, keyJSON(ecKey, nil)), wantKIDs: []string{"e"}},
		{name: "empty set", doc: []byte(`{"keys":[]}`), wantKIDs: nil},
		{name: "symmetric key refuses the set", doc: set(keyJSON(rsaKey, nil), `{"kty":"oct","k":"c2VjcmV0","kid":"h"}`), wantErr: ErrSymmetricKeySet.Error()},
		{name: "duplicate member refuses the set", doc: []byte(`{"keys":[` + keyJSON(rsaKey, nil)[:len(keyJSON(rsaKey, nil))-1] + `,"kid":"x"}]}`), wantErr: "duplicate"},
		{name: "no keys member", doc: []byte(`{}`), wantErr: "no keys member"},
		{name: "not JSON", doc: []byte(`nope`), wantErr: "not a JSON object"},
		{name: "keys not an array", doc: []byte(`{"keys":{}}`), wantErr: "not an array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKeySet(tc.doc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range got.Keys {
				if !k.IsPublic() {
					t.Fatalf("key %s kept private material", k.KeyID)
				}
				kids = append(kids, k.KeyID)
			}
			if strings.Join(kids, ",") != strings.Join(tc.wantKIDs, ",") {
				t.Fatalf("kids = %v, want %v", kids, tc.wantKIDs)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error // nil, errDuplicateMember, errJSONSyntax or errJSONDepth
	}{
		{name: "object", in: `{"a":1,"b":[true,false,null,"x\"y",{"a":2}],"c":-1.5e3}`},
		{name: "whitespace", in: " {\n\t\"a\" : 1 } "},
		{name: "empty containers", in: `{"a":{},"b":[]}`},
		{name: "duplicate", in: `{"a":1,"a":2}`, want: errDuplicateMember},
		{name: "duplicate via escape", in: `{"a":1,"\u0061":2}`, want: errDuplicateMember},
		{name: "duplicate deep", in: `{"x":[[{"y":{"a":1,"b":2,"a":3}}]]}`, want: errDuplicateMember},
		{name: "duplicate in a large object", in: largeObject(100) + `,"k7":0}`, want: errDuplicateMember},
		{name: "large object without duplicate", in: largeObject(100) + `}`},
		{name: "trailing data", in: `{} {}`, want: errJSONSyntax},
		{name: "unterminated", in: `{"a":`, want: errJSONSyntax},
		{name: "unterminated string", in: `{"a":"b`, want: errJSONSyntax},
		{name: "control character", in: "{\"a\":\"\x01\"}", want: errJSONSyntax},
		{name: "missing colon", in: `{"a" 1}`, want: errJSONSyntax},
		{name: "too deep", in: strings.Repeat("[", 65) + strings.Repeat("]", 65), want: errJSONDepth},
		{name: "deep but allowed", in: strings.Repeat("[", 64) + strings.Repeat("]", 64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkJSON([]byte(tc.in))
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("checkJSON = %v, want %v", err, tc.want)
			}
		})
	}
}

func largeObject(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + itoa(i) + `":` + itoa(i))
	}
	return b.String()
}
