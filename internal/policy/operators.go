package policy

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// cvalue is one policy value of a condition, compiled for its operator.
// ok is false when the value cannot be read as the operator's type (an
// unparsable number, date, CIDR, base64 or Bool): such a value matches
// nothing, so AWS's "the comparison fails" becomes false for a positive
// operator and true for a negated one.
type cvalue struct {
	s   strValue
	pat pattern     // StringLike, static
	arn *arnPattern // ArnLike, static
	num float64
	t   time.Time
	ip  netip.Prefix
	bin []byte
	b   bool
	ok  bool
}

func compileValue(o op, raw string, vars bool) cvalue {
	cv := cvalue{ok: true}
	switch o.family() {
	case famString, famArn:
		cv.s = compileString(raw, vars)
		if cv.s.tmpl == nil {
			if o == opStringLike {
				cv.pat = newPattern(cv.s.text, cv.s.mask)
			} else if o == opArnLike {
				ap := newArnPattern(cv.s.text, cv.s.mask)
				cv.arn = &ap
			}
		}
	case famNumeric:
		cv.s.raw = raw
		cv.num, cv.ok = parseNumber(raw)
	case famDate:
		cv.s.raw = raw
		cv.t, cv.ok = parseDate(raw)
	case famBool, famNull:
		cv.s.raw = raw
		switch strings.ToLower(raw) {
		case "true":
			cv.b = true
		case "false":
		default:
			cv.ok = false
		}
	case famBinary:
		cv.s.raw = raw
		b, err := base64.StdEncoding.DecodeString(raw)
		cv.bin, cv.ok = b, err == nil
	case famIP:
		cv.s.raw = raw
		cv.ip, cv.ok = parseCIDR(raw)
	}
	return cv
}

// match reports whether request value v satisfies the positive operator o
// against this policy value.
func (cv *cvalue) match(o op, v string, ctx *Context) bool {
	if !cv.ok {
		return false
	}
	switch o {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opArnLike:
		if cv.s.tmpl != nil {
			return cv.matchTemplate(o, v, ctx)
		}
		switch o {
		case opStringEquals:
			return v == cv.s.text
		case opStringEqualsIgnoreCase:
			return strings.EqualFold(v, cv.s.text)
		case opStringLike:
			return cv.pat.match(v, false)
		}
		return cv.arn.match(v)
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		n, ok := parseNumber(v)
		if !ok {
			return false
		}
		return compare(o-opNumericEquals, cmpFloat(n, cv.num))
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		return compare(o-opDateEquals, t.Compare(cv.t))
	case opBool:
		return strings.EqualFold(v, strconv.FormatBool(cv.b))
	case opBinaryEquals:
		b, err := base64.StdEncoding.DecodeString(v)
		return err == nil && string(b) == string(cv.bin)
	case opIPAddress:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		return cv.ip.Contains(a.Unmap())
	}
	return false
}

func (cv *cvalue) matchTemplate(o op, v string, ctx *Context) bool {
	var tb, mb [128]byte
	text, mask, ok := cv.s.expand(ctx, tb[:0], mb[:0])
	if !ok {
		return false
	}
	switch o {
	case opStringEquals:
		return string(text) == v
	case opStringEqualsIgnoreCase:
		return strings.EqualFold(string(text), v)
	case opStringLike:
		return globMatch(text, mask, v, false)
	}
	ap := newArnPattern(string(text), string(mask))
	return ap.match(v)
}

// compare maps a comparison result (-1, 0, 1: request vs policy) through a
// relation: 0 equals, 1 less than, 2 less or equal, 3 greater, 4 greater or
// equal (the order of the Numeric*/Date* constants).
func compare(rel op, c int) bool {
	switch rel {
	case 0:
		return c == 0
	case 1:
		return c < 0
	case 2:
		return c <= 0
	case 3:
		return c > 0
	case 4:
		return c >= 0
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseNumber accepts AWS numeric values: an optional sign, digits and an
// optional decimal part (no exponent, hex, NaN or Inf).
func parseNumber(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

var dateLayouts = []string{
	time.RFC3339Nano, // also accepts no fraction
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01-02T15:04:05.999999999",
}

// parseDate accepts ISO 8601 date/times (UTC unless a zone is given) and
// epoch seconds (optionally fractional), as AWS's Date operators do.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:T") {
		f, ok := parseNumber(s)
		if !ok || f > 1e15 {
			return time.Time{}, false
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseCIDR accepts a CIDR (v4 or v6) or a bare address (a /32 or /128).
func parseCIDR(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}
