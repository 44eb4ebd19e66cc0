package policy

import (
	"strings"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
)

// FuzzParse: Parse never panics, every error is an AWS error, and a parsed
// policy can be evaluated and explained.
func FuzzParse(f *testing.F) {
	f.Add(seedTrust, 0)
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username}/*","Condition":{"ForAllValues:StringLike":{"a:b":["${*}x"]}}}}`, 1)
	f.Add(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["123456789012"]},"Action":"sts:*","Condition":{"IpAddress":{"aws:SourceIp":"::/0"},"DateLessThan":{"aws:CurrentTime":1}}}]}`, 0)
	f.Fuzz(func(t *testing.T, doc string, kind int) {
		k := Kind(uint(kind) % 4)
		p, err := Parse(doc, k)
		if err != nil {
			if awserr.As(err) == nil {
				t.Fatalf("Parse returned a non-AWS error: %v", err)
			}
			return
		}
		r := seedRequest("org/ORG/project/PROJ/x")
		r.Context.Set("aws:username", "alice")
		d := p.Evaluate(r)
		if tr := p.Explain(r); tr.Decision != d {
			t.Fatalf("Explain %v != Evaluate %v", tr.Decision, d)
		}
	})
}

// FuzzEvaluate: the seed-shaped policy with a fuzzed pattern and request
// value; the fast path and the traced path agree, and matching stays
// bounded for any pattern.
func FuzzEvaluate(f *testing.F) {
	f.Add("org/ORG/project/PROJ/*", "org/ORG/project/PROJ/user/U", "StringLike")
	f.Add("a*b?c${*}", "aXXb-c*", "StringNotLike")
	f.Add("arn:aws:iam::*:role/${k:a}", "arn:aws:iam::1:role/x", "ArnLike")
	f.Add("10.0.0.0/8", "10.1.2.3", "IpAddress")
	f.Add("2026-01-01", "1767225600", "DateGreaterThanEquals")
	f.Fuzz(func(t *testing.T, pattern, value, op string) {
		if len(pattern) > 2048 || len(value) > 4096 {
			return // the trust quota bounds real patterns; keep each run fast
		}
		doc := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:*","Resource":"*","Condition":{` +
			quoteJSON(op) + `:{"k:a":` + quoteJSON(pattern) + `}}}}`
		p, err := Parse(doc, Identity)
		if err != nil {
			return
		}
		c := NewContext()
		c.Set("k:a", value)
		r := &Request{Principal: Principal{Type: PrincipalAWS, ID: roleARN, Account: acct}, Action: "sts:AssumeRole", Resource: roleARN, Context: c}
		if d, x := p.Evaluate(r), p.Explain(r).Decision; d != x {
			t.Fatalf("Evaluate %v != Explain %v", d, x)
		}
	})
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
