package audit

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/keylessci/keyless/internal/policy"
)

// report records a finding once its fix is found and re-checked.
func (a *analysis) report(url string, prov *Provider, c *candidate, st int, rule string) {
	key := fmt.Sprint(st, rule)
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	if a.seen[key] {
		return
	}
	a.seen[key] = true
	fix := a.fix(url, prov, c, st, rule)
	a.findings = append(a.findings, Finding{
		Rule: rule, Severity: a.severity(prov, c, rule), Statement: st,
		Message: a.message(url, prov, c, st, rule), Witness: c.claims, Fix: fix,
		Trace: a.trace(url, c.claims), ProviderARN: a.providerARN(url), RoleARN: a.roleARN,
	})
}

func (a *analysis) severity(prov *Provider, c *candidate, rule string) Severity {
	if rule == RuleMissingClaim && a.foreign(prov, c) {
		return Critical
	}
	return severityOf(rule)
}

// fixStep rewrites statement st of a copy of the document.
type fixStep func(d *document, st int) bool

// fix returns the smallest policy change that the evaluator confirms denies
// the witness and still admits every expected identity, or null when none
// of the candidate changes passes that check.
func (a *analysis) fix(url string, prov *Provider, c *candidate, st int, rule string) json.RawMessage {
	var steps []fixStep
	scope := func(d *document, st int) bool { return a.scopeOwner(d, st, url, prov) }
	expects := func(d *document, st int) bool { return a.pinExpects(d, st, url) }
	switch rule {
	case RuleWildcardPrincipal:
		steps = []fixStep{func(d *document, st int) bool {
			d.statements[st]["Principal"] = map[string]any{"Federated": a.providerARN(url)}
			return true
		}, scope}
	case RuleMissingClaim:
		ctx := Context(url, a.providerARN(url), c.claims)
		steps = []fixStep{func(d *document, st int) bool { return stripAbsent(d, st, ctx) }, scope}
	case RuleAnyRepository:
		steps = []fixStep{expects, func(d *document, st int) bool {
			return setSub(d, st, url, "StringLike", []string{repoScope(prov, a.ownerOr())})
		}}
	case RuleUntrustedRef:
		steps = []fixStep{expects, func(d *document, st int) bool { return a.pinMainRef(d, st, url, prov, c) }}
	case RuleSetOperator:
		steps = []fixStep{func(d *document, st int) bool { return stripSetOperators(d, st, url) }}
	default:
		steps = []fixStep{scope, expects}
	}
	// Each step alone, then all of them together.
	try := func(apply []fixStep) json.RawMessage {
		d := a.doc.clone()
		changed := false
		for _, s := range apply {
			if s(d, st) {
				changed = true
			}
		}
		if !changed {
			return nil
		}
		b, err := d.marshal()
		if err != nil {
			return nil
		}
		p, err := policy.Parse(string(b), policy.Trust)
		if err != nil {
			return nil
		}
		if rule != RuleSetOperator && a.admits(p, url, c.claims) {
			return nil
		}
		if !a.admitsExpected(p) {
			return nil
		}
		return b
	}
	for _, s := range steps {
		if b := try([]fixStep{s}); b != nil {
			return b
		}
	}
	if len(steps) > 1 {
		if b := try(steps); b != nil {
			return b
		}
	}
	return json.RawMessage("null")
}

// admitsExpected reports whether p admits every --expect identity.
func (a *analysis) admitsExpected(p *policy.Policy) bool {
	for _, e := range a.cfg.Expect {
		iss, _ := e["iss"].(string)
		url := strings.TrimPrefix(iss, "https://")
		if url == "" || !a.admits(a.pol, url, e) {
			continue // the role never admitted it; not the fix's business
		}
		if !a.admits(p, url, e) {
			return false
		}
	}
	return true
}

func (a *analysis) ownerOr() string {
	if a.owner != "" {
		return a.owner
	}
	return "OWNER"
}

// scopeOwner pins the owner segment of every positive tenant value of the
// statement to the owner, or adds a sub condition scoped to the owner.
func (a *analysis) scopeOwner(d *document, st int, url string, prov *Provider) bool {
	owner := a.ownerOr()
	cs := conditions(d.statements[st])
	hasSub := false
	for i, c := range cs {
		claim := c.claim(url)
		if c.negated() || c.isNull() || !c.stringOp() {
			continue
		}
		switch {
		case claim == "sub":
			hasSub = true
			for j, v := range c.Values {
				cs[i].Values[j] = pinOwnerValue(prov, v, owner)
			}
			if strings.Contains(c.base(), "Equals") && anyWildcard(cs[i].Values) {
				cs[i].Op = strings.Replace(c.Op, c.base(), "StringLike", 1)
			}
			cs[i].Op = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(cs[i].Op, "ForAllValues:"), "ForAnyValue:"), "IfExists")
		case claim == "repository" || claim == "project_path":
			for j, v := range c.Values {
				cs[i].Values[j] = pinOwnerPrefix("", "/", v, owner)
			}
		}
	}
	if !hasSub {
		cs = append(cs, cond{Op: "StringLike", Key: url + ":sub", Values: []string{prov.ownerScope(owner)}})
	}
	setConditions(d.statements[st], cs) // a repeated operator/key pair merges its values
	return true
}

func anyWildcard(vs []string) bool {
	for _, v := range vs {
		if hasWildcard(v) {
			return true
		}
	}
	return false
}

func pinOwnerValue(prov *Provider, v, owner string) string {
	switch prov {
	case github:
		if strings.HasPrefix(v, "repo:") || v == "*" {
			return pinOwnerPrefix("repo:", "/", strings.Replace(v, "*", "repo:*", boolInt(v == "*")), owner)
		}
	case gitlab:
		if strings.HasPrefix(v, "project_path:") || v == "*" {
			return pinOwnerPrefix("project_path:", "/", strings.Replace(v, "*", "project_path:*", boolInt(v == "*")), owner)
		}
	case terraform, buildkite:
		if strings.HasPrefix(v, "organization:") || v == "*" {
			return pinOwnerPrefix("organization:", ":", strings.Replace(v, "*", "organization:*", boolInt(v == "*")), owner)
		}
	}
	if hasWildcard(v) {
		return prov.ownerScope(owner)
	}
	return v
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pinOwnerPrefix rewrites prefix+OWNERSEG+sep+rest so that OWNERSEG is the
// owner (keeping a GitHub immutable @id), e.g. repo:acme* → repo:acme/*.
func pinOwnerPrefix(prefix, sep, v, owner string) string {
	rest := strings.TrimPrefix(v, prefix)
	ownerSeg, remainder, found := strings.Cut(rest, sep)
	if !found {
		remainder = "*"
	}
	oid := ""
	if o, id, ok := strings.Cut(ownerSeg, "@"); ok && !hasWildcard(id) {
		ownerSeg, oid = o, "@"+id
	}
	if found && !hasWildcard(ownerSeg) && strings.EqualFold(ownerSeg, owner) {
		return v
	}
	if remainder == "" {
		remainder = "*"
	}
	return prefix + owner + oid + sep + remainder
}

// setSub replaces the statement's positive sub conditions with op values.
func setSub(d *document, st int, url, op string, values []string) bool {
	var out []cond
	for _, c := range conditions(d.statements[st]) {
		if c.claim(url) == "sub" && !c.negated() && !c.isNull() {
			continue
		}
		out = append(out, c)
	}
	out = append(out, cond{Op: op, Key: url + ":sub", Values: values})
	setConditions(d.statements[st], out)
	return true
}

// pinExpects pins the subject to exactly the expected identities of url.
func (a *analysis) pinExpects(d *document, st int, url string) bool {
	var subs []string
	for _, e := range a.cfg.Expect {
		iss, _ := e["iss"].(string)
		if s, ok := e["sub"].(string); ok && strings.EqualFold(strings.TrimPrefix(iss, "https://"), url) {
			subs = append(subs, s)
		}
	}
	if len(subs) == 0 {
		return false
	}
	return setSub(d, st, url, "StringEquals", subs)
}

func repoScope(prov *Provider, owner string) string {
	switch prov {
	case github:
		return "repo:" + owner + "/REPOSITORY:*"
	case gitlab:
		return "project_path:" + owner + "/PROJECT:*"
	case circleci:
		return "org/" + owner + "/project/PROJECT_ID/*"
	case terraform:
		return "organization:" + owner + ":project:*:workspace:WORKSPACE:*"
	case buildkite:
		return "organization:" + owner + ":pipeline:PIPELINE:*"
	}
	return "SUBJECT"
}

// pinMainRef restricts the statement's subjects to the default branch.
func (a *analysis) pinMainRef(d *document, st int, url string, prov *Provider, c *candidate) bool {
	cs := conditions(d.statements[st])
	found := false
	for i, k := range cs {
		if k.claim(url) != "sub" || k.negated() || k.isNull() {
			continue
		}
		found = true
		for j, v := range k.Values {
			cs[i].Values[j] = mainRefValue(prov, v)
		}
		if strings.Contains(k.base(), "Equals") && anyWildcard(cs[i].Values) {
			cs[i].Op = "StringLike"
		}
	}
	var kept []cond
	for _, k := range cs {
		// A set-operator or IfExists on environment let the witness in; the
		// default branch pin replaces it.
		if (k.ifExists() || k.forAll()) && k.claim(url) != "sub" {
			continue
		}
		kept = append(kept, k)
	}
	if !found {
		id := c.id
		kept = append(kept, cond{Op: "StringLike", Key: url + ":sub", Values: []string{prov.mainRef(id)}})
	}
	setConditions(d.statements[st], kept)
	return true
}

func mainRefValue(prov *Provider, v string) string {
	cut := func(sep, suffix string) string {
		if i := strings.Index(v, sep); i >= 0 {
			return v[:i] + suffix
		}
		return v
	}
	switch prov {
	case github:
		rest, ok := strings.CutPrefix(v, "repo:")
		if !ok {
			return v
		}
		if or, _, ok := strings.Cut(rest, ":"); ok {
			return "repo:" + or + ":ref:refs/heads/main"
		}
		return "repo:" + strings.TrimSuffix(rest, "*") + ":ref:refs/heads/main"
	case gitlab:
		rest, ok := strings.CutPrefix(v, "project_path:")
		if !ok {
			return v
		}
		path, _, _ := strings.Cut(rest, ":")
		return "project_path:" + strings.TrimSuffix(path, "*") + ":ref_type:branch:ref:main"
	case terraform:
		return cut(":run_phase:", ":run_phase:apply")
	case buildkite:
		if i := strings.Index(v, ":pipeline:"); i >= 0 {
			rest := v[i+len(":pipeline:"):]
			pipe, _, _ := strings.Cut(rest, ":")
			return v[:i] + ":pipeline:" + strings.TrimSuffix(pipe, "*") + ":ref:refs/heads/main:*"
		}
		return v
	case circleci:
		return cut("/user/", "/user/*/vcs-origin/*/vcs-ref/refs/heads/main")
	}
	return v
}

// stripAbsent turns ...IfExists and ForAllValues conditions on keys the
// witness lacks into their plain forms, which require the key.
func stripAbsent(d *document, st int, ctx *policy.Context) bool {
	cs := conditions(d.statements[st])
	changed := false
	for i, c := range cs {
		if c.isNull() || !(c.ifExists() || c.forAll()) {
			continue
		}
		if _, ok := ctx.Get(c.Key); ok {
			continue
		}
		cs[i].Op = strings.TrimSuffix(c.Op, "IfExists")
		if c.forAll() {
			cs[i].Op = "ForAnyValue:" + cs[i].Op[len("ForAllValues:"):]
			if single(c.Key) {
				cs[i].Op = cs[i].Op[len("ForAnyValue:"):]
			}
		}
		changed = true
	}
	setConditions(d.statements[st], cs)
	return changed
}

// single reports whether a condition key is single-valued in a web identity
// request (everything but amr and CircleCI's context ids).
func single(key string) bool {
	k := strings.ToLower(key)
	return !strings.HasSuffix(k, ":amr") && !strings.HasSuffix(k, "context-ids") && !strings.HasSuffix(k, ":oaud")
}

func stripSetOperators(d *document, st int, url string) bool {
	cs := conditions(d.statements[st])
	changed := false
	for i, c := range cs {
		if (c.forAll() || c.forAny()) && c.claim(url) != "" && single(c.Key) {
			_, rest, _ := strings.Cut(c.Op, ":")
			cs[i].Op = rest
			changed = true
		}
	}
	setConditions(d.statements[st], cs)
	return changed
}
