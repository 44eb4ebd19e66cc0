package audit

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/policy"
)

// Severity orders findings; --fail-on compares against it.
type Severity string

// The severities, most severe first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Rank is 4 for critical down to 1 for low, 0 for anything else.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	}
	return 0
}

// ParseSeverity reads a --fail-on value.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(s))
	if v.Rank() == 0 {
		return "", fmt.Errorf("unknown severity %q (want critical, high, medium or low)", s)
	}
	return v, nil
}

// Role is one role to analyse.
type Role struct {
	Name   string
	ARN    string // empty for a file: arn:aws:iam::<account of the provider>:role/<Name> is assumed
	Source string // file name or role ARN, as reported
	// TrustPolicy is the assume-role policy document (JSON).
	TrustPolicy string
	// Permissions names the role's attached and inline permission policies
	// (names or ARNs); with the role name they decide whether the role looks
	// like it deploys.
	Permissions []string
	// Line is the line of the trust policy in Source (1 when unknown).
	Line int
}

// Config is what every analysis shares.
type Config struct {
	// Owner is the legitimate tenant (GitHub org, GitLab group, CircleCI
	// org id, HCP Terraform or Buildkite organization); empty means infer it
	// from the expected identities, else from the policy's own values.
	Owner string
	// Expect are claim sets (with iss) the role must keep admitting; every
	// fix is checked against them.
	Expect []map[string]any
}

// Finding is one proven problem.
type Finding struct {
	Rule      string          `json:"rule"`
	Severity  Severity        `json:"severity"`
	Statement int             `json:"statement"` // 0-based index of the statement that admits (or the Deny that fails)
	Message   string          `json:"message"`
	Witness   map[string]any  `json:"witness"`
	Fix       json.RawMessage `json:"fix"`
	// Trace is the evaluator's explanation of why the witness is admitted.
	Trace string `json:"-"`
	// ProviderARN is the federated principal the witness is presented to.
	ProviderARN string `json:"-"`
	// RoleARN is the role the witness assumes.
	RoleARN string `json:"-"`
}

// Result is the analysis of one role.
type Result struct {
	Name     string    `json:"name"`
	ARN      string    `json:"arn"`
	Source   string    `json:"source"`
	Findings []Finding `json:"findings"`
	// Owner is the tenant the analysis took as legitimate, and whether it
	// was inferred rather than given.
	Owner         string `json:"-"`
	OwnerInferred bool   `json:"-"`
	Line          int    `json:"-"`
}

// Analyze decides who can assume role and returns its proven findings. An
// error means the trust policy could not be read.
func Analyze(role Role, cfg Config) (Result, error) {
	res := Result{Name: role.Name, ARN: role.ARN, Source: role.Source, Line: role.Line, Findings: []Finding{}}
	pol, err := policy.Parse(role.TrustPolicy, policy.Trust)
	if err != nil {
		return res, fmt.Errorf("trust policy: %w", err)
	}
	doc, err := parseDocument(role.TrustPolicy)
	if err != nil {
		return res, fmt.Errorf("trust policy: %w", err)
	}
	a := &analysis{role: role, cfg: cfg, pol: pol, doc: doc}
	a.resolveRoleARN()
	res.ARN = a.roleARN
	for _, url := range a.providerURLs() {
		a.provider(url)
	}
	a.ineffectiveDenies()
	res.Findings = a.findings
	if res.Findings == nil {
		res.Findings = []Finding{}
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		if res.Findings[i].Statement != res.Findings[j].Statement {
			return res.Findings[i].Statement < res.Findings[j].Statement
		}
		return res.Findings[i].Severity.Rank() > res.Findings[j].Severity.Rank()
	})
	res.Owner, res.OwnerInferred = a.owner, a.ownerInferred
	return res, nil
}

type analysis struct {
	role            Role
	cfg             Config
	pol             *policy.Policy
	doc             *document
	roleARN         string
	account         string
	owner           string
	ownerInferred   bool
	findings        []Finding
	seen            map[string]bool
	cands           []*candidate // every candidate of every provider, for the Deny check
	literalRepos    map[string]bool
	single          []*policy.Policy // each Allow statement alone (with the Denies), for attribution
	literalOwners   map[string]bool
	literalOwnerIDs map[string]bool
}

const defaultAccount = "123456789012"

func (a *analysis) resolveRoleARN() {
	a.roleARN = a.role.ARN
	for _, st := range a.doc.statements {
		arns, _ := federated(st)
		for _, f := range arns {
			if acct, _, ok := providerOf(f); ok && a.account == "" {
				a.account = acct
			}
		}
	}
	if a.roleARN != "" {
		if f := strings.Split(a.roleARN, ":"); len(f) > 4 && f[4] != "" {
			a.account = f[4]
		}
	}
	if a.account == "" {
		a.account = defaultAccount
	}
	if a.roleARN == "" {
		name := a.role.Name
		if name == "" {
			name = "audited"
		}
		a.roleARN = arn.Role(a.account, "/", name)
	}
}

// providerOf splits arn:aws:iam::ACCOUNT:oidc-provider/URL.
func providerOf(arn string) (account, url string, ok bool) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[2] != "iam" || !strings.HasPrefix(f[5], "oidc-provider/") {
		return "", "", false
	}
	return f[4], strings.TrimPrefix(f[5], "oidc-provider/"), true
}

// providerURLs lists every OIDC provider a statement may admit: Federated
// principals, and for Principal "*" the providers named by condition keys
// (or a stand-in generic one).
func (a *analysis) providerURLs() []string {
	seen := map[string]bool{}
	var out []string
	add := func(u string) {
		if !seen[strings.ToLower(u)] {
			seen[strings.ToLower(u)] = true
			out = append(out, u)
		}
	}
	for _, st := range a.doc.statements {
		arns, star := federated(st)
		for _, f := range arns {
			if _, u, ok := providerOf(f); ok {
				add(u)
			}
		}
		if star {
			n := len(out)
			for _, c := range conditions(st) {
				if i := strings.LastIndex(c.Key, ":"); i > 0 {
					p := strings.ToLower(c.Key[:i])
					if p != "aws" && p != "sts" && strings.Contains(p, ".") {
						add(c.Key[:i])
					}
				}
			}
			if len(out) == n {
				add(standInProvider)
			}
		}
	}
	return out
}

// standInProvider is the issuer a witness uses when a statement trusts
// every principal and names no provider: any OIDC provider registered in
// the account will do.
const standInProvider = "oidc.keyless-audit.example"

func (a *analysis) providerARN(url string) string {
	return arn.OIDCProvider(a.account, url)
}

// admits evaluates claims as the STS server does and returns the trace when
// the policy (or p, when given) allows.
func (a *analysis) admits(p *policy.Policy, url string, claims map[string]any) bool {
	return p.Evaluate(a.request(url, claims)) == policy.Allow
}

func (a *analysis) request(url string, claims map[string]any) *policy.Request {
	return &policy.Request{
		Principal: policy.Principal{Type: policy.PrincipalFederated, ID: a.providerARN(url)},
		Action:    "sts:AssumeRoleWithWebIdentity",
		Resource:  a.roleARN,
		Context:   Context(url, a.providerARN(url), claims),
	}
}

// Context builds the condition keys AWS STS sets for a web identity token
// with these claims presented to the provider registered as url (without
// scheme): <url>:aud, :sub, :amr and the provider-specific claims AWS
// exposes (ciclaims.ProviderClaimKeys), sts:RoleSessionName and
// aws:FederatedProvider. It mirrors sts.WebIdentityContext, which a test
// checks.
func Context(url, providerARN string, claims map[string]any) *policy.Context {
	c := policy.NewContext()
	p := url + ":"
	if v := claimStrings(claims["aud"]); len(v) > 0 {
		c.Set(p+"aud", v[0])
	}
	if v := claimStrings(claims["sub"]); len(v) > 0 && v[0] != "" {
		c.Set(p+"sub", v[0])
	}
	if v := claimStrings(claims["amr"]); len(v) > 0 {
		c.Set(p+"amr", v...)
	}
	for _, k := range ciclaims.ProviderClaimKeys(url) {
		if v := claimStrings(claims[k]); len(v) > 0 {
			c.Set(p+k, v...)
		}
	}
	c.Set("sts:RoleSessionName", "keyless-audit")
	c.Set("aws:FederatedProvider", providerARN)
	return c
}

func claimStrings(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case []string:
		return x
	case map[string]any:
		return nil
	case float64:
		return []string{strings.TrimSuffix(fmt.Sprintf("%f", x), ".000000")}
	case int:
		return []string{fmt.Sprint(x)}
	}
	return strs(v)
}
