package audit

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/policy"
)

// Rule ids.
const (
	RuleAnyTenant         = "any-tenant"
	RuleOwnerConfusion    = "owner-confusion"
	RuleNegativeOnly      = "negative-only"
	RuleCallerControlled  = "caller-controlled-claim"
	RuleClaimNotSent      = "claim-not-sent"
	RuleMissingClaim      = "missing-claim-admitted"
	RuleWildcardPrincipal = "wildcard-principal"
	RuleAnyRepository     = "any-repository"
	RuleUntrustedRef      = "untrusted-ref"
	RuleSetOperator       = "set-operator-single-valued"
	RuleIneffectiveDeny   = "ineffective-deny"
)

// Rule is one rule of the analysis with its severity.
type Rule struct {
	ID       string
	Severity Severity
	Summary  string
}

// Rules lists every rule with its severity, for docs and SARIF (a copy:
// callers cannot change the table).
func Rules() []Rule { return append([]Rule(nil), rules...) }

var rules = []Rule{
	{RuleAnyTenant, Critical, "anyone on the CI platform can assume the role: no condition scopes the tenant"},
	{RuleOwnerConfusion, Critical, "another owner can assume the role: a wildcard in a tenant value admits a look-alike owner"},
	{RuleNegativeOnly, Critical, "only negated conditions scope the tenant, so every other tenant is admitted"},
	{RuleCallerControlled, Critical, "the role is scoped only by claims the job itself chooses (aud, actor, workflow)"},
	{RuleClaimNotSent, Critical, "a condition names a claim the provider never sends (or AWS never exposes), so it restricts nothing"},
	{RuleMissingClaim, High, "an ...IfExists or ForAllValues condition admits tokens that lack the claim"},
	{RuleWildcardPrincipal, Critical, "Principal \"*\" admits web identity tokens of any provider registered in the account"},
	{RuleAnyRepository, Medium, "any repository (project) of the owner can assume the role"},
	{RuleUntrustedRef, High, "pull requests, tags or any branch can assume a role that looks like it deploys"},
	{RuleSetOperator, Low, "ForAnyValue/ForAllValues on a single-valued claim"},
	{RuleIneffectiveDeny, High, "a Deny statement cannot match the tokens it was written against"},
}

func severityOf(rule string) Severity {
	for _, r := range rules {
		if r.ID == rule {
			return r.Severity
		}
	}
	return Low
}

// provider analyses every statement that trusts the provider at url.
func (a *analysis) provider(url string) {
	var subs []string
	for _, st := range a.doc.statements {
		for _, c := range conditions(st) {
			if c.claim(url) == "sub" || strings.HasPrefix(strings.ToLower(c.Key), "*:") {
				subs = append(subs, c.Values...)
			}
		}
	}
	prov := detectProvider(url, subs)
	tenant := tenantOfURL(url)
	a.resolveOwner(prov, url, tenant, subs)
	a.literalRepos = literalRepos(prov, subs)
	a.literalOwnerIDs = map[string]bool{}
	for _, s := range subs {
		for _, m := range ownerIDRE.FindAllStringSubmatch(s, -1) {
			a.literalOwnerIDs[m[1]] = true
		}
	}
	cands := a.candidates(url, prov, subs, tenant)
	aud := a.audience(url, prov, tenant)
	callerVals := a.callerValues(url, prov)
	iss := "https://" + url
	best := map[int]map[string]hit{}
	admitted := map[int]*candidate{}
	for i, c := range cands {
		c.claims = prov.claims(iss, aud, c.id, newRand(fmt.Sprint(url, i)))
		if c.claims == nil {
			continue
		}
		for k, v := range callerVals {
			c.claims[k] = v
		}
		a.cands = append(a.cands, c)
		req := a.request(url, c.claims)
		if a.pol.Evaluate(req) != policy.Allow {
			continue
		}
		c.admitted = true
		st := a.admittingStatement(req)
		if st < 0 {
			continue
		}
		if admitted[st] == nil {
			admitted[st] = c
		}
		rules := a.classify(url, prov, c, st)
		for _, r := range rules {
			if best[st] == nil {
				best[st] = map[string]hit{}
			}
			if _, ok := best[st][r]; !ok {
				best[st][r] = hit{c, r, st}
			}
		}
	}
	for _, st := range sortedInts(best) {
		rules := best[st]
		cross := false
		for _, r := range []string{RuleWildcardPrincipal, RuleNegativeOnly, RuleClaimNotSent, RuleMissingClaim, RuleCallerControlled, RuleAnyTenant, RuleOwnerConfusion} {
			h, ok := rules[r]
			if !ok || cross {
				continue
			}
			if r == RuleMissingClaim && !a.foreign(prov, h.c) {
				continue
			}
			cross = true
			a.report(url, prov, h.c, st, r)
		}
		if h, ok := rules[RuleMissingClaim]; ok && !cross {
			a.report(url, prov, h.c, st, RuleMissingClaim)
		}
		if cross {
			continue
		}
		if h, ok := rules[RuleAnyRepository]; ok {
			a.report(url, prov, h.c, st, RuleAnyRepository)
			continue
		}
		if h, ok := rules[RuleUntrustedRef]; ok {
			a.report(url, prov, h.c, st, RuleUntrustedRef)
		}
	}
	a.setOperators(url, prov, admitted)
}

func sortedInts[V any](m map[int]V) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// admittingStatement returns the 0-based index of the first Allow statement
// that admits the request on its own (with the policy's Deny statements).
func (a *analysis) admittingStatement(req *policy.Request) int {
	if a.single == nil {
		a.single = make([]*policy.Policy, len(a.doc.statements))
		for i, st := range a.doc.statements {
			if !strings.EqualFold(fmt.Sprint(lookup(st, "Effect")), "Allow") {
				continue
			}
			d := a.doc.clone()
			keep := []map[string]any{d.statements[i]}
			for j, o := range d.statements {
				if j != i && !strings.EqualFold(fmt.Sprint(lookup(o, "Effect")), "Allow") {
					keep = append(keep, o)
				}
			}
			d.statements = keep
			if b, err := d.marshal(); err == nil {
				a.single[i], _ = policy.Parse(string(b), policy.Trust)
			}
		}
	}
	for i, p := range a.single {
		if p != nil && p.Evaluate(req) == policy.Allow {
			return i
		}
	}
	return -1
}

func (a *analysis) trace(url string, claims map[string]any) string {
	return a.pol.Explain(a.request(url, claims)).Text()
}

// resolveOwner settles the legitimate tenant: --owner, else the tenant in
// the issuer URL, else the owner of the expected identities, else the owner
// most of the policy's subject values name.
func (a *analysis) resolveOwner(prov *Provider, url, tenant string, subs []string) {
	switch {
	case a.cfg.Owner != "":
		a.owner, a.ownerInferred = a.cfg.Owner, false
		return
	case tenant != "":
		a.owner, a.ownerInferred = tenant, false
		return
	}
	if a.owner != "" {
		return
	}
	count := map[string]int{}
	a.literalOwners = map[string]bool{}
	for _, e := range a.cfg.Expect {
		if s, ok := e["sub"].(string); ok {
			if id, ok := prov.parse(s); ok && id.Owner != "" {
				count[id.Owner] += 100
			}
		}
	}
	for _, s := range subs {
		if o := literalOwner(s); o != "" {
			count[o]++
			a.literalOwners[o] = true
		}
	}
	bestN := 0
	for _, o := range sortedKeys(count) {
		if count[o] > bestN {
			a.owner, bestN = o, count[o]
		}
	}
	a.ownerInferred = a.owner != ""
}

// literalOwner reads the owner a subject pattern names: the longest run
// without wildcards in its owner segment (acme in repo:*acme/x).
func literalOwner(s string) string {
	for _, p := range []string{"repo:", "project_path:", "organization:"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			end := strings.IndexAny(rest, "/:@")
			if end < 0 {
				end = len(rest)
			}
			best := ""
			for _, run := range strings.FieldsFunc(rest[:end], func(r rune) bool { return r == '*' || r == '?' }) {
				if len(run) > len(best) {
					best = run
				}
			}
			return best
		}
	}
	return ""
}

// audience picks the aud a witness carries: the value the policy asks for
// when the provider lets the job choose it, else the provider's default.
func (a *analysis) audience(url string, prov *Provider, tenant string) string {
	for _, st := range a.doc.statements {
		if !strings.EqualFold(fmt.Sprint(lookup(st, "Effect")), "Allow") {
			continue
		}
		for _, c := range conditions(st) {
			if c.claim(url) == "aud" && !c.negated() && len(c.Values) > 0 {
				return strings.ReplaceAll(strings.ReplaceAll(c.Values[0], "*", "x"), "?", "x")
			}
		}
	}
	switch prov {
	case circleci:
		return tenant
	case gitlab:
		return "https://" + url
	case terraform:
		return "aws.workload.identity"
	case bitbucket:
		return "ari:cloud:bitbucket::workspace/" + tenant
	}
	return ciclaims.GitHubAudience
}

// callerValues are the caller-controlled claims (other than aud) the policy
// asks for: a job sets them to whatever it likes.
func (a *analysis) callerValues(url string, prov *Provider) map[string]any {
	out := map[string]any{}
	for _, st := range a.doc.statements {
		for _, c := range conditions(st) {
			k := c.claim(url)
			if k == "" || k == "aud" || c.negated() || len(c.Values) == 0 || !contains(prov.CallerControlled, k) {
				continue
			}
			if _, ok := out[k]; !ok {
				out[k] = strings.ReplaceAll(strings.ReplaceAll(c.Values[0], "*", "x"), "?", "x")
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// foreign reports whether the candidate belongs to another tenant.
func (a *analysis) foreign(prov *Provider, c *candidate) bool {
	if prov == generic {
		return c.id.Subject == outsiderSub
	}
	if !prov.Shared {
		return false
	}
	if c.id.Immutable && a.literalOwnerIDs[c.id.OwnerID] {
		return false // the owner id is the policy's own: a renamed owner is still the owner
	}
	if a.owner == "" {
		return c.id.Owner == outsiderOwner || !a.literalOwners[c.id.Owner]
	}
	return !strings.EqualFold(c.id.Owner, a.owner)
}

// classify names the rules an admitted candidate proves for statement st.
func (a *analysis) classify(url string, prov *Provider, c *candidate, st int) []string {
	stmt := a.doc.statements[st]
	cs := conditions(stmt)
	ctx := Context(url, a.providerARN(url), c.claims)
	var rules []string
	for _, k := range cs {
		if (k.ifExists() || k.forAll()) && !k.isNull() {
			if _, ok := ctx.Get(k.Key); !ok {
				rules = append(rules, RuleMissingClaim)
				break
			}
		}
	}
	if a.foreign(prov, c) {
		_, star := federated(stmt)
		var pos, neg, callerOnly, notSent int
		for _, k := range cs {
			claim := k.claim(url)
			switch {
			case claim == "" || k.isNull():
			case contains(prov.CallerControlled, claim) && !k.negated():
				if claim != "aud" {
					callerOnly++
				}
			case !a.exposed(url, claim):
				if k.negated() || k.ifExists() || k.forAll() {
					notSent++
				}
			case contains(prov.TenantClaims, claim) || prov == generic:
				if k.negated() {
					neg++
				} else {
					pos++
				}
			}
		}
		switch {
		case star:
			rules = append(rules, RuleWildcardPrincipal)
		case pos == 0 && neg > 0:
			rules = append(rules, RuleNegativeOnly)
		case pos == 0 && notSent > 0:
			rules = append(rules, RuleClaimNotSent)
		case pos == 0 && callerOnly > 0:
			rules = append(rules, RuleCallerControlled)
		case pos > 0 && a.owner != "" && c.id.Owner != outsiderOwner && c.id.Subject != outsiderSub:
			rules = append(rules, RuleOwnerConfusion)
		default:
			rules = append(rules, RuleAnyTenant)
		}
		return rules
	}
	if prov != generic && !a.literalRepos[c.id.Repo] {
		return append(rules, RuleAnyRepository)
	}
	if why := a.deploys(); why != "" && prov != circleci && prov != bitbucket {
		switch {
		case c.id.Kind == "pull_request", c.id.Kind == "tag", c.id.Kind == "plan",
			c.id.Kind == "branch" && c.id.Ref == newBranch, c.id.Kind == "environment" && c.id.Env == newEnv:
			rules = append(rules, RuleUntrustedRef)
		}
	}
	return rules
}

// exposed reports whether AWS sets the condition key <url>:claim for this
// provider's tokens.
func (a *analysis) exposed(url, claim string) bool {
	switch strings.ToLower(claim) {
	case "aud", "sub", "amr", "azp", "oaud":
		return true
	}
	return contains(ciclaims.ProviderClaimKeys(url), claim)
}

// deploys says why the role looks like it deploys, or "".
func (a *analysis) deploys() string {
	words := []string{"deploy", "release", "publish", "prod", "admin", "poweruser", "push", "write", "apply", "terraform"}
	name := strings.ToLower(a.role.Name)
	for _, w := range words {
		if strings.Contains(name, w) {
			return fmt.Sprintf("its name %q contains %q", a.role.Name, w)
		}
	}
	for _, p := range a.role.Permissions {
		lp := strings.ToLower(p)
		for _, w := range words {
			if strings.Contains(lp, w) {
				return fmt.Sprintf("it has the permission policy %q", p)
			}
		}
	}
	return ""
}

type hit struct {
	c    *candidate
	rule string
	st   int
}

// ownerIDRE finds a literal GitHub owner id (repo:NAME@ID/...).
var ownerIDRE = regexp.MustCompile(`^repo:[^/]*@([0-9]+)/`)
