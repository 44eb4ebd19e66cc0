package policy

import "strings"

// strValue is a policy string (a condition value or a Resource) compiled
// once. Under Version 2012-10-17 it may contain policy variables ${key} and
// ${key, 'default'} and the escapes ${*} ${?} ${$}; under 2008-10-17 (or no
// Version) it is taken literally. text/mask hold the static form (mask marks
// '*' and '?' wildcards, see pattern); tmpl is set when the value has
// variables that must be resolved per request.
type strValue struct {
	raw        string
	text, mask string
	tmpl       []tpart
}

type tpart struct {
	text, mask string // literal part
	isVar      bool
	key, def   string
	hasDef     bool
}

func compileString(raw string, vars bool) strValue {
	sv := strValue{raw: raw}
	if !vars || !strings.Contains(raw, "${") {
		sv.text, sv.mask = raw, wildMask(raw)
		return sv
	}
	var text, mask []byte
	var parts []tpart
	flush := func() {
		if len(text) > 0 {
			parts = append(parts, tpart{text: string(text), mask: string(mask)})
			text, mask = text[:0], mask[:0]
		}
	}
	lit := func(c byte, meta bool) {
		text = append(text, c)
		m := byte(0)
		if meta && (c == '*' || c == '?') {
			m = 1
		}
		mask = append(mask, m)
	}
	for i := 0; i < len(raw); {
		if raw[i] == '$' && i+1 < len(raw) && raw[i+1] == '{' {
			if j := strings.IndexByte(raw[i+2:], '}'); j >= 0 {
				inner := raw[i+2 : i+2+j]
				switch inner {
				case "*", "?", "$":
					lit(inner[0], false)
				default:
					p := parseVar(inner)
					flush()
					parts = append(parts, p)
				}
				i += j + 3
				continue
			}
		}
		lit(raw[i], true)
		i++
	}
	hasVar := false
	for _, p := range parts {
		hasVar = hasVar || p.isVar
	}
	if !hasVar {
		sv.text, sv.mask = string(text), string(mask)
		return sv
	}
	flush()
	sv.tmpl = parts
	return sv
}

// parseVar parses the inside of ${...}: a key, optionally followed by a
// comma and a single-quoted default value.
func parseVar(inner string) tpart {
	p := tpart{isVar: true, key: strings.TrimSpace(inner)}
	if k, d, ok := strings.Cut(inner, ","); ok {
		d = strings.TrimSpace(d)
		if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
			p.key, p.def, p.hasDef = strings.TrimSpace(k), d[1:len(d)-1], true
		}
	}
	return p
}

// wildMask returns the wildcard mask of a literal string: "" when it has no
// '*' or '?'.
func wildMask(s string) string {
	if !strings.ContainsAny(s, "*?") {
		return ""
	}
	m := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '*' || s[i] == '?' {
			m[i] = 1
		}
	}
	return string(m)
}

// expand resolves the variables of a template value against ctx, appending
// to buf and mbuf (caller-provided, so small values stay on the stack).
// Variable values are literal (their '*' and '?' are not wildcards). ok is
// false when a variable is absent without a default or is multivalued (AWS:
// multivalued keys cannot be used as variables). ctx is only read.
func (sv *strValue) expand(ctx *Context, buf, mbuf []byte) (text, mask []byte, ok bool) {
	for _, p := range sv.tmpl {
		if !p.isVar {
			buf = append(buf, p.text...)
			mbuf = append(mbuf, p.mask...)
			continue
		}
		vals, present := ctx.Get(p.key)
		var v string
		switch {
		case present && len(vals) == 1:
			v = vals[0]
		case !present && p.hasDef:
			v = p.def
		default:
			return nil, nil, false
		}
		buf = append(buf, v...)
		for range len(v) {
			mbuf = append(mbuf, 0)
		}
	}
	return buf, mbuf, true
}
