package policy

import "testing"

const (
	seedProvider = "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/ORG"
	seedRole     = "arn:aws:iam::123456789012:role/ci"
	seedKey      = "oidc.circleci.com/org/ORG:sub"
	seedTrust    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/ORG"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"oidc.circleci.com/org/ORG:sub":["org/ORG/project/PROJ/*"]}}}]}`
)

func mustParse(t testing.TB, doc string, kind Kind) *Policy {
	t.Helper()
	p, err := Parse(doc, kind)
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return p
}

// seedRequest is the baseline web-identity request of the seed; tests
// mutate copies of it.
func seedRequest(sub string) *Request {
	ctx := NewContext()
	ctx.Set(seedKey, sub)
	return &Request{
		Principal: Principal{Type: PrincipalFederated, ID: seedProvider},
		Action:    "sts:AssumeRoleWithWebIdentity",
		Resource:  seedRole,
		Context:   ctx,
	}
}

func TestSeedTrustPolicy(t *testing.T) {
	p := mustParse(t, seedTrust, Trust)
	tests := []struct {
		name string
		req  func() *Request
		want Decision
	}{
		{"project job allowed", func() *Request { return seedRequest("org/ORG/project/PROJ/user/U") }, Allow},
		{"other project denied", func() *Request { return seedRequest("org/ORG/project/Q/user/U") }, ImplicitDeny},
		{"prefix without slash denied", func() *Request { return seedRequest("org/ORG/project/PROJ") }, ImplicitDeny},
		{"sub missing denied", func() *Request {
			r := seedRequest("x")
			r.Context = NewContext()
			return r
		}, ImplicitDeny},
		{"key name case-insensitive", func() *Request {
			r := seedRequest("")
			r.Context = NewContext()
			r.Context.Set("OIDC.CircleCI.com/org/ORG:SUB", "org/ORG/project/PROJ/x")
			return r
		}, Allow},
		{"action case-insensitive", func() *Request {
			r := seedRequest("org/ORG/project/PROJ/x")
			r.Action = "STS:assumerolewithwebidentity"
			return r
		}, Allow},
		{"wrong action", func() *Request {
			r := seedRequest("org/ORG/project/PROJ/x")
			r.Action = "sts:AssumeRole"
			return r
		}, ImplicitDeny},
		{"other provider", func() *Request {
			r := seedRequest("org/ORG/project/PROJ/x")
			r.Principal.ID = "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/OTHER"
			return r
		}, ImplicitDeny},
		{"AWS principal with same id", func() *Request {
			r := seedRequest("org/ORG/project/PROJ/x")
			r.Principal.Type = PrincipalAWS
			return r
		}, ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Evaluate(tt.req()); got != tt.want {
				t.Errorf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkEvaluateSeed(b *testing.B) {
	p := mustParse(b, seedTrust, Trust)
	r := seedRequest("org/ORG/project/PROJ/user/5e2c6d1f-0000-4000-8000-000000000000")
	b.ReportAllocs()
	for b.Loop() {
		if p.Evaluate(r) != Allow {
			b.Fatal("seed request denied")
		}
	}
}

func BenchmarkEvaluateSeedDenied(b *testing.B) {
	p := mustParse(b, seedTrust, Trust)
	r := seedRequest("org/ORG/project/OTHER/user/5e2c6d1f-0000-4000-8000-000000000000")
	b.ReportAllocs()
	for b.Loop() {
		if p.Evaluate(r) != ImplicitDeny {
			b.Fatal("other project allowed")
		}
	}
}

// BenchmarkEvaluateSeedWithContextReset includes rebuilding the request
// context, as the server does per request.
func BenchmarkEvaluateSeedWithContextReset(b *testing.B) {
	p := mustParse(b, seedTrust, Trust)
	r := seedRequest("")
	b.ReportAllocs()
	for b.Loop() {
		r.Context.Reset()
		r.Context.Set("oidc.circleci.com/org/ORG:aud", "ORG")
		r.Context.Set(seedKey, "org/ORG/project/PROJ/user/U")
		r.Context.Set("oidc.circleci.com/org/ORG:oidc.circleci.com/project-id", "PROJ")
		if p.Evaluate(r) != Allow {
			b.Fatal("seed request denied")
		}
	}
}

func BenchmarkEvaluateSetAssumeRole(b *testing.B) {
	trust := mustParse(b, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}}`, Trust)
	ident := mustParse(b, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","sts:AssumeRole"],"Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`, Identity)
	r := &Request{Principal: Principal{Type: PrincipalAWS, ID: "arn:aws:sts::123456789012:assumed-role/a/b", Account: "123456789012", RoleARN: "arn:aws:iam::123456789012:role/a"},
		Action: "sts:AssumeRole", Resource: "arn:aws:iam::123456789012:role/target", Context: NewContext()}
	s := Set{Trust: trust, Identity: []*Policy{ident}}
	b.ReportAllocs()
	for b.Loop() {
		if EvaluateSet(r, s) != Allow {
			b.Fatal("denied")
		}
	}
}

func BenchmarkExplainSeed(b *testing.B) {
	p := mustParse(b, seedTrust, Trust)
	r := seedRequest("org/ORG/project/OTHER/user/U")
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Explain(r)
	}
}

func BenchmarkParseSeed(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(seedTrust, Trust); err != nil {
			b.Fatal(err)
		}
	}
}
