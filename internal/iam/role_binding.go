package iam

import (
	"context"
	"errors"
	"strings"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// A trust policy that names a role of this account by ARN is stored with
// that ARN replaced by the role's unique id (AROA…), as AWS does: a role
// deleted and re-created under the same name is then a different principal
// that the policy does not trust. While the role exists, IAM shows its ARN
// again; once it is deleted, the bare id shows instead.

// bindTrust returns doc with every role ARN of this account in a
// Principal's AWS element replaced by the role's unique id. Naming a role
// that does not exist is MalformedPolicyDocument "Invalid principal in
// policy", as on AWS.
func (s *Service) bindTrust(ctx context.Context, doc string) (string, error) {
	var fail error
	out, err := policy.RewriteAWSPrincipals(doc, func(v string) (string, bool) {
		name, path, ok := s.ownRole(v)
		if !ok || fail != nil {
			return "", false
		}
		r, err := s.store.GetRole(ctx, name)
		switch {
		case err == nil && r.Path == path && r.Name == name:
			return r.ID, true
		case err == nil || errors.Is(err, store.ErrNotFound):
			fail = awserr.Newf(awserr.CodeMalformedPolicy, 400, "Invalid principal in policy: \"AWS\":\"%s\"", v)
		default:
			fail = storeErr(err, "")
		}
		return "", false
	})
	if err != nil {
		return "", awserr.New(awserr.CodeMalformedPolicy, 400, "Syntax errors in policy.").Wrap(err)
	}
	if fail != nil {
		return "", fail
	}
	return out, nil
}

// ownRole reports whether v is the ARN of a role of this account, and its
// name and path.
func (s *Service) ownRole(v string) (name, path string, ok bool) {
	a, err := arn.Parse(v)
	if err != nil || a.Service != "iam" || a.Account != s.account {
		return "", "", false
	}
	res, isRole := strings.CutPrefix(a.Resource, "role/")
	if !isRole || res == "" {
		return "", "", false
	}
	i := strings.LastIndex(res, "/")
	return res[i+1:], "/" + res[:i+1], true
}

// roleARNsByID maps the unique id of every role to its ARN, read only when
// some trust policy of roles holds an id.
func (s *Service) roleARNsByID(ctx context.Context, roles ...store.Role) (map[string]string, error) {
	need := false
	for _, r := range roles {
		if hasBoundID(r.TrustPolicy) {
			need = true
			break
		}
	}
	if !need {
		return nil, nil
	}
	all, err := s.store.ListRoles(ctx)
	if err != nil {
		return nil, storeErr(err, "")
	}
	m := make(map[string]string, len(all))
	for _, r := range all {
		m[r.ID] = arn.Role(s.account, r.Path, r.Name)
	}
	return m, nil
}

// hasBoundID is a cheap pre-check: could doc hold a bound role id?
func hasBoundID(doc string) bool { return strings.Contains(doc, `"AROA`) }

// shown returns r with the role ids in its trust policy shown as the ARNs
// of the roles that still exist (byID from roleARNsByID).
func shown(r store.Role, byID map[string]string) store.Role {
	if len(byID) == 0 {
		return r
	}
	doc, err := policy.RewriteAWSPrincipals(r.TrustPolicy, func(v string) (string, bool) {
		a, ok := byID[v]
		return a, ok
	})
	if err == nil {
		r.TrustPolicy = doc
	}
	return r
}

// showRole is shown for one role.
func (s *Service) showRole(ctx context.Context, r store.Role) (store.Role, error) {
	byID, err := s.roleARNsByID(ctx, r)
	if err != nil {
		return store.Role{}, err
	}
	return shown(r, byID), nil
}
