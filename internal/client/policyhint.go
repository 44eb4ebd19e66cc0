package client

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/keylessci/keyless/internal/policy"
)

// policyHint points at the element of a trust policy that makes it
// malformed: "line 3, column 14: "Effect" is "Alow", want "Allow" or
// "Deny"". The server answers AWS's bare "Syntax errors in policy." (as AWS
// does); explain, a local tool, says where. The verdict stays policy.Parse's:
// this only locates what it refused, and says "" when it finds nothing.
func policyHint(doc string) (hint string) {
	h := &hinter{doc: doc, dec: json.NewDecoder(strings.NewReader(doc))}
	h.dec.UseNumber()
	// found stops the walk with a panic; so does anything unexpected (a hint
	// is best effort: Parse's error stands either way).
	defer func() {
		_ = recover()
		hint = h.hint
	}()
	h.root()
	return h.hint
}

type hinter struct {
	doc  string
	dec  *json.Decoder
	hint string
}

// errFound stops the walk at the first finding.
type errFound struct{}

func (h *hinter) found(off int64, format string, args ...any) {
	line, col := 1, 1
	for _, r := range h.doc[:min(int(off), len(h.doc))] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	h.hint = fmt.Sprintf("line %d, column %d: %s", line, col, fmt.Sprintf(format, args...))
	panic(errFound{})
}

// valueStart is the offset of the next key or value: past the separators
// after the last token read.
func (h *hinter) valueStart() int64 {
	off := h.dec.InputOffset()
	for int(off) < len(h.doc) && strings.ContainsRune(" \t\r\n:,", rune(h.doc[off])) {
		off++
	}
	return off
}

func (h *hinter) token() json.Token {
	t, err := h.dec.Token()
	if err != nil {
		if err != io.EOF {
			h.found(h.dec.InputOffset(), "invalid JSON: %v", err)
		}
		panic(errFound{})
	}
	return t
}

// skip reads past the value that starts with t.
func (h *hinter) skip(t json.Token) {
	if d, ok := t.(json.Delim); ok && (d == '{' || d == '[') {
		for h.dec.More() {
			if d == '{' {
				h.token() // key
			}
			h.skip(h.token())
		}
		h.token() // closing delimiter
	}
}

// object walks an object, calling member for each key with the offset of
// its value; off is where the object starts, for a wrong type.
func (h *hinter) object(what string, off int64, member func(key string, at int64)) {
	if t := h.token(); t != json.Delim('{') {
		h.found(off, "%s must be an object, not %s", what, describe(t))
	}
	for h.dec.More() {
		keyAt := h.valueStart()
		k := h.token().(string)
		member(k, keyAt)
	}
	h.token()
}

func (h *hinter) root() {
	h.object("the policy", h.valueStart(), func(k string, keyAt int64) {
		at := h.valueStart()
		switch k {
		case "Version":
			if v := h.token(); v != "2012-10-17" && v != "2008-10-17" {
				h.found(at, `"Version" is %s, want "2012-10-17"`, describe(v))
			}
		case "Id":
			h.skip(h.token())
		case "Statement":
			h.statements(at)
		default:
			h.found(keyAt, `unknown element %q at the top level (want "Version", "Statement" or "Id")`, k)
		}
	})
}

func (h *hinter) statements(at int64) {
	t := h.token()
	switch t {
	case json.Delim('{'):
		h.statementBody(at)
	case json.Delim('['):
		for h.dec.More() {
			st := h.valueStart()
			if t := h.token(); t != json.Delim('{') {
				h.found(st, "a statement must be an object, not %s", describe(t))
			}
			h.statementBody(st)
		}
		h.token()
	default:
		h.found(at, `"Statement" must be an object or an array of objects, not %s`, describe(t))
	}
}

var statementKeys = "Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition"

// statementBody walks a statement whose '{' was read.
func (h *hinter) statementBody(start int64) {
	for h.dec.More() {
		keyAt := h.valueStart()
		k := h.token().(string)
		at := h.valueStart()
		switch k {
		case "Effect":
			if v := h.token(); v != "Allow" && v != "Deny" {
				h.found(at, `"Effect" is %s, want "Allow" or "Deny" (spelled so, case included)`, describe(v))
			}
		case "Principal", "NotPrincipal":
			h.principal(k, at)
		case "Action", "NotAction":
			h.actions(k, at)
		case "Condition":
			h.conditions(at)
		case "Sid", "Resource", "NotResource":
			h.skip(h.token())
		default:
			h.found(keyAt, "unknown element %q in a statement (want one of %s)", k, statementKeys)
		}
	}
	h.token()
}

func (h *hinter) principal(k string, at int64) {
	t := h.token()
	if t == "*" {
		return
	}
	if t != json.Delim('{') {
		h.found(at, `%q must be "*" or an object such as {"Federated": "arn:aws:iam::…:oidc-provider/…"}, not %s`, k, describe(t))
	}
	for h.dec.More() {
		keyAt := h.valueStart()
		pk := h.token().(string)
		switch pk {
		case "AWS", "Federated", "Service", "CanonicalUser":
			h.skip(h.token())
		default:
			h.found(keyAt, `unknown principal type %q (want "Federated", "AWS", "Service" or "CanonicalUser")`, pk)
		}
	}
	h.token()
}

func (h *hinter) actions(k string, at int64) {
	check := func(off int64, t json.Token) {
		s, ok := t.(string)
		if !ok {
			h.found(off, "%q must hold strings, not %s", k, describe(t))
		}
		if s != "*" && (!strings.Contains(s, ":") || strings.HasPrefix(s, ":")) {
			h.found(off, "action %q has no service prefix (e.g. sts:AssumeRoleWithWebIdentity)", s)
		}
	}
	t := h.token()
	if t != json.Delim('[') {
		check(at, t)
		return
	}
	for h.dec.More() {
		off := h.valueStart()
		check(off, h.token())
	}
	h.token()
}

// conditions checks each operator block with policy.Parse itself, in a
// minimal statement, so what is valid stays the policy package's to say.
func (h *hinter) conditions(at int64) {
	h.object(`"Condition"`, at, func(op string, keyAt int64) {
		var block json.RawMessage
		if err := h.dec.Decode(&block); err != nil {
			h.found(keyAt, "invalid JSON: %v", err)
		}
		probe := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",` +
			`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{` + quoteJSON(op) + `:` + string(block) + `}}]}`
		if _, err := policy.Parse(probe, policy.Trust); err != nil {
			h.found(keyAt, "the condition %q is refused: check the operator's name (e.g. StringEquals, StringLike, "+
				"ForAnyValue:StringLike) and that it maps condition keys to values it takes", op)
		}
	})
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func describe(t json.Token) string {
	switch v := t.(type) {
	case string:
		return fmt.Sprintf("%q", v)
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%v", v)
	}
}
