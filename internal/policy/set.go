package policy

import "strings"

// Set is the group of policies that apply to one request. Nil or empty
// members are not applicable.
type Set struct {
	Trust    *Policy   // the role trust policy, for AssumeRole* calls
	Identity []*Policy // the caller's identity policies (inline and managed)
	Session  []*Policy // the session policies of the caller's credentials
	// Boundary is the permissions boundary of the caller's role (nil when
	// it has none). It never grants: an identity-based allow counts only
	// where the boundary allows too.
	Boundary *Policy
}

// EvaluateSet decides r against every policy of s, with the combining rules
// described in the package documentation.
func EvaluateSet(r *Request, s Set) Decision {
	d, _ := evaluateSet(r, s)
	return d
}

// Reasons for a set decision (constant strings so that EvaluateSet does not
// allocate).
const (
	reasonDeny             = "an explicit Deny overrides every Allow"
	reasonNoPolicy         = "no policy applies"
	reasonTrustNoAllow     = "the trust policy does not allow the request"
	reasonWebIdentity      = "the trust policy alone decides for a federated or service principal, and it allows"
	reasonDirect           = "the trust policy names the caller's own ARN in the same account, so identity policies are not needed"
	reasonRole             = "the trust policy names the caller's role ARN in the same account; identity policies are not needed but session policies must allow"
	reasonRoleSessionDeny  = "the trust policy names the caller's role ARN, but the session policies do not allow the request"
	reasonNeedIdentity     = "the trust policy allows through an account principal (or a different account), so the caller's identity policies must allow too"
	reasonIdentityNoAllow  = "no identity policy allows the request"
	reasonSessionNoAllow   = "the identity policies allow, but the session policies do not"
	reasonBoundaryNoAllow  = "the identity policies allow, but the permissions boundary does not"
	reasonRoleBoundaryDeny = "the trust policy names the caller's role ARN, but the permissions boundary does not allow the request"
	reasonIdentitySession  = "the identity policies (and any session policies) allow the request"
	reasonTrustAndIdentity = "the trust policy and the caller's identity policies (and any session policies) allow the request"
)

func evaluateSet(r *Request, s Set) (Decision, string) {
	var trustDec Decision
	var trustPM principalMatch
	if s.Trust != nil {
		trustDec, trustPM = s.Trust.evaluate(r)
		if trustDec == ExplicitDeny {
			return ExplicitDeny, reasonDeny
		}
	}
	idDec, nID := evaluateAll(r, s.Identity)
	sessDec, nSess := evaluateAll(r, s.Session)
	boundDec := Allow
	if s.Boundary != nil {
		boundDec, _ = s.Boundary.evaluate(r)
	}
	if idDec == ExplicitDeny || sessDec == ExplicitDeny || boundDec == ExplicitDeny {
		return ExplicitDeny, reasonDeny
	}
	identityOK := idDec == Allow
	sessionOK := nSess == 0 || sessDec == Allow
	boundaryOK := boundDec == Allow

	if s.Trust == nil {
		switch {
		case nID == 0:
			return ImplicitDeny, reasonNoPolicy
		case !identityOK:
			return ImplicitDeny, reasonIdentityNoAllow
		case !boundaryOK:
			return ImplicitDeny, reasonBoundaryNoAllow
		case !sessionOK:
			return ImplicitDeny, reasonSessionNoAllow
		}
		return Allow, reasonIdentitySession
	}
	if trustDec != Allow {
		return ImplicitDeny, reasonTrustNoAllow
	}
	if r.Principal.Type != PrincipalAWS {
		return Allow, reasonWebIdentity
	}
	if sameAccount(r) {
		switch trustPM {
		case pmIdentity:
			return Allow, reasonDirect
		case pmRole:
			switch {
			case !boundaryOK:
				return ImplicitDeny, reasonRoleBoundaryDeny
			case !sessionOK:
				return ImplicitDeny, reasonRoleSessionDeny
			}
			return Allow, reasonRole
		}
	}
	switch {
	case !identityOK:
		return ImplicitDeny, reasonNeedIdentity + "; " + reasonIdentityNoAllow
	case !boundaryOK:
		return ImplicitDeny, reasonNeedIdentity + "; " + reasonBoundaryNoAllow
	case !sessionOK:
		return ImplicitDeny, reasonNeedIdentity + "; " + reasonSessionNoAllow
	}
	return Allow, reasonTrustAndIdentity
}

// evaluateAll combines several policies of one kind (Deny wins, then Allow)
// and counts the non-nil ones.
func evaluateAll(r *Request, ps []*Policy) (Decision, int) {
	d, n := ImplicitDeny, 0
	for _, p := range ps {
		if p == nil {
			continue
		}
		n++
		switch pd, _ := p.evaluate(r); pd {
		case ExplicitDeny:
			return ExplicitDeny, n
		case Allow:
			d = Allow
		}
	}
	return d, n
}

func sameAccount(r *Request) bool {
	return r.Principal.Account != "" && arnAccount(r.Resource) == r.Principal.Account
}

// arnAccount returns the account component of an ARN ("" if s is not one),
// without allocating.
func arnAccount(s string) string {
	if !strings.HasPrefix(s, "arn:") {
		return ""
	}
	rest := s
	for range 4 {
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
	}
	i := strings.IndexByte(rest, ':')
	if i < 0 {
		return ""
	}
	return rest[:i]
}
