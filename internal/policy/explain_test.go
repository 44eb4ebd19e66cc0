package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestExplainGolden(t *testing.T) {
	const multi = `{"Version":"2012-10-17","Statement":[
		{"Sid":"CI","Effect":"Allow","Principal":{"Federated":"` + seedProvider + `"},"Action":"sts:AssumeRoleWithWebIdentity",
		 "Condition":{"StringEquals":{"oidc.circleci.com/org/ORG:aud":"ORG"},"StringLike":{"oidc.circleci.com/org/ORG:sub":["org/ORG/project/P1/*","org/ORG/project/P2/*"]}}},
		{"Sid":"Blocked","Effect":"Deny","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity",
		 "Condition":{"ForAnyValue:StringEquals":{"oidc.circleci.com/org/ORG:oidc.circleci.com/context-ids":["bad-context"]}}}]}`
	multiReq := func(sub string, contexts ...string) *Request {
		r := seedRequest(sub)
		r.Context.Set("oidc.circleci.com/org/ORG:aud", "ORG")
		if len(contexts) > 0 {
			r.Context.Set("oidc.circleci.com/org/ORG:oidc.circleci.com/context-ids", contexts...)
		}
		return r
	}
	tests := []struct {
		name  string
		trace func() *Trace
		miss  string // expected ClosestMiss
	}{
		{"seed_allow", func() *Trace {
			return mustParse(t, seedTrust, Trust).Explain(seedRequest("org/ORG/project/PROJ/user/U"))
		}, ""},
		{"seed_wrong_project", func() *Trace {
			return mustParse(t, seedTrust, Trust).Explain(seedRequest("org/ORG/project/Q/user/U"))
		}, `sub is "org/ORG/project/Q/user/U", the policy expects "org/ORG/project/PROJ/*"`},
		{"seed_missing_sub", func() *Trace {
			r := seedRequest("")
			r.Context = NewContext()
			return mustParse(t, seedTrust, Trust).Explain(r)
		}, `sub is absent, the policy expects "org/ORG/project/PROJ/*"`},
		{"seed_wrong_provider", func() *Trace {
			r := seedRequest("org/ORG/project/PROJ/x")
			r.Principal.ID = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
			return mustParse(t, seedTrust, Trust).Explain(r)
		}, `the principal is Federated "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com", the policy expects "Federated:` + seedProvider + `"`},
		{"multi_deny", func() *Trace {
			return mustParse(t, multi, Trust).Explain(multiReq("org/ORG/project/P1/user/U", "good", "bad-context"))
		}, ""},
		{"multi_miss", func() *Trace {
			return mustParse(t, multi, Trust).Explain(multiReq("org/ORG/project/P3/user/U"))
		}, `sub is "org/ORG/project/P3/user/U", the policy expects one of "org/ORG/project/P1/*", "org/ORG/project/P2/*"`},
		{"set_account_principal", func() *Trace {
			trust := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}}`, Trust)
			ident := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/other"}}`, Identity)
			r := &Request{Principal: awsCaller(session, acct, roleARN), Action: "sts:AssumeRole", Resource: "arn:aws:iam::123456789012:role/target"}
			return ExplainSet(r, Set{Trust: trust, Identity: []*Policy{ident}})
		}, `the resource is "arn:aws:iam::123456789012:role/target", the policy expects "arn:aws:iam::123456789012:role/other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tt.trace()
			if tr.ClosestMiss != tt.miss {
				t.Errorf("ClosestMiss = %q\nwant          %q", tr.ClosestMiss, tt.miss)
			}
			golden(t, tt.name+".txt", []byte(tr.Text()))
			js, err := tr.JSON()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.name+".json", append(js, '\n'))
			var back Trace
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatalf("trace JSON does not round-trip: %v", err)
			}
		})
	}
}

// TestExplainAgreesWithEvaluate checks that the traced path and the fast
// path never disagree, over the condition table cases.
func TestExplainAgreesWithEvaluate(t *testing.T) {
	docs := []string{
		seedTrust,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:*","Condition":{"ForAllValues:StringLike":{"k:g":"a*"},"NumericLessThanIfExists":{"k:n":"5"}}},{"Effect":"Deny","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole","Condition":{"Null":{"k:x":"false"}}}]}`,
	}
	ctxs := []kv{nil, {"k:g": {"ab", "ac"}}, {"k:g": {"b"}}, {"k:n": {"7"}}, {"k:x": {"1"}}, {seedKey: {"org/ORG/project/PROJ/1"}}}
	principals := []Principal{{Type: PrincipalFederated, ID: seedProvider}, awsCaller(session, acct, roleARN)}
	for _, doc := range docs {
		p := mustParse(t, doc, Trust)
		for _, kvs := range ctxs {
			for _, pr := range principals {
				for _, action := range []string{"sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"} {
					c := NewContext()
					for k, v := range kvs {
						c.Set(k, v...)
					}
					r := &Request{Principal: pr, Action: action, Resource: roleARN, Context: c}
					if e, x := p.Evaluate(r), p.Explain(r).Decision; e != x {
						t.Errorf("doc %.40s… ctx %v principal %v action %s: Evaluate %v, Explain %v", doc, kvs, pr, action, e, x)
					}
				}
			}
		}
	}
}

func TestExplainTextEnds(t *testing.T) {
	tr := mustParse(t, seedTrust, Trust).Explain(seedRequest("org/ORG/project/Q/user/U"))
	text := tr.Text()
	if !strings.Contains(text, "result: no statement allowed\n") {
		t.Errorf("text lacks the result line:\n%s", text)
	}
	if !strings.HasSuffix(text, "closest miss (trust policy, statement 1): sub is \"org/ORG/project/Q/user/U\", the policy expects \"org/ORG/project/PROJ/*\"\n") {
		t.Errorf("text does not end with the closest miss:\n%s", text)
	}
}
