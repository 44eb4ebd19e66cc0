package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RewriteAWSPrincipals returns doc with every string value of a statement's
// Principal.AWS or NotPrincipal.AWS (alone or in a list) passed through fn:
// where fn answers true, the value is replaced by its result; everything
// else, whitespace and order included, is kept byte for byte.
//
// IAM uses it to bind the roles a trust policy names to their unique ids
// when the policy is saved, and to show those ids as ARNs again while the
// roles exist (reference_policies_elements_principal: "When you save the
// policy, AWS transforms the ARN to a unique principal ID … if you delete
// the role … the principal ID shows up").
func RewriteAWSPrincipals(doc string, fn func(value string) (string, bool)) (string, error) {
	type frame struct {
		obj      bool
		key      string
		wantKey  bool
		inStmt   bool // the frame is a statement object or inside one
		inPrinc  bool // the frame is a (Not)Principal object
		inAWSArr bool // the frame is the list value of a Principal's AWS key
	}
	type edit struct {
		start, end int
		with       string
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var stack []frame
	var edits []edit
	for {
		off0 := int(dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) > 0 {
				return "", errors.New("rewrite principals: unexpected end of document")
			}
			break
		}
		if err != nil {
			return "", fmt.Errorf("rewrite principals: %w", err)
		}
		off1 := int(dec.InputOffset())
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		// where a value token sits: the key it is the value of, and flags.
		valueOf := func() (key string, parent *frame) {
			if top == nil {
				return "", nil
			}
			if top.obj {
				return top.key, top
			}
			return "[]", top
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				key, parent := valueOf()
				f := frame{obj: t == '{', wantKey: t == '{'}
				switch {
				case parent == nil:
				case !parent.inStmt && (key == "Statement" && parent.obj && len(stack) == 1 || key == "[]" && !parent.obj && parent.key == "Statement" && len(stack) == 2):
					f.inStmt = f.obj
				case parent.inStmt && parent.obj && !parent.inPrinc && (key == "Principal" || key == "NotPrincipal"):
					f.inPrinc = f.obj
					f.inStmt = true
				case parent.inPrinc && key == "AWS" && t == '[':
					f.inAWSArr = true
				}
				if !f.obj && parent != nil && parent.obj {
					f.key = key // remembers which member this list is
				}
				stack = append(stack, f)
				continue
			case '}', ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].wantKey = true
				}
				continue
			}
		case string:
			if top != nil && top.obj && top.wantKey {
				top.key, top.wantKey = t, false
				continue
			}
			if top != nil && (top.inPrinc && top.key == "AWS" || top.inAWSArr) {
				if with, ok := fn(t); ok {
					start := off0 + bytes.IndexByte([]byte(doc[off0:off1]), '"')
					b, _ := json.Marshal(with)
					edits = append(edits, edit{start: start, end: off1, with: string(b)})
				}
			}
		}
		if top != nil && top.obj {
			top.wantKey = true
		}
	}
	if len(edits) == 0 {
		return doc, nil
	}
	var out strings.Builder
	last := 0
	for _, e := range edits {
		out.WriteString(doc[last:e.start])
		out.WriteString(e.with)
		last = e.end
	}
	out.WriteString(doc[last:])
	return out.String(), nil
}
