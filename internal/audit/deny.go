package audit

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/keylessci/keyless/internal/policy"
)

// setOperators reports ForAnyValue/ForAllValues on single-valued claims in
// statements that admit someone; the witness is a token the statement
// admits and the fix drops the set operator (for a present single value the
// plain operator decides the same, and it stops admitting absent keys).
func (a *analysis) setOperators(url string, prov *Provider, admitted map[int]*candidate) {
	for _, st := range sortedInts(admitted) {
		for _, c := range conditions(a.doc.statements[st]) {
			if (c.forAll() || c.forAny()) && c.claim(url) != "" && single(c.Key) {
				a.report(url, prov, admitted[st], st, RuleSetOperator)
				break
			}
		}
	}
}

// ineffectiveDenies finds Deny statements that cannot match web identity
// requests (wrong principal or action, StringEquals with a wildcard) yet
// were written against tokens the policy admits: the witness is such a
// token, the fix the Deny as it was meant.
func (a *analysis) ineffectiveDenies() {
	var feds []any
	for _, st := range a.doc.statements {
		if strings.EqualFold(fmt.Sprint(lookup(st, "Effect")), "Allow") {
			arns, _ := federated(st)
			for _, f := range arns {
				feds = append(feds, f)
			}
		}
	}
	for di, st := range a.doc.statements {
		if !strings.EqualFold(fmt.Sprint(lookup(st, "Effect")), "Deny") {
			continue
		}
		d := a.doc.clone()
		ds := d.statements[di]
		changed := false
		arns, star := federated(ds)
		if !star && len(feds) > 0 && !overlap(arns, feds) {
			delete(ds, keyOf(ds, "NotPrincipal"))
			ds[keyOf(ds, "Principal")] = map[string]any{"Federated": feds}
			changed = true
		}
		if _, ok := ds[keyOf(ds, "NotAction")]; !ok && !matchesAny(strs(lookup(ds, "Action")), "sts:AssumeRoleWithWebIdentity") {
			ds[keyOf(ds, "Action")] = "sts:AssumeRoleWithWebIdentity"
			changed = true
		}
		cs := conditions(ds)
		for i, c := range cs {
			if strings.HasPrefix(c.base(), "StringEquals") && !strings.Contains(c.base(), "IgnoreCase") && anyWildcard(c.Values) {
				cs[i].Op = strings.Replace(c.Op, "StringEquals", "StringLike", 1)
				cs[i].Op = strings.Replace(cs[i].Op, "StringNotEquals", "StringNotLike", 1)
				changed = true
			}
		}
		if !changed {
			continue
		}
		setConditions(ds, cs)
		b, err := d.marshal()
		if err != nil {
			continue
		}
		fixed, err := policy.Parse(string(b), policy.Trust)
		if err != nil {
			continue
		}
		for _, c := range a.cands {
			if !c.admitted || a.admits(fixed, c.url, c.claims) {
				continue
			}
			fix := json.RawMessage(b)
			if !a.admitsExpected(fixed) {
				fix = json.RawMessage("null")
			}
			a.findings = append(a.findings, Finding{
				Rule: RuleIneffectiveDeny, Severity: High, Statement: di,
				Message: fmt.Sprintf("Deny statement %d never matches a web identity request, so the token it was written to block (sub %q) is admitted.",
					di, fmt.Sprint(c.claims["sub"])),
				Witness: c.claims, Fix: fix, Trace: a.trace(c.url, c.claims),
				ProviderARN: a.providerARN(c.url), RoleARN: a.roleARN,
			})
			break
		}
	}
}

func overlap(a []string, b []any) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if globMatch(strings.ToLower(p), strings.ToLower(action)) {
			return true
		}
	}
	return false
}

// globMatch matches '*' (any run) and '?' (one character).
func globMatch(p, s string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := 0; i <= len(s); i++ {
				if globMatch(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return s == ""
}

// message is the one sentence saying who gets in.
func (a *analysis) message(url string, prov *Provider, c *candidate, st int, rule string) string {
	sub := fmt.Sprint(c.claims["sub"])
	owner := a.owner
	if owner == "" {
		owner = "its owner"
	}
	inferred := ""
	if a.ownerInferred {
		inferred = " (owner inferred from the policy)"
	}
	plat := prov.Name
	switch rule {
	case RuleAnyTenant:
		return fmt.Sprintf("Anyone on %s can assume this role: statement %d does not scope the tenant, so a job outside %s%s with sub %q is admitted.", plat, st, owner, inferred, sub)
	case RuleOwnerConfusion:
		return fmt.Sprintf("Another owner can assume this role: a wildcard in statement %d admits %q, which is not %s%s.", st, sub, owner, inferred)
	case RuleNegativeOnly:
		return fmt.Sprintf("Anyone on %s except the excluded identities can assume this role: statement %d scopes the tenant only with negated conditions, so %q is admitted.", plat, st, sub)
	case RuleCallerControlled:
		return fmt.Sprintf("Anyone on %s can assume this role: statement %d checks only claims the job chooses itself (%s), so %q is admitted.", plat, st, strings.Join(prov.CallerControlled[:min(3, len(prov.CallerControlled))], ", "), sub)
	case RuleClaimNotSent:
		return fmt.Sprintf("Anyone on %s can assume this role: statement %d conditions on a claim AWS never receives from this provider, which restricts nothing, so %q is admitted.", plat, st, sub)
	case RuleMissingClaim:
		return fmt.Sprintf("A token without the claim an ...IfExists or ForAllValues condition of statement %d names is admitted: %q gets in.", st, sub)
	case RuleWildcardPrincipal:
		return fmt.Sprintf("Statement %d trusts Principal \"*\", so a token of any OIDC provider registered in the account (here %s, sub %q) is admitted.", st, url, sub)
	case RuleAnyRepository:
		return fmt.Sprintf("Any repository or project of %s%s can assume this role: a new one (sub %q) is admitted by statement %d.", owner, inferred, sub, st)
	case RuleUntrustedRef:
		return fmt.Sprintf("The role looks like it deploys (%s), yet statement %d admits %s (sub %q).", a.deploys(), st, refWords(c.id), sub)
	case RuleSetOperator:
		return fmt.Sprintf("Statement %d applies ForAnyValue/ForAllValues to a single-valued claim; a plain operator decides the same for present values and never admits a token lacking the claim (admitted example: %q).", st, sub)
	}
	return rule
}

func refWords(id Identity) string {
	switch id.Kind {
	case "pull_request":
		return "pull requests (including from forks where the workflow runs for them)"
	case "tag":
		return "any tag"
	case "plan":
		return "speculative plan runs"
	case "environment":
		return "any environment"
	}
	return "any branch"
}
