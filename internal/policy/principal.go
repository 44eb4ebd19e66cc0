package policy

import (
	"strings"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
)

// Principal is who is asking.
type Principal struct {
	Type    string // "Federated" | "AWS" | "Service"
	ID      string // provider ARN for Federated; for AWS the caller ARN (role ARN / assumed-role session ARN / root ARN / user ARN); service name for Service
	Account string // caller account (AWS principals)
	RoleARN string // for an assumed-role session: the role's IAM ARN, which trust policies name
	// RoleID is the unique id (AROA…) of the session's role. A trust
	// policy stores a role it names by this id, as AWS does, so a role
	// deleted and re-created under the same name is a different principal.
	RoleID string
}

// Principal types as written in policies.
const (
	PrincipalAWS       = "AWS"
	PrincipalFederated = "Federated"
	PrincipalService   = "Service"
	PrincipalCanonical = "CanonicalUser"
)

// principalMatch says how a Principal element matched; the combining rules
// for same-account AssumeRole depend on it.
type principalMatch uint8

const (
	pmNone     principalMatch = iota
	pmAccount                 // "*", {"AWS":"*"}, a root ARN or a bare account id
	pmRole                    // the role ARN of the caller's session
	pmIdentity                // the caller's own ARN (session, user), a provider or a service
)

// principals is a compiled Principal/NotPrincipal element.
type principals struct {
	any       bool // "*"
	awsAny    bool // {"AWS":"*"}
	aws       []string
	ids       []string // unique ids (AROA…) that IAM bound role ARNs to
	accounts  []string
	federated []string
	service   []string
	canonical []string
	raw       []string // "Type:value" for traces
}

func compilePrincipal(n *node) (*principals, error) {
	p := &principals{}
	if n.kind == nString {
		if n.s != "*" {
			return nil, awserr.Newf(awserr.CodeMalformedPolicy, 400, "Invalid principal in policy: %q", n.s)
		}
		p.any = true
		p.raw = []string{"*"}
		return p, nil
	}
	if n.kind != nObject || len(n.keys) == 0 {
		return nil, errSyntax
	}
	for i, typ := range n.keys {
		vals, err := stringList(n.vals[i], true)
		if err != nil {
			return nil, err
		}
		if len(vals) == 0 {
			return nil, errSyntax // an empty list would silently match no one
		}
		for _, v := range vals {
			p.raw = append(p.raw, typ+":"+v)
			bad := awserr.Newf(awserr.CodeMalformedPolicy, 400, "Invalid principal in policy: %q:%q", typ, v)
			if v == "" {
				return nil, bad
			}
			switch typ {
			case PrincipalAWS:
				switch {
				case v == "*":
					p.awsAny = true
				case arn.IsAccountID(v):
					p.accounts = append(p.accounts, v)
				case isUniqueID(v):
					p.ids = append(p.ids, v)
				default:
					a, err := arn.Parse(v)
					if err != nil || strings.ContainsAny(v, "*?") || (a.Service != "iam" && a.Service != "sts") {
						return nil, bad
					}
					if a.Service == "iam" && a.Resource == "root" {
						p.accounts = append(p.accounts, a.Account)
					} else {
						p.aws = append(p.aws, v)
					}
				}
			case PrincipalFederated:
				p.federated = append(p.federated, v)
			case PrincipalService:
				p.service = append(p.service, v)
			case PrincipalCanonical:
				p.canonical = append(p.canonical, v)
			default:
				return nil, bad
			}
		}
	}
	return p, nil
}

// match reports how (if at all) the request principal matches.
func (p *principals) match(r *Principal) principalMatch {
	if p.any {
		return pmAccount
	}
	best := pmNone
	switch r.Type {
	case PrincipalFederated:
		if contains(p.federated, r.ID) {
			return pmIdentity
		}
	case PrincipalService:
		if contains(p.service, r.ID) {
			return pmIdentity
		}
	case PrincipalAWS:
		for _, a := range p.aws {
			if a == r.ID {
				return pmIdentity
			}
			if r.RoleARN != "" && a == r.RoleARN {
				best = pmRole
			}
		}
		if r.RoleID != "" && contains(p.ids, r.RoleID) {
			best = pmRole
		}
		if best == pmNone && r.Account != "" && contains(p.accounts, r.Account) {
			best = pmAccount
		}
	case PrincipalCanonical:
		if contains(p.canonical, r.ID) {
			return pmIdentity
		}
	}
	// AWS documents {"AWS":"*"} as equivalent to "*" (reference_policies_elements_principal,
	// "All principals"): it admits every principal, a web identity or a
	// service included, once nothing more specific has matched.
	if best == pmNone && p.awsAny {
		best = pmAccount
	}
	return best
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// isUniqueID reports whether s has the shape of an IAM unique id of a role
// or user (AROA… or AIDA…, then upper-case letters and digits), the form
// in which IAM stores the roles and users a policy's Principal names.
func isUniqueID(s string) bool {
	if len(s) < 16 || len(s) > 128 || !(strings.HasPrefix(s, "AROA") || strings.HasPrefix(s, "AIDA")) {
		return false
	}
	for _, c := range s[4:] {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
