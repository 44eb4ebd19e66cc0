package policy

import (
	"strings"

	"github.com/keylessci/keyless/internal/awserr"
)

// Policy is a parsed, validated and compiled policy document, safe for
// concurrent use and meant to be reused for every request.
type Policy struct {
	Version    string // "2012-10-17", "2008-10-17" or "" (absent)
	ID         string
	Kind       Kind
	statements []statement
}

// Effect is a statement's Effect.
type Effect uint8

const (
	EffectAllow Effect = iota
	EffectDeny
)

func (e Effect) String() string {
	if e == EffectDeny {
		return "Deny"
	}
	return "Allow"
}

type statement struct {
	sid          string
	effect       Effect
	principal    *principals // nil: no Principal element
	notPrincipal bool
	actions      []pattern
	actionRaw    []string
	notAction    bool
	resources    []resource // nil: no Resource element
	notResource  bool
	conditions   []condition
}

type resource struct {
	s   strValue
	arn arnPattern
}

var (
	errProhibitedResource = awserr.New(awserr.CodeMalformedPolicy, 400, "Has prohibited field Resource")
	errMissingPrincipal   = awserr.New(awserr.CodeMalformedPolicy, 400, "Missing required field Principal")
	errPrincipalInIdent   = awserr.New(awserr.CodeMalformedPolicy, 400, "Policy document should not specify a principal.")
	errNoActions          = awserr.New(awserr.CodeMalformedPolicy, 400, "Policy statement must contain actions.")
	errNoResources        = awserr.New(awserr.CodeMalformedPolicy, 400, "Policy statement must contain resources.")
	errVendor             = awserr.New(awserr.CodeMalformedPolicy, 400, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
	errSidChars           = awserr.New(awserr.CodeMalformedPolicy, 400, "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*")
	errSidDup             = awserr.New(awserr.CodeMalformedPolicy, 400, "Statement IDs (SID) in a single policy must be unique.")
)

func compile(root *node, kind Kind) (*Policy, error) {
	if root.kind != nObject {
		return nil, errSyntax
	}
	p := &Policy{Kind: kind}
	var stmts *node
	for i, k := range root.keys {
		v := root.vals[i]
		switch k {
		case "Version":
			if v.kind != nString || (v.s != "2012-10-17" && v.s != "2008-10-17") {
				return nil, errSyntax
			}
			p.Version = v.s
		case "Id":
			if v.kind != nString {
				return nil, errSyntax
			}
			p.ID = v.s
		case "Statement":
			stmts = v
		default:
			return nil, errSyntax
		}
	}
	if stmts == nil {
		return nil, errSyntax
	}
	list := []*node{stmts}
	if stmts.kind == nArray {
		list = stmts.items
	}
	if len(list) == 0 {
		return nil, errSyntax
	}
	vars := p.Version == "2012-10-17"
	sids := map[string]bool{}
	for _, sn := range list {
		st, err := compileStatement(sn, kind, vars)
		if err != nil {
			return nil, err
		}
		if st.sid != "" {
			if sids[st.sid] {
				return nil, errSidDup
			}
			sids[st.sid] = true
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

func compileStatement(n *node, kind Kind, vars bool) (statement, error) {
	var st statement
	if n.kind != nObject {
		return st, errSyntax
	}
	seen := map[string]bool{}
	for i, k := range n.keys {
		v := n.vals[i]
		seen[k] = true
		var err error
		switch k {
		case "Sid":
			if v.kind != nString {
				return st, errSyntax
			}
			st.sid = v.s
			if kind != Trust && !alnum(v.s) {
				return st, errSidChars
			}
		case "Effect":
			switch {
			case v.kind == nString && v.s == "Allow":
				st.effect = EffectAllow
			case v.kind == nString && v.s == "Deny":
				st.effect = EffectDeny
			default:
				return st, errSyntax
			}
		case "Principal", "NotPrincipal":
			if kind != Trust {
				return st, errPrincipalInIdent
			}
			st.notPrincipal = k == "NotPrincipal"
			st.principal, err = compilePrincipal(v)
		case "Action", "NotAction":
			st.notAction = k == "NotAction"
			st.actionRaw, err = stringList(v, false)
			for _, a := range st.actionRaw {
				if a != "*" && (!strings.Contains(a, ":") || strings.HasPrefix(a, ":")) {
					return st, errVendor
				}
				st.actions = append(st.actions, globPattern(a))
			}
		case "Resource", "NotResource":
			if kind == Trust {
				return st, errProhibitedResource
			}
			st.notResource = k == "NotResource"
			var raw []string
			raw, err = resourceStrings(v, kind)
			st.resources = make([]resource, 0, len(raw))
			for _, r := range raw {
				sv := compileString(r, vars)
				st.resources = append(st.resources, resource{s: sv, arn: newArnPattern(sv.text, sv.mask)})
			}
		case "Condition":
			st.conditions, err = compileConditions(v, kind, vars)
		default:
			return st, errSyntax
		}
		if err != nil {
			return st, err
		}
	}
	switch {
	case !seen["Effect"]:
		return st, errSyntax
	case seen["Principal"] && seen["NotPrincipal"], seen["Action"] && seen["NotAction"], seen["Resource"] && seen["NotResource"]:
		return st, errSyntax
	case kind == Trust && st.principal == nil:
		return st, errMissingPrincipal
	case len(st.actions) == 0:
		return st, errNoActions
	case kind != Trust && len(st.resources) == 0:
		return st, errNoResources
	}
	return st, nil
}

func compileConditions(n *node, kind Kind, vars bool) ([]condition, error) {
	if n.kind != nObject {
		return nil, errSyntax
	}
	// IAM accepts, in identity and managed policies, an unknown operator
	// with an empty block and condition keys without a vendor prefix (they
	// name no request key, so they never match).
	iamRules := kind == Identity || kind == Managed
	var out []condition
	for i, name := range n.keys {
		info, q, ifExists, ok := parseOperator(name)
		block := n.vals[i]
		if iamRules && !ok && block.kind == nObject && len(block.keys) == 0 {
			continue
		}
		if !ok || block.kind != nObject {
			return nil, errSyntax
		}
		for j, key := range block.keys {
			if !iamRules && (!strings.Contains(key, ":") || strings.HasPrefix(key, ":")) {
				return nil, errVendor
			}
			raw, err := valueList(block.vals[j])
			if err != nil {
				return nil, err
			}
			c := condition{name: name, op: info.op, neg: info.neg, qual: q, ifExists: ifExists, key: key,
				values: make([]cvalue, 0, len(raw))}
			for _, r := range raw {
				c.values = append(c.values, compileValue(info.op, r, vars))
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// stringList reads a string or an array of strings; numbers are accepted
// when allowNumbers (account ids written as numbers).
func stringList(n *node, allowNumbers bool) ([]string, error) {
	one := func(n *node) (string, bool) {
		return n.s, n.kind == nString || (allowNumbers && n.kind == nNumber)
	}
	if n.kind != nArray {
		s, ok := one(n)
		if !ok {
			return nil, errSyntax
		}
		return []string{s}, nil
	}
	out := make([]string, 0, len(n.items))
	for _, it := range n.items {
		s, ok := one(it)
		if !ok {
			return nil, errSyntax
		}
		out = append(out, s)
	}
	return out, nil
}

// valueList reads a condition value: a string, number or boolean, or an
// array of them, each taken as its text.
func valueList(n *node) ([]string, error) {
	scalar := func(n *node) bool { return n.kind == nString || n.kind == nNumber || n.kind == nBool }
	if n.kind != nArray {
		if !scalar(n) {
			return nil, errSyntax
		}
		return []string{n.s}, nil
	}
	out := make([]string, 0, len(n.items))
	for _, it := range n.items {
		if !scalar(it) {
			return nil, errSyntax
		}
		out = append(out, it.s)
	}
	return out, nil
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// resourceStrings reads a Resource element; IAM skips null members of the
// list in identity and managed policies.
func resourceStrings(n *node, kind Kind) ([]string, error) {
	if (kind == Identity || kind == Managed) && n.kind == nArray {
		items := make([]*node, 0, len(n.items))
		for _, it := range n.items {
			if it.kind != nNull {
				items = append(items, it)
			}
		}
		n = &node{kind: nArray, items: items}
	}
	return stringList(n, false)
}
