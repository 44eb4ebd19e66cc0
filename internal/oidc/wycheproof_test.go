package oidc

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wycheproofDir holds the C2SP Wycheproof JOSE vectors (shared test data,
// not committed here).
const wycheproofDir = "../../../shared/testdata/wycheproof"

// wycheproofOutOfScope lists vectors whose expected verdict differs from
// ours on purpose. Every one of them we reject; the test asserts that.
// Vectors signed with an algorithm STS never accepts (none, HS*, PS*) are
// out of scope by rule (see algOutOfScope) and must be rejected too.
var wycheproofOutOfScope = map[string]string{
	"json_web_signature_test.json#347": "ES512 token, key alg \"ES521\": not a JWA name; a key's alg must equal the token's",
	"json_web_signature_test.json#351": "ES512 token, key alg \"ES521\" (key_ops variant): same as #347",
	"json_web_signature_test.json#372": "'?' inserted in base64url header: tolerated by lenient decoders, refused by our strict base64url",
	"json_web_signature_test.json#373": "'?' inserted in base64url payload: refused by our strict base64url",
}

type wpFile struct {
	TestGroups []struct {
		Comment string          `json:"comment"`
		Private json.RawMessage `json:"private"`
		Public  json.RawMessage `json:"public"`
		Tests   []struct {
			TcID    int             `json:"tcId"`
			Comment string          `json:"comment"`
			JWS     json.RawMessage `json:"jws"`
			Result  string          `json:"result"`
			Flags   []string        `json:"flags"`
		} `json:"tests"`
	} `json:"testGroups"`
}

// TestWycheproof runs every JWS vector through the code path of Parse and
// Verify: parseJWS (the JWS layer of Parse; the vectors' payloads are not
// JWT claim sets, so the claim checks of Parse are tested elsewhere), the
// key set through ParseKeySet (as the fetcher does), then Token.Verify.
func TestWycheproof(t *testing.T) {
	files := []string{"json_web_signature_test.json", "json_web_crypto_test.json", "json_web_key_test.json"}
	if _, err := os.Stat(wycheproofDir); err != nil {
		t.Skipf("Wycheproof vectors not present at %s: %v", wycheproofDir, err)
	}
	var ran, agreed, outOfScope int
	for _, name := range files {
		data, err := os.ReadFile(filepath.Join(wycheproofDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var f wpFile
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, g := range f.TestGroups {
			keyJSON := g.Public
			if len(keyJSON) == 0 {
				keyJSON = g.Private
			}
			for _, tc := range g.Tests {
				if len(tc.JWS) == 0 || string(tc.JWS) == "null" {
					continue // JWE vectors
				}
				id := name + "#" + itoa(tc.TcID)
				t.Run(id+"/"+g.Comment+"/"+tc.Comment, func(t *testing.T) {
					ran++
					var compact string
					jsonSerialized := json.Unmarshal(tc.JWS, &compact) != nil
					if jsonSerialized {
						// JSON serialization: STS takes compact tokens only.
						compact = string(tc.JWS)
					}
					accepted, why := wycheproofVerify(compact, keyJSON)
					reason, listed := wycheproofOutOfScope[id]
					switch alg := headerAlg(compact); {
					case jsonSerialized:
						reason, listed = "JSON serialization, never accepted by STS", true
					case !listed && alg != "" && !supportedAlg(alg):
						reason, listed = "alg "+alg+" is never accepted by STS", true
					}
					if listed {
						if accepted {
							t.Fatalf("out of scope (%s) but accepted", reason)
						}
						outOfScope++
						return
					}
					switch tc.Result {
					case "valid":
						if !accepted {
							t.Fatalf("valid vector rejected: %s (flags %v)", why, tc.Flags)
						}
					case "invalid":
						if accepted {
							t.Fatalf("invalid vector accepted (flags %v)", tc.Flags)
						}
					case "acceptable":
					default:
						t.Fatalf("unknown result %q", tc.Result)
					}
					agreed++
				})
			}
		}
	}
	if ran < 450 {
		t.Fatalf("ran %d vectors, expected the ~470 JWS vectors of the three files", ran)
	}
	t.Logf("Wycheproof: %d vectors, %d agree, %d out of scope (rejected)", ran, agreed, outOfScope)
}

// wycheproofVerify returns whether the vector's token verifies under the
// group's key(s), and if not, why.
func wycheproofVerify(compact string, keyJSON json.RawMessage) (bool, string) {
	tok, _, err := parseJWS(compact)
	if err != nil {
		return false, "parse: " + err.Error()
	}
	setJSON := []byte(keyJSON)
	var probe map[string]json.RawMessage
	if json.Unmarshal(keyJSON, &probe) == nil {
		if _, isSet := probe["keys"]; !isSet {
			setJSON = []byte(`{"keys":[` + string(keyJSON) + `]}`)
		}
	}
	set, err := ParseKeySet(setJSON)
	if err != nil {
		return false, "key set: " + err.Error()
	}
	if err := tok.verify(set); err != nil {
		return false, "verify: " + err.Error()
	}
	return true, ""
}

// headerAlg decodes the alg of a compact token leniently, for classifying
// vectors only.
func headerAlg(compact string) string {
	h, _, _ := strings.Cut(compact, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(b, &hdr) != nil {
		return ""
	}
	return hdr.Alg
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
