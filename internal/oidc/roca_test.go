package oidc

import (
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestROCAScreen(t *testing.T) {
	testKeys(t)
	for name, pub := range map[string]*rsa.PublicKey{
		"rsa2048": &rsa2048.PublicKey, "rsaOther": &rsaOther.PublicKey, "rsa1024": &rsa1024.PublicKey,
	} {
		if rocaWeak(pub.N) {
			t.Errorf("%s: freshly generated key flagged as ROCA-weak", name)
		}
	}
	data, err := os.ReadFile(filepath.Join(wycheproofDir, "json_web_crypto_test.json"))
	if err != nil {
		t.Skipf("Wycheproof vectors not present, ROCA positive case skipped: %v", err)
	}
	var f wpFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range f.TestGroups {
		if g.Comment != "jws_rsa_roca_key" {
			continue
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(g.Public); err != nil {
			t.Fatal(err)
		}
		pub := k.Key.(*rsa.PublicKey)
		if pub.N.BitLen() < MinRSABits {
			t.Fatalf("ROCA vector key is %d bits; the size check, not the screen, would reject it", pub.N.BitLen())
		}
		if !rocaWeak(pub.N) {
			t.Fatal("Wycheproof ROCA key not flagged")
		}
		found = true
	}
	if !found {
		t.Fatal("no jws_rsa_roca_key group in the vectors")
	}
}
