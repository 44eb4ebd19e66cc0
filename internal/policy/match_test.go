package policy

import (
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pat, s string
		fold   bool
		want   bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"**", "abc", false, true},
		{"a*b*c", "aXbYc", false, true},
		{"a*b*c", "aXbY", false, false},
		{"*a", "bba", false, true},
		{"?", "é", false, true},
		{"??", "é", false, false},
		{"a*?", "a", false, false},
		{"a*?", "ab", false, true},
		{"STS:Assume*", "sts:assumerole", true, true},
		{"STS:Assume*", "sts:assumerole", false, false},
		{"s3:get?bject", "S3:GETOBJECT", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.pat+"~"+tt.s, func(t *testing.T) {
			p := globPattern(tt.pat)
			if got := p.match(tt.s, tt.fold); got != tt.want {
				t.Errorf("match(%q, %q, fold=%v) = %v, want %v", tt.pat, tt.s, tt.fold, got, tt.want)
			}
			if got := globMatch(tt.pat, wildMask(tt.pat), tt.s, tt.fold); got != tt.want {
				t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pat, tt.s, got, tt.want)
			}
		})
	}
}

// TestGlobPathological: many stars against a near-miss must stay
// polynomial (an exponential matcher would not finish).
func TestGlobPathological(t *testing.T) {
	pat := strings.Repeat("a*", 2000) + "b"
	s := strings.Repeat("a", 4000)
	p := globPattern(pat)
	if p.match(s, false) {
		t.Fatal("matched a string without b")
	}
}

func TestArnAccount(t *testing.T) {
	tests := []struct{ in, want string }{
		{"arn:aws:iam::123456789012:role/a", "123456789012"},
		{"arn:aws:s3:::bucket", ""},
		{"arn:aws:iam::123456789012", ""},
		{"role/a", ""},
		{"arn:aws:logs:us-east-1:210987654321:log-group:x:y", "210987654321"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := arnAccount(tt.in); got != tt.want {
				t.Errorf("arnAccount(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
