package policy

import (
	"strings"
	"unicode/utf8"
)

// pattern is a compiled wildcard pattern. text holds the characters; mask is
// empty when no character is a wildcard, otherwise mask[i] != 0 marks text[i]
// ('*' or '?') as a wildcard rather than a literal (a literal '*' comes from
// the ${*} escape).
type pattern struct {
	text, mask string
	form       patForm
	lit        string // prefix for formPrefix
}

type patForm uint8

const (
	formLiteral patForm = iota // no wildcard: equality
	formAny                    // "*"
	formPrefix                 // literal followed by one trailing '*'
	formGlob                   // general case
)

// newPattern compiles text/mask (mask may be empty) into a pattern with the
// fast paths precomputed.
func newPattern(text, mask string) pattern {
	p := pattern{text: text, mask: mask}
	if !hasMeta(mask) {
		p.mask = ""
		p.form = formLiteral
		return p
	}
	n := len(text)
	switch {
	case n == 1 && mask[0] != 0 && text[0] == '*':
		p.form = formAny
	case mask[n-1] != 0 && text[n-1] == '*' && !hasMeta(mask[:n-1]):
		p.form, p.lit = formPrefix, text[:n-1]
	default:
		p.form = formGlob
	}
	return p
}

// globPattern compiles s with '*' and '?' as wildcards (no escapes).
func globPattern(s string) pattern {
	var mask []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '*' || s[i] == '?' {
			if mask == nil {
				mask = make([]byte, len(s))
			}
			mask[i] = 1
		}
	}
	return newPattern(s, string(mask))
}

func hasMeta(mask string) bool {
	for i := 0; i < len(mask); i++ {
		if mask[i] != 0 {
			return true
		}
	}
	return false
}

// match reports whether s matches p; fold selects ASCII case-insensitive
// comparison (actions). Matching is O(len(p)·len(s)) in the worst case and
// never exponential.
func (p *pattern) match(s string, fold bool) bool {
	switch p.form {
	case formAny:
		return true
	case formLiteral:
		if fold {
			return len(s) == len(p.text) && asciiEqualFold(s, p.text)
		}
		return s == p.text
	case formPrefix:
		if len(s) < len(p.lit) {
			return false
		}
		if fold {
			return asciiEqualFold(s[:len(p.lit)], p.lit)
		}
		return s[:len(p.lit)] == p.lit
	}
	return globMatch(p.text, p.mask, s, fold)
}

// globMatch matches s against pat, where mask[i] != 0 marks pat[i] as a
// wildcard ('*' any run, including empty and '/', '?' exactly one character).
// It is the classic greedy matcher with a single backtrack point: linear in
// the common case and O(len(pat)·len(s)) at worst.
func globMatch[T ~string | ~[]byte](pat, mask T, s string, fold bool) bool {
	meta := func(i int) byte {
		if len(mask) != 0 && mask[i] != 0 {
			return pat[i]
		}
		return 0
	}
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pat) {
			switch meta(p) {
			case '*':
				starP, starI = p, i
				p++
				continue
			case '?':
				_, w := utf8.DecodeRuneInString(s[i:])
				i += w
				p++
				continue
			default:
				if byteEq(pat[p], s[i], fold) {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starI:])
		starI += w
		i = starI
		p = starP + 1
	}
	for p < len(pat) && meta(p) == '*' {
		p++
	}
	return p == len(pat)
}

func byteEq(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	return lower(a) == lower(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// arnPattern is a pattern compiled for ARN-wise matching (ArnLike, Resource):
// each of the six colon-separated components is matched on its own, the last
// one (the resource) keeping its colons. A pattern that is not ARN-shaped
// matches nothing, unless it is "*", which matches everything.
type arnPattern struct {
	whole pattern
	parts [6]pattern
	split bool
}

func newArnPattern(text, mask string) arnPattern {
	ap := arnPattern{whole: newPattern(text, mask)}
	var idx [5]int
	n := 0
	for i := 0; i < len(text) && n < 5; i++ {
		if text[i] == ':' && (len(mask) == 0 || mask[i] == 0) {
			idx[n] = i
			n++
		}
	}
	if n < 5 || ap.whole.form == formAny {
		return ap
	}
	ap.split = true
	start := 0
	for k := 0; k < 6; k++ {
		end := len(text)
		if k < 5 {
			end = idx[k]
		}
		var m string
		if len(mask) != 0 {
			m = mask[start:end]
		}
		ap.parts[k] = newPattern(text[start:end], m)
		start = end + 1
	}
	return ap
}

func (ap *arnPattern) match(s string) bool {
	if !ap.split {
		return ap.whole.form == formAny
	}
	rest := s
	for k := 0; k < 5; k++ {
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			return false
		}
		if !ap.parts[k].match(rest[:j], false) {
			return false
		}
		rest = rest[j+1:]
	}
	return ap.parts[5].match(rest, false)
}
