package audit_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keylessci/keyless/internal/audit"
	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/sts"
)

// TestContextMatchesSTS: the condition keys audit evaluates a witness with
// are the ones the STS server sets for the same token (sts imports oidc, so
// the pure audit package cannot call it; this test holds them together).
func TestContextMatchesSTS(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.json"))
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Role   string          `json:"role"`
			Policy json.RawMessage `json:"policy"`
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		res, err := audit.Analyze(audit.Role{Name: c.Role, TrustPolicy: string(c.Policy)}, audit.Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range res.Findings {
			// Round-trip through JSON as a token's claims would be.
			raw, _ := json.Marshal(fd.Witness)
			dec := json.NewDecoder(strings.NewReader(string(raw)))
			dec.UseNumber()
			var claims map[string]any
			if err := dec.Decode(&claims); err != nil {
				t.Fatal(err)
			}
			url := strings.TrimPrefix(claims["iss"].(string), "https://")
			aud, _ := claims["aud"].(string)
			sub, _ := claims["sub"].(string)
			tok := &oidc.Token{Issuer: claims["iss"].(string), Subject: sub, Audience: []string{aud}}
			if err := tok.SetClaims(raw); err != nil {
				t.Fatal(err)
			}
			want := sts.WebIdentityContext(sts.WebIdentityInput{Token: tok, ProviderURL: url, ProviderARN: fd.ProviderARN,
				Audience: aud, RoleARN: res.ARN, SessionName: "keyless-audit", Now: time.Unix(0, 0)})
			got := audit.Context(url, fd.ProviderARN, claims)
			keys := func(k []string) []string {
				var out []string
				for _, x := range k {
					l := strings.ToLower(x)
					if strings.HasPrefix(l, strings.ToLower(url)+":") || l == "sts:rolesessionname" || l == "aws:federatedprovider" {
						out = append(out, x)
					}
				}
				sort.Strings(out)
				return out
			}
			if diff := cmp.Diff(keys(want.Keys()), keys(got.Keys())); diff != "" {
				t.Errorf("%s %s: keys differ (-sts +audit):\n%s", f, fd.Rule, diff)
				continue
			}
			for _, k := range keys(want.Keys()) {
				w, _ := want.Get(k)
				g, _ := got.Get(k)
				if !cmp.Equal(w, g) {
					t.Errorf("%s %s: %s is %v in sts, %v in audit", f, fd.Rule, k, w, g)
				}
			}
			checked++
		}
	}
	if checked < 50 {
		t.Fatalf("only %d witnesses checked", checked)
	}
}
