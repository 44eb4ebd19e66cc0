package sts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/directory"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// What a signed caller may do is decided here, once, for every signed call
// (the server's authorizer) and for AssumeRole (which adds the target's
// trust policy): CallerSet gathers the caller's policies, CallerContext the
// condition keys AWS fills for the caller.

// RequestInfo is what a signed request says about itself.
type RequestInfo struct {
	SourceIP  string
	Secure    bool   // came over TLS
	Region    string // the region the request was signed for
	UserAgent string
	Now       time.Time
	// Keys are the action's own condition keys (e.g. keyless:IssuerUrl).
	Keys map[string]string
}

// ErrCallerGone is returned (wrapped) by CallerSet when the role a session
// was minted for no longer exists, or a role of the same name replaced it:
// sessions are bound to the role's unique id, as on AWS.
var ErrCallerGone = errors.New("the session's role no longer exists")

// CallerSet returns the policies that bound what caller may do, and the
// caller's role (nil for runner credentials, which have none):
//
//   - the role's identity policies (inline and attached);
//   - its permissions boundary, when it has one;
//   - the session policies the credentials were minted with.
//
// Runner credentials have no role: their session policy is all they may
// do, and only while the role whose session created them (if one did)
// still exists with the same unique id.
//
// policy.EvaluateSet combines them as AWS does: identity ∩ boundary ∩
// session, an explicit Deny in any of them wins. Root is not a caller here
// (it may do anything). A missing boundary or session policy is an error:
// a bound that can no longer be known denies.
func CallerSet(ctx context.Context, dir Directory, caller *identity.Caller) (policy.Set, *directory.Role, error) {
	if caller.Is(identity.Runner) { // the session policy is all they may do
		if caller.CreatorRoleName != "" {
			creator, err := dir.Role(ctx, caller.CreatorRoleName)
			if errors.Is(err, store.ErrNotFound) || (err == nil && creator.ID != caller.CreatorRoleID) {
				return policy.Set{}, nil, fmt.Errorf("runner credentials' creator role %s: %w", caller.CreatorRoleName, ErrCallerGone)
			}
			if err != nil {
				return policy.Set{}, nil, err
			}
		}
		perms, err := dir.SessionPolicies(ctx, caller.SessionPolicy, nil)
		if err != nil {
			return policy.Set{}, nil, fmt.Errorf("runner session policy: %w", err)
		}
		return policy.Set{Identity: perms}, nil, nil
	}
	role, err := dir.Role(ctx, caller.RoleName)
	if errors.Is(err, store.ErrNotFound) {
		return policy.Set{}, nil, fmt.Errorf("role %s: %w", caller.RoleARN, ErrCallerGone)
	}
	if err != nil {
		return policy.Set{}, nil, err
	}
	if role.ARN != caller.RoleARN || (caller.RoleID != "" && role.ID != caller.RoleID) {
		return policy.Set{}, nil, fmt.Errorf("role %s was deleted and re-created (id %s, session's %s): %w",
			role.ARN, role.ID, caller.RoleID, ErrCallerGone)
	}
	if role.BoundaryErr != nil {
		return policy.Set{}, nil, fmt.Errorf("permissions boundary of %s: %w", role.ARN, role.BoundaryErr)
	}
	sess, err := dir.SessionPolicies(ctx, caller.SessionPolicy, caller.PolicyARNs)
	if err != nil {
		return policy.Set{}, nil, fmt.Errorf("session policies: %w", err)
	}
	return policy.Set{Identity: role.Permissions, Boundary: role.Boundary, Session: sess}, role, nil
}

// CallerPrincipal is the policy principal of a signed caller.
func CallerPrincipal(caller *identity.Caller) policy.Principal {
	return policy.Principal{Type: policy.PrincipalAWS, ID: caller.ARN, Account: caller.Account,
		RoleARN: caller.RoleARN, RoleID: caller.RoleID}
}

// CallerContext returns the global condition keys AWS fills for the caller
// of a signed request (reference_policies_condition-keys):
//
//   - aws:PrincipalArn (the role ARN for a role session, as AWS gives),
//     aws:PrincipalAccount, aws:PrincipalType (Account, AssumedRole,
//     FederatedUser), aws:userid, aws:PrincipalIsAWSService (false);
//   - for temporary credentials: aws:TokenIssueTime, aws:SourceIdentity
//     when set, aws:FederatedProvider and the provider's aud and sub keys for
//     a web identity session (the cross-service federation keys);
//   - aws:PrincipalTag/<key>: the role's tags, overridden by session tags
//     of the same key (compared case-insensitively);
//   - aws:RequestedRegion, aws:CurrentTime, aws:EpochTime,
//     aws:SecureTransport, aws:SourceIp, aws:UserAgent, aws:ViaAWSService
//     (false).
//
// role is the caller's role (nil for root and runner credentials).
// aws:username is absent: it is filled for IAM users only, and keyless has
// none.
func CallerContext(caller *identity.Caller, role *directory.Role, ri RequestInfo) *policy.Context {
	c := policy.NewContext()
	switch {
	case caller.Is(identity.Root):
		c.Set("aws:PrincipalArn", caller.ARN)
		c.Set("aws:PrincipalType", "Account")
	case caller.Is(identity.Runner):
		c.Set("aws:PrincipalArn", caller.ARN)
		c.Set("aws:PrincipalType", "FederatedUser")
	default:
		c.Set("aws:PrincipalArn", caller.RoleARN)
		c.Set("aws:PrincipalType", "AssumedRole")
	}
	c.Set("aws:PrincipalAccount", caller.Account)
	c.Set("aws:userid", caller.UserID)
	c.Set("aws:PrincipalIsAWSService", "false")
	c.Set("aws:ViaAWSService", "false")
	if !caller.Is(identity.Root) && !caller.Issued.IsZero() {
		c.Set("aws:TokenIssueTime", caller.Issued.UTC().Format(time.RFC3339))
	}
	if caller.SourceIdentity != "" {
		c.Set("aws:SourceIdentity", caller.SourceIdentity)
	}
	if caller.ProviderARN != "" {
		c.Set("aws:FederatedProvider", caller.ProviderARN)
		if a, err := arn.Parse(caller.ProviderARN); err == nil {
			if url, ok := strings.CutPrefix(a.Resource, "oidc-provider/"); ok {
				if caller.Audience != "" {
					c.Set(url+":aud", caller.Audience)
				}
				if caller.Subject != "" {
					c.Set(url+":sub", caller.Subject)
				}
			}
		}
	}
	if role != nil {
		for _, t := range role.Tags {
			c.Set("aws:PrincipalTag/"+t.Key, t.Value)
		}
	}
	for _, t := range caller.Tags {
		c.Set("aws:PrincipalTag/"+t.Key, t.Value) // Set replaces case-insensitively
	}
	if ri.Region != "" {
		c.Set("aws:RequestedRegion", ri.Region)
	}
	if ri.UserAgent != "" {
		c.Set("aws:UserAgent", ri.UserAgent)
	}
	setGlobal(c, ri.Now, ri.SourceIP, ri.Secure)
	for k, v := range ri.Keys {
		c.Set(k, v)
	}
	return c
}
