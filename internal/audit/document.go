package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strings"
)

// document is a trust policy as JSON values, so that a fix changes only what
// it must and the rest of the document is kept.
type document struct {
	top        map[string]any
	statements []map[string]any
}

func parseDocument(doc string) (*document, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, err
	}
	d := &document{top: top}
	switch st := lookup(top, "Statement").(type) {
	case map[string]any:
		d.statements = []map[string]any{st}
	case []any:
		for _, s := range st {
			m, ok := s.(map[string]any)
			if !ok {
				return nil, errors.New("statement is not an object")
			}
			d.statements = append(d.statements, m)
		}
	default:
		return nil, errors.New("no Statement")
	}
	return d, nil
}

// clone deep-copies the document through JSON.
func (d *document) clone() *document {
	b, _ := d.marshal()
	c, _ := parseDocument(string(b))
	return c
}

func (d *document) marshal() ([]byte, error) {
	top := map[string]any{}
	for k, v := range d.top {
		top[k] = v
	}
	st := make([]any, len(d.statements))
	for i, s := range d.statements {
		st[i] = s
	}
	delete(top, keyOf(top, "Statement"))
	top["Statement"] = st
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(top); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// lookup reads a policy element case-insensitively (element names are
// case-sensitive in IAM, but the evaluator has already validated them).
func lookup(m map[string]any, k string) any {
	return m[keyOf(m, k)]
}

func keyOf(m map[string]any, k string) string {
	if _, ok := m[k]; ok {
		return k
	}
	for kk := range m {
		if strings.EqualFold(kk, k) {
			return kk
		}
	}
	return k
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case json.Number:
		return []string{x.String()}
	case bool:
		if x {
			return []string{"true"}
		}
		return []string{"false"}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, strs(e)...)
		}
		return out
	}
	return nil
}

// cond is one operator/key pair of a statement's Condition block.
type cond struct {
	Op     string // as written, e.g. ForAllValues:StringLikeIfExists
	Key    string // as written
	Values []string
}

func (c cond) base() string {
	op := c.Op
	if i := strings.Index(op, ":"); i >= 0 {
		op = op[i+1:]
	}
	return strings.TrimSuffix(op, "IfExists")
}
func (c cond) negated() bool  { return strings.Contains(c.base(), "Not") }
func (c cond) ifExists() bool { return strings.HasSuffix(c.Op, "IfExists") }
func (c cond) forAll() bool   { return strings.HasPrefix(strings.ToLower(c.Op), "forallvalues:") }
func (c cond) forAny() bool   { return strings.HasPrefix(strings.ToLower(c.Op), "foranyvalue:") }
func (c cond) isNull() bool   { return c.base() == "Null" }
func (c cond) stringOp() bool { return strings.HasPrefix(c.base(), "String") }
func (c cond) claim(url string) string {
	k := strings.ToLower(c.Key)
	if p := strings.ToLower(url) + ":"; strings.HasPrefix(k, p) {
		return c.Key[len(p):]
	}
	return ""
}

func conditions(st map[string]any) []cond {
	blk, _ := lookup(st, "Condition").(map[string]any)
	var out []cond
	ops := make([]string, 0, len(blk))
	for op := range blk {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		keys, _ := blk[op].(map[string]any)
		ks := make([]string, 0, len(keys))
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			out = append(out, cond{Op: op, Key: k, Values: strs(keys[k])})
		}
	}
	return out
}

// setConditions replaces the statement's Condition block.
func setConditions(st map[string]any, cs []cond) {
	delete(st, keyOf(st, "Condition"))
	if len(cs) == 0 {
		return
	}
	blk := map[string]any{}
	for _, c := range cs {
		m, _ := blk[c.Op].(map[string]any)
		if m == nil {
			m = map[string]any{}
			blk[c.Op] = m
		}
		if old, ok := m[c.Key]; ok {
			c.Values = append(strs(old), c.Values...)
		}
		if len(c.Values) == 1 {
			m[c.Key] = c.Values[0]
		} else {
			vs := make([]any, len(c.Values))
			for i, v := range c.Values {
				vs[i] = v
			}
			m[c.Key] = vs
		}
	}
	st["Condition"] = blk
}

// federated returns the statement's Federated principals and whether it
// names every principal: "*", or {"AWS": "*"}, which AWS documents as the
// same principal (and the evaluator admits web identity through it).
func federated(st map[string]any) (arns []string, star bool) {
	switch p := lookup(st, "Principal").(type) {
	case string:
		return nil, p == "*"
	case map[string]any:
		return strs(lookup(p, "Federated")), contains(strs(lookup(p, "AWS")), "*")
	}
	return nil, false
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }
