package policy

import "fmt"

// Request is one authorization question.
type Request struct {
	Principal Principal
	Action    string // e.g. "sts:AssumeRoleWithWebIdentity", matched case-insensitively
	Resource  string // an ARN, e.g. the role being assumed
	Context   *Context
}

// Decision is the outcome of evaluating a policy or a set of policies.
type Decision int

const (
	ImplicitDeny Decision = iota
	Allow
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "ImplicitDeny"
}

// MarshalText renders the decision as its name (for JSON traces).
func (d Decision) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a decision name, so JSON traces round-trip.
func (d *Decision) UnmarshalText(b []byte) error {
	switch string(b) {
	case "Allow":
		*d = Allow
	case "ExplicitDeny":
		*d = ExplicitDeny
	case "ImplicitDeny":
		*d = ImplicitDeny
	default:
		return fmt.Errorf("policy: unknown decision %q", b)
	}
	return nil
}

// Evaluate decides r against p alone: explicit Deny wins, then any matching
// Allow, else implicit deny. It records no trace and does not allocate for
// policies without policy variables.
func (p *Policy) Evaluate(r *Request) Decision {
	d, _ := p.evaluate(r)
	return d
}

// evaluate returns the decision and, for Allow, the strongest principal
// match among the allowing statements (pmIdentity when the policy has no
// Principal element).
func (p *Policy) evaluate(r *Request) (Decision, principalMatch) {
	allowed, best := false, pmNone
	for i := range p.statements {
		st := &p.statements[i]
		pm, ok := st.matches(r)
		if !ok {
			continue
		}
		if st.effect == EffectDeny {
			return ExplicitDeny, pmNone
		}
		allowed = true
		best = max(best, pm)
	}
	if allowed {
		return Allow, best
	}
	return ImplicitDeny, pmNone
}

// matches reports whether every element of the statement applies to r.
func (st *statement) matches(r *Request) (principalMatch, bool) {
	pm := st.matchPrincipal(&r.Principal)
	if pm == pmNone || !st.matchAction(r.Action) || !st.matchResource(r) {
		return pmNone, false
	}
	for i := range st.conditions {
		if !st.conditions[i].eval(r.Context) {
			return pmNone, false
		}
	}
	return pm, true
}

func (st *statement) matchPrincipal(p *Principal) principalMatch {
	if st.principal == nil {
		return pmIdentity // identity and session policies: the principal is implied
	}
	m := st.principal.match(p)
	if st.notPrincipal {
		if m == pmNone {
			return pmAccount
		}
		return pmNone
	}
	return m
}

func (st *statement) matchAction(a string) bool {
	for i := range st.actions {
		if st.actions[i].match(a, true) {
			return !st.notAction
		}
	}
	return st.notAction
}

func (st *statement) matchResource(r *Request) bool {
	if st.resources == nil {
		return true // trust policies: the resource is the role itself
	}
	for i := range st.resources {
		if st.resources[i].match(r.Resource, r.Context) {
			return !st.notResource
		}
	}
	return st.notResource
}

func (res *resource) match(s string, ctx *Context) bool {
	if res.s.tmpl == nil {
		return res.arn.match(s)
	}
	var tb, mb [128]byte
	text, mask, ok := res.s.expand(ctx, tb[:0], mb[:0])
	if !ok {
		return false
	}
	ap := newArnPattern(string(text), string(mask))
	return ap.match(s)
}
