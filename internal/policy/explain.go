package policy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Trace explains a decision. It is built only by Explain and ExplainSet.
type Trace struct {
	Decision Decision      `json:"decision"`
	Request  RequestTrace  `json:"request"`
	Policies []PolicyTrace `json:"policies"`
	// Reason is the combining rule that decided (ExplainSet only).
	Reason string `json:"reason,omitempty"`
	// Deciding names the deciding statement(s), or "no statement allowed".
	Deciding string `json:"deciding"`
	// ClosestMiss describes why the Allow statement that came closest did not
	// match (empty when the request was allowed or explicitly denied).
	ClosestMiss string `json:"closestMiss,omitempty"`
	// ClosestStatement locates that statement, e.g. "trust policy, statement 1".
	ClosestStatement string `json:"closestStatement,omitempty"`
}

// RequestTrace records the request that was evaluated.
type RequestTrace struct {
	PrincipalType string       `json:"principalType,omitempty"`
	Principal     string       `json:"principal,omitempty"`
	RoleARN       string       `json:"roleArn,omitempty"`
	Action        string       `json:"action"`
	Resource      string       `json:"resource,omitempty"`
	Context       []ContextKey `json:"context,omitempty"`
}

// ContextKey is one request condition key and its values.
type ContextKey struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// PolicyTrace is the evaluation of one policy.
type PolicyTrace struct {
	Name       string           `json:"name"` // "trust policy", "identity policy 2", ...
	Decision   Decision         `json:"decision"`
	Statements []StatementTrace `json:"statements"`
}

// Match is the outcome of one statement element.
type Match string

const (
	Matched       Match = "matched"
	NotMatched    Match = "not matched"
	NotApplicable Match = "not applicable"
)

// StatementTrace is the evaluation of one statement.
type StatementTrace struct {
	Index      int              `json:"index"` // 1-based, in document order
	Sid        string           `json:"sid,omitempty"`
	Effect     string           `json:"effect"`
	Principal  Match            `json:"principal"`
	Action     Match            `json:"action"`
	Resource   Match            `json:"resource"`
	Conditions []ConditionTrace `json:"conditions,omitempty"`
	Matched    bool             `json:"matched"`

	miss     string // description of the first failing element
	failures int
}

// ConditionTrace is the evaluation of one operator/key pair.
type ConditionTrace struct {
	Operator      string   `json:"operator"`
	Key           string   `json:"key"`
	PolicyValues  []string `json:"policyValues"`
	RequestValues []string `json:"requestValues"` // null when the key is absent
	Result        bool     `json:"result"`
}

// Explain evaluates r against p and records why.
func (p *Policy) Explain(r *Request) *Trace {
	t := &Trace{Request: requestTrace(r)}
	pt := p.explain(r, p.Kind.String())
	t.Policies = []PolicyTrace{pt}
	t.Decision = pt.Decision
	t.finish()
	return t
}

// ExplainSet evaluates r against s and records why.
func ExplainSet(r *Request, s Set) *Trace {
	t := &Trace{Request: requestTrace(r)}
	if s.Trust != nil {
		t.Policies = append(t.Policies, s.Trust.explain(r, "trust policy"))
	}
	for i, p := range s.Identity {
		if p != nil {
			t.Policies = append(t.Policies, p.explain(r, fmt.Sprintf("identity policy %d", i+1)))
		}
	}
	if s.Boundary != nil {
		t.Policies = append(t.Policies, s.Boundary.explain(r, "permissions boundary"))
	}
	for i, p := range s.Session {
		if p != nil {
			t.Policies = append(t.Policies, p.explain(r, fmt.Sprintf("session policy %d", i+1)))
		}
	}
	t.Decision, t.Reason = evaluateSet(r, s)
	t.finish()
	return t
}

func requestTrace(r *Request) RequestTrace {
	rt := RequestTrace{
		PrincipalType: r.Principal.Type, Principal: r.Principal.ID, RoleARN: r.Principal.RoleARN,
		Action: r.Action, Resource: r.Resource,
	}
	if c := r.Context; c != nil {
		for _, e := range c.entries {
			rt.Context = append(rt.Context, ContextKey{Key: e.key, Values: append([]string{}, c.vals[e.start:e.end]...)})
		}
	}
	return rt
}

// explain mirrors Policy.evaluate, using the same matching functions, and
// records every element.
func (p *Policy) explain(r *Request, name string) PolicyTrace {
	pt := PolicyTrace{Name: name}
	allowed := false
	for i := range p.statements {
		st := &p.statements[i]
		tr := st.explain(r)
		tr.Index = i + 1
		if tr.Matched {
			if st.effect == EffectDeny {
				pt.Decision = ExplicitDeny
			} else {
				allowed = true
			}
		}
		pt.Statements = append(pt.Statements, tr)
	}
	if pt.Decision != ExplicitDeny && allowed {
		pt.Decision = Allow
	}
	return pt
}

func (st *statement) explain(r *Request) StatementTrace {
	tr := StatementTrace{Sid: st.sid, Effect: st.effect.String(), Principal: NotApplicable, Resource: NotApplicable}
	fail := func(m string) {
		if tr.failures == 0 {
			tr.miss = m
		}
		tr.failures++
	}
	if st.principal != nil {
		tr.Principal = Matched
		if st.matchPrincipal(&r.Principal) == pmNone {
			tr.Principal = NotMatched
			elem := "expects"
			if st.notPrincipal {
				elem = "excludes"
			}
			fail(fmt.Sprintf("the principal is %s %q, the policy %s %s", r.Principal.Type, r.Principal.ID, elem, quoteList(st.principal.raw)))
		}
	}
	tr.Action = Matched
	if !st.matchAction(r.Action) {
		tr.Action = NotMatched
		fail(fmt.Sprintf("the action is %q, the policy %s %s", r.Action, expectsOrExcludes(st.notAction), quoteList(st.actionRaw)))
	}
	if st.resources != nil {
		tr.Resource = Matched
		if !st.matchResource(r) {
			tr.Resource = NotMatched
			raw := make([]string, len(st.resources))
			for i, res := range st.resources {
				raw[i] = res.s.raw
			}
			fail(fmt.Sprintf("the resource is %q, the policy %s %s", r.Resource, expectsOrExcludes(st.notResource), quoteList(raw)))
		}
	}
	for i := range st.conditions {
		c := &st.conditions[i]
		ct := ConditionTrace{Operator: c.name, Key: c.key, Result: c.eval(r.Context)}
		for _, v := range c.values {
			ct.PolicyValues = append(ct.PolicyValues, v.s.raw)
		}
		if vals, ok := r.Context.Get(c.key); ok {
			ct.RequestValues = append([]string{}, vals...)
		}
		if !ct.Result {
			fail(describeCondition(c, ct))
		}
		tr.Conditions = append(tr.Conditions, ct)
	}
	tr.Matched = tr.failures == 0
	return tr
}

func expectsOrExcludes(not bool) string {
	if not {
		return "excludes"
	}
	return "expects"
}

// describeCondition renders a failed condition as one sentence, e.g.
// `sub is "org/A/project/Q/user/U", the policy expects "org/A/project/P/*"`.
func describeCondition(c *condition, ct ConditionTrace) string {
	key := c.key
	if i := strings.LastIndexByte(key, ':'); i >= 0 && i+1 < len(key) {
		key = key[i+1:]
	}
	is := "is absent"
	switch len(ct.RequestValues) {
	case 0:
	case 1:
		is = fmt.Sprintf("is %q", ct.RequestValues[0])
	default:
		is = "is " + quoteList(ct.RequestValues)
	}
	var want string
	switch {
	case c.op == opNull:
		want = "it present"
		for _, v := range c.values {
			if v.b {
				want = "it absent"
			}
		}
	case c.op == opStringEquals || c.op == opStringLike || c.op == opArnLike:
		if c.neg {
			want = "none of " + quoteList(ct.PolicyValues)
		} else {
			want = quoteList(ct.PolicyValues)
		}
	default:
		want = c.name + " " + quoteList(ct.PolicyValues)
	}
	if c.op != opNull && c.qual != qualNone {
		if c.qual == qualForAllValues {
			want = "every value to match " + want
		} else {
			want = "some value to match " + want
		}
	}
	return fmt.Sprintf("%s %s, the policy expects %s", key, is, want)
}

// quoteList renders `"a"` or `one of "a", "b"`.
func quoteList(vs []string) string {
	if len(vs) == 1 {
		return fmt.Sprintf("%q", vs[0])
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return "one of " + strings.Join(q, ", ")
}

// finish fills Deciding and the closest miss.
func (t *Trace) finish() {
	var deciding, insufficient []string
	var closest *StatementTrace
	closestPolicy := ""
	for pi := range t.Policies {
		pt := &t.Policies[pi]
		for si := range pt.Statements {
			st := &pt.Statements[si]
			where := pt.Name + ", " + st.label()
			switch {
			case st.Matched && st.Effect == "Deny" && t.Decision == ExplicitDeny,
				st.Matched && st.Effect == "Allow" && t.Decision == Allow:
				deciding = append(deciding, where)
			case st.Matched && st.Effect == "Allow" && t.Decision == ImplicitDeny:
				insufficient = append(insufficient, where)
			case !st.Matched && st.Effect == "Allow" && t.Decision == ImplicitDeny:
				if closest == nil || st.failures < closest.failures {
					closest, closestPolicy = st, pt.Name
				}
			}
		}
	}
	switch {
	case t.Decision == ExplicitDeny && len(deciding) > 0:
		t.Deciding = "denied by " + strings.Join(deciding, "; ")
	case t.Decision == Allow:
		t.Deciding = "allowed by " + strings.Join(deciding, "; ")
	case len(insufficient) > 0:
		t.Deciding = "not allowed: " + strings.Join(insufficient, "; ") + " allows, but that is not sufficient on its own"
	default:
		t.Deciding = "no statement allowed"
	}
	if closest != nil {
		t.ClosestMiss = closest.miss
		t.ClosestStatement = closestPolicy + ", " + closest.label()
	}
}

func (st *StatementTrace) label() string {
	if st.Sid != "" {
		return fmt.Sprintf("statement %d (Sid %q)", st.Index, st.Sid)
	}
	return fmt.Sprintf("statement %d", st.Index)
}

// JSON renders the trace as indented JSON.
func (t *Trace) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("policy: encode trace: %w", err)
	}
	return b, nil
}

// Text renders the trace for people (`keyless explain`, the server log).
func (t *Trace) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "decision: %s\n", t.Decision)
	rq := t.Request
	fmt.Fprintf(&b, "request:\n  principal: %s %s\n", rq.PrincipalType, rq.Principal)
	if rq.RoleARN != "" {
		fmt.Fprintf(&b, "  role: %s\n", rq.RoleARN)
	}
	fmt.Fprintf(&b, "  action: %s\n", rq.Action)
	if rq.Resource != "" {
		fmt.Fprintf(&b, "  resource: %s\n", rq.Resource)
	}
	for _, c := range rq.Context {
		fmt.Fprintf(&b, "  context %s: %s\n", c.Key, quoteValues(c.Values))
	}
	for _, pt := range t.Policies {
		fmt.Fprintf(&b, "%s: %s\n", pt.Name, pt.Decision)
		for _, st := range pt.Statements {
			state := "not matched"
			if st.Matched {
				state = "matched"
			}
			fmt.Fprintf(&b, "  %s, %s: %s\n", st.label(), st.Effect, state)
			fmt.Fprintf(&b, "    principal: %s\n    action: %s\n    resource: %s\n", st.Principal, st.Action, st.Resource)
			for _, c := range st.Conditions {
				fmt.Fprintf(&b, "    condition %s %s: %t\n", c.Operator, c.Key, c.Result)
				fmt.Fprintf(&b, "      policy values: %s\n", quoteValues(c.PolicyValues))
				req := "(absent)"
				if c.RequestValues != nil {
					req = quoteValues(c.RequestValues)
				}
				fmt.Fprintf(&b, "      request values: %s\n", req)
			}
		}
	}
	if t.Reason != "" {
		fmt.Fprintf(&b, "rule: %s\n", t.Reason)
	}
	fmt.Fprintf(&b, "result: %s\n", t.Deciding)
	if t.ClosestMiss != "" {
		fmt.Fprintf(&b, "closest miss (%s): %s\n", t.ClosestStatement, t.ClosestMiss)
	}
	return b.String()
}

func quoteValues(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
