package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keylessci/keyless/internal/policy"
)

// corpusCase is one trust policy of testdata/corpus with its ground truth,
// written by hand from the provider's documented token shapes.
type corpusCase struct {
	Role        string           `json:"role"`
	Owner       string           `json:"owner"`
	Note        string           `json:"note"`
	Permissions []string         `json:"permissions"`
	Want        []wantFinding    `json:"want"`
	Expect      []map[string]any `json:"expect"`
	Policy      json.RawMessage  `json:"policy"`
}

type wantFinding struct {
	Rule      string `json:"rule"`
	Statement int    `json:"statement"`
}

// LoadCorpus reads testdata/corpus; other packages' tests (the --prove
// end-to-end test) use the same files.
func loadCorpus(t testing.TB) map[string]corpusCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]corpusCase{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c corpusCase
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = c
	}
	return out
}

func (c corpusCase) role(name string) Role {
	return Role{Name: c.Role, Source: name, TrustPolicy: string(c.Policy), Permissions: c.Permissions}
}

// TestCorpus: audit reports exactly the ground truth of every corpus policy
// (no false positive, no false negative), every witness is admitted by the
// evaluator, and every fix denies its witness and keeps the expected
// identities.
func TestCorpus(t *testing.T) {
	corpus := loadCorpus(t)
	if len(corpus) < 80 {
		t.Fatalf("corpus has %d policies, want at least 80", len(corpus))
	}
	var fp, fn int
	for _, name := range sortedKeys(corpus) {
		c := corpus[name]
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			res, err := Analyze(c.role(name), Config{Owner: c.Owner, Expect: c.Expect})
			if err != nil {
				t.Fatal(err)
			}
			var got []wantFinding
			for _, f := range res.Findings {
				got = append(got, wantFinding{f.Rule, f.Statement})
				checkFinding(t, c, res, f)
			}
			want := append([]wantFinding(nil), c.Want...)
			key := func(s []wantFinding) func(i, j int) bool {
				return func(i, j int) bool { return fmt.Sprint(s[i]) < fmt.Sprint(s[j]) }
			}
			sort.Slice(got, key(got))
			sort.Slice(want, key(want))
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []wantFinding) bool { return fmt.Sprint(a) == fmt.Sprint(b) })); diff != "" {
				t.Errorf("%s: findings (-want +got):\n%s", c.Note, diff)
				if len(got) > len(want) {
					fp++
				} else {
					fn++
				}
			}
		})
	}
	if fp+fn > 0 {
		t.Errorf("%d policies with false positives, %d with false negatives", fp, fn)
	}
}

func checkFinding(t *testing.T, c corpusCase, res Result, f Finding) {
	t.Helper()
	iss, _ := f.Witness["iss"].(string)
	if !strings.HasPrefix(iss, "https://") {
		t.Errorf("%s: witness iss %q lacks https://", f.Rule, iss)
	}
	if f.Message == "" || f.Severity.Rank() == 0 {
		t.Errorf("%s: empty message or severity %q", f.Rule, f.Severity)
	}
	url := strings.TrimPrefix(iss, "https://")
	req := func(claims map[string]any) *policy.Request {
		return &policy.Request{
			Principal: policy.Principal{Type: policy.PrincipalFederated, ID: f.ProviderARN},
			Action:    "sts:AssumeRoleWithWebIdentity", Resource: res.ARN,
			Context: Context(url, f.ProviderARN, claims),
		}
	}
	orig, err := policy.Parse(string(c.Policy), policy.Trust)
	if err != nil {
		t.Fatal(err)
	}
	if orig.Evaluate(req(f.Witness)) != policy.Allow {
		t.Errorf("%s: the evaluator does not admit the witness %v", f.Rule, f.Witness)
	}
	if string(f.Fix) == "null" || len(f.Fix) == 0 {
		t.Errorf("%s: no fix", f.Rule)
		return
	}
	fixed, err := policy.Parse(string(f.Fix), policy.Trust)
	if err != nil {
		t.Fatalf("%s: fix does not parse: %v\n%s", f.Rule, err, f.Fix)
	}
	if f.Rule != RuleSetOperator && fixed.Evaluate(req(f.Witness)) == policy.Allow {
		t.Errorf("%s: the fix still admits the witness\n%s", f.Rule, f.Fix)
	}
	for _, e := range c.Expect {
		eu := strings.TrimPrefix(e["iss"].(string), "https://")
		r := req(e)
		r.Principal.ID = "arn:aws:iam::111122223333:oidc-provider/" + eu
		r.Context = Context(eu, r.Principal.ID, e)
		if orig.Evaluate(r) == policy.Allow && fixed.Evaluate(r) != policy.Allow {
			t.Errorf("%s: the fix denies the expected identity %v\n%s", f.Rule, e["sub"], f.Fix)
		}
	}
}
