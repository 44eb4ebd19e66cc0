package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/keylessci/keyless/internal/policy"
)

// Observation is one allowed AssumeRoleWithWebIdentity of a role as the
// decision log recorded it: the provider the token was presented to and
// every claim of the token.
type Observation struct {
	ProviderARN string
	Claims      map[string]any
}

// Tightened is the least-privilege trust policy that admits exactly the
// observed identities, with the evidence that it does.
type Tightened struct {
	Current  string `json:"current"`  // the trust policy today, indented
	Proposed string `json:"proposed"` // the proposal, indented
	Changed  bool   `json:"changed"`  // false when today's policy is already as narrow
	// Statements says what became of each statement of today's policy.
	Statements []StatementChange `json:"statements"`
	// Observed counts the observations the proposal was built from, and
	// Identities the distinct provider and subject pairs among them.
	Observed   int `json:"observed"`
	Identities int `json:"identities"`
	// Unreproduced are observations today's policy does not admit when
	// re-evaluated from their claims alone (the policy changed since, or a
	// condition reads request parameters): they are left out, not kept.
	Unreproduced []string `json:"unreproduced"`
	// Checked counts the neighbours of the observed identities (another
	// project, repository, branch or organization) the verification
	// evaluated; Narrowed those today's policy admits and the proposal
	// does not.
	Checked  int `json:"checked"`
	Narrowed int `json:"narrowed"`
	// Before and After are audit's findings at high or above on today's
	// policy and on the proposal.
	Before []Finding `json:"findingsBefore"`
	After  []Finding `json:"findingsAfter"`
}

// StatementChange is what the proposal does to one statement.
type StatementChange struct {
	Statement int    `json:"statement"` // 0-based index in today's policy
	Change    string `json:"change"`    // restricted, removed or kept
	Provider  string `json:"provider,omitempty"`
	// Subjects are the sub values (exact, or patterns) the proposal admits.
	Subjects []string `json:"subjects,omitempty"`
	// Observed counts the distinct subjects seen through the statement.
	Observed int `json:"observed,omitempty"`
}

// The changes a StatementChange reports.
const (
	ChangeRestricted = "restricted"
	ChangeRemoved    = "removed"
	ChangeKept       = "kept"
)

// ErrNothingObserved means no observation is admitted by today's policy, so
// there is nothing to tighten from.
var ErrNothingObserved = errors.New("no allowed exchange of the role can be re-evaluated: nothing to tighten from")

// Tighten proposes the narrowest trust policy for role that still admits
// every observation: each web-identity Allow statement keeps its other
// conditions and admits only the subjects observed through it, grouped per
// the CI's subject grammar (CircleCI jobs of one project run by several
// users become org/O/project/P/user/*; GitHub, GitLab and other subjects
// stay exact); a web-identity statement nothing was observed through is
// removed. The proposal is verified with the evaluator: every observation
// is still admitted, and no neighbour of an observed identity that today's
// policy denies is admitted. An error means no sound proposal exists.
func Tighten(role Role, obs []Observation) (Tightened, error) {
	var t Tightened
	pol, err := policy.Parse(role.TrustPolicy, policy.Trust)
	if err != nil {
		return t, fmt.Errorf("trust policy: %w", err)
	}
	doc, err := parseDocument(role.TrustPolicy)
	if err != nil {
		return t, fmt.Errorf("trust policy: %w", err)
	}
	a := &analysis{role: role, pol: pol, doc: doc}
	a.resolveRoleARN()
	if t.Current, err = indent(doc); err != nil {
		return t, err
	}

	// Which statement admitted each observation, and with which subject.
	type seen struct {
		url  string
		subs map[string]bool
	}
	through := map[int]map[string]*seen{} // statement → provider URL → subjects
	var kept []Observation
	identities := map[string]bool{}
	for _, o := range obs {
		_, url, ok := providerOf(o.ProviderARN)
		sub, _ := o.Claims["sub"].(string)
		req := observedRequest(a.roleARN, o)
		st := -1
		if ok && sub != "" && pol.Evaluate(req) == policy.Allow {
			st = a.admittingStatement(req)
		}
		if st < 0 {
			t.Unreproduced = append(t.Unreproduced, fmt.Sprintf("%s %q", o.ProviderARN, sub))
			continue
		}
		kept = append(kept, o)
		identities[strings.ToLower(url)+" "+sub] = true
		if through[st] == nil {
			through[st] = map[string]*seen{}
		}
		s := through[st][strings.ToLower(url)]
		if s == nil {
			s = &seen{url: url, subs: map[string]bool{}}
			through[st][strings.ToLower(url)] = s
		}
		s.subs[sub] = true
	}
	t.Observed, t.Identities = len(kept), len(identities)
	if len(kept) == 0 {
		return t, ErrNothingObserved
	}

	prop := doc.clone()
	var keep []map[string]any
	for i, st := range prop.statements {
		allow := strings.EqualFold(fmt.Sprint(lookup(st, "Effect")), "Allow")
		switch {
		case !allow || !webIdentityOnly(st):
			keep = append(keep, st)
			t.Statements = append(t.Statements, StatementChange{Statement: i, Change: ChangeKept})
		case through[i] == nil:
			t.Statements = append(t.Statements, StatementChange{Statement: i, Change: ChangeRemoved})
		default:
			urls := make([]string, 0, len(through[i]))
			for u := range through[i] {
				urls = append(urls, u)
			}
			sort.Strings(urls)
			var arns []string
			for _, u := range urls {
				s := through[i][u]
				subs := sortedKeys(s.subs)
				values, op := groupSubjects(detectProvider(s.url, subs), subs)
				if op == "StringLike" && !patternsCovered(st, s.url, values) {
					values, op = subs, "StringEquals"
				}
				setSub(prop, i, s.url, op, values)
				arns = append(arns, a.observedARN(kept, s.url))
				t.Statements = append(t.Statements, StatementChange{Statement: i, Change: ChangeRestricted,
					Provider: s.url, Subjects: values, Observed: len(subs)})
			}
			narrowFederated(st, arns)
			keep = append(keep, st)
		}
	}
	prop.statements = keep
	if t.Proposed, err = indent(prop); err != nil {
		return t, err
	}
	next, err := policy.Parse(t.Proposed, policy.Trust)
	if err != nil {
		return t, fmt.Errorf("the proposal is not a valid trust policy: %w", err)
	}
	t.Changed = t.Proposed != t.Current
	if err := verify(a.roleARN, pol, next, kept, &t); err != nil {
		return t, err
	}
	t.Before = severe(Analyze(role, Config{}))
	proposed := role
	proposed.TrustPolicy = t.Proposed
	t.After = severe(Analyze(proposed, Config{}))
	return t, nil
}

// observedRequest is the request an observation made, as STS evaluates it.
func observedRequest(roleARN string, o Observation) *policy.Request {
	_, url, _ := providerOf(o.ProviderARN)
	return &policy.Request{
		Principal: policy.Principal{Type: policy.PrincipalFederated, ID: o.ProviderARN},
		Action:    "sts:AssumeRoleWithWebIdentity",
		Resource:  roleARN,
		Context:   Context(url, o.ProviderARN, o.Claims),
	}
}

// observedARN is the provider ARN the observations through url were
// presented to (its account may differ from the role's default).
func (a *analysis) observedARN(obs []Observation, url string) string {
	for _, o := range obs {
		if _, u, ok := providerOf(o.ProviderARN); ok && strings.EqualFold(u, url) {
			return o.ProviderARN
		}
	}
	return a.providerARN(url)
}

// verify checks the proposal with the evaluator: it admits every
// observation, and for each observed identity's neighbours (the same token
// with another project, repository, branch or owner in its subject) it
// admits none that today's policy denies.
func verify(roleARN string, cur, next *policy.Policy, obs []Observation, t *Tightened) error {
	for _, o := range obs {
		if next.Evaluate(observedRequest(roleARN, o)) != policy.Allow {
			return fmt.Errorf("the proposal would deny an observed identity (%s %v): refusing it", o.ProviderARN, o.Claims["sub"])
		}
		for _, n := range neighbours(o) {
			t.Checked++
			now, then := cur.Evaluate(observedRequest(roleARN, n)) == policy.Allow, next.Evaluate(observedRequest(roleARN, n)) == policy.Allow
			if then && !now {
				return fmt.Errorf("the proposal would admit %q, which today's policy denies: refusing it", n.Claims["sub"])
			}
			if now && !then {
				t.Narrowed++
			}
		}
	}
	return nil
}

// neighbours are tokens like o's whose subject differs in one part: each
// /- or :-separated segment in turn replaced, and the subject extended.
func neighbours(o Observation) []Observation {
	sub, _ := o.Claims["sub"].(string)
	var subs []string
	for _, sep := range []string{"/", ":"} {
		parts := strings.Split(sub, sep)
		if len(parts) < 2 {
			continue
		}
		for i := range parts {
			alt := append([]string(nil), parts...)
			alt[i] = "keyless-tighten-other"
			subs = append(subs, strings.Join(alt, sep))
		}
	}
	subs = append(subs, sub+"-other", sub+"/other")
	out := make([]Observation, 0, len(subs))
	for _, s := range subs {
		c := make(map[string]any, len(o.Claims))
		for k, v := range o.Claims {
			c[k] = v
		}
		c["sub"] = s
		out = append(out, Observation{ProviderARN: o.ProviderARN, Claims: c})
	}
	return out
}

// groupSubjects returns the values that admit exactly subs, or narrow
// patterns of the CI's grammar, and the operator they need.
func groupSubjects(prov *Provider, subs []string) ([]string, string) {
	if prov != circleci {
		return subs, "StringEquals"
	}
	// CircleCI: org/O/project/P/user/U[/vcs-origin/X/vcs-ref/R] (the
	// profile's grammar: X and R hold slashes). The user
	// is whoever triggered the job; the project (and ref) is what the
	// policy guards. Several users of one project and ref become one
	// pattern.
	users := map[string]map[string]bool{}
	for _, s := range subs {
		if _, ok := circleci.parse(s); !ok {
			return subs, "StringEquals"
		}
		f := strings.Split(s, "/")
		f[5] = "*"
		key := strings.Join(f, "/")
		if users[key] == nil {
			users[key] = map[string]bool{}
		}
		users[key][s] = true
	}
	var out []string
	op := "StringEquals"
	for _, key := range sortedKeys(users) {
		if len(users[key]) > 1 {
			out = append(out, key)
			op = "StringLike"
			continue
		}
		out = append(out, sortedKeys(users[key])...)
	}
	return out, op
}

// patternsCovered reports whether each value is admitted by every positive
// sub condition the statement has on url today, so that replacing them
// narrows: a pattern p* is covered by a condition value q* when p starts
// with q, and by "*".
func patternsCovered(st map[string]any, url string, values []string) bool {
	for _, c := range conditions(st) {
		if c.claim(url) != "sub" || c.negated() || c.isNull() {
			continue
		}
		if c.base() != "StringLike" {
			return false
		}
		for _, v := range values {
			if !coveredBy(v, c.Values) {
				return false
			}
		}
	}
	return true
}

func coveredBy(v string, by []string) bool {
	for _, b := range by {
		if b == "*" {
			return true
		}
		prefix, star := strings.CutSuffix(b, "*")
		if star && !hasWildcard(prefix) && strings.HasPrefix(v, prefix) {
			return true
		}
		if !hasWildcard(b) && !hasWildcard(v) && b == v {
			return true
		}
	}
	return false
}

// webIdentityOnly reports whether a statement's principals are OIDC
// providers alone (no AWS account, service or "*"), so that removing it
// or narrowing its providers touches no other kind of caller.
func webIdentityOnly(st map[string]any) bool {
	p, ok := lookup(st, "Principal").(map[string]any)
	if !ok || len(p) != 1 {
		return false
	}
	arns := strs(lookup(p, "Federated"))
	if len(arns) == 0 {
		return false
	}
	for _, a := range arns {
		if _, _, ok := providerOf(a); !ok {
			return false
		}
	}
	return true
}

// narrowFederated keeps only the observed providers among a statement's
// Federated principals.
func narrowFederated(st map[string]any, observed []string) {
	p := lookup(st, "Principal").(map[string]any)
	k := keyOf(p, "Federated")
	var keep []string
	for _, a := range strs(p[k]) {
		for _, o := range observed {
			if strings.EqualFold(a, o) {
				keep = append(keep, a)
				break
			}
		}
	}
	if len(keep) == 1 {
		p[k] = keep[0]
		return
	}
	vs := make([]any, len(keep))
	for i, a := range keep {
		vs[i] = a
	}
	p[k] = vs
}

func severe(r Result, err error) []Finding {
	out := []Finding{}
	if err != nil {
		return out
	}
	for _, f := range r.Findings {
		if f.Severity.Rank() >= High.Rank() {
			out = append(out, f)
		}
	}
	return out
}

func indent(d *document) (string, error) {
	b, err := d.marshal()
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return "", err
	}
	return buf.String() + "\n", nil
}
