package policy

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestParseMemoryBounded parses maximum-size adversarial documents and
// checks that ParseNew's (and so Parse's) allocations stay proportional to the document (the
// fuzz property "parse→evaluate never allocates unbounded memory").
func TestParseMemoryBounded(t *testing.T) {
	fill := func(prefix, unit, suffix string) string {
		n := (MaxDocumentLength - len(prefix) - len(suffix)) / len(unit)
		body := strings.TrimSuffix(strings.Repeat(unit, n), ",")
		return prefix + body + suffix
	}
	tests := []struct {
		name string
		doc  string
	}{
		{"many short condition values", fill(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"a:b":[`, `"*",`, `]}}}}`)},
		{"many condition keys", manyKeys()},
		{"many statements", fill(`{"Statement":[`, `{"Effect":"Allow","Action":"*","Resource":"*"},`, `]}`)},
		{"many variables", fill(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"`, `${a}`, `"}}`)},
		{"deep arrays", fill(`{"Statement":`, `[`, ``)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.doc) > MaxDocumentLength {
				t.Fatalf("test document is %d characters", len(tt.doc))
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			p, err := ParseNew(tt.doc, Identity) // Parse plus the write-time checks
			runtime.ReadMemStats(&after)
			if err == nil {
				r := &Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: NewContext()}
				r.Context.Set("a:b", strings.Repeat("x", 1000))
				_ = p.Evaluate(r)
			}
			const factor = 200 // measured ~130x at worst
			if got := after.TotalAlloc - before.TotalAlloc; got > factor*MaxDocumentLength {
				t.Errorf("Parse allocated %d bytes for a %d-character document (> %d×)", got, len(tt.doc), factor)
			}
		})
	}
}

// manyKeys is a maximum-size document with as many distinct condition keys
// as fit.
func manyKeys() string {
	var b strings.Builder
	b.WriteString(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"a:0":1`)
	for i := 1; b.Len() < MaxDocumentLength-40; i++ {
		fmt.Fprintf(&b, `,"a:%d":1`, i)
	}
	b.WriteString(`}}}}`)
	return b.String()
}
