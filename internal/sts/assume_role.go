package sts

import (
	"context"
	"net/http"
	"strings"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/policy"
)

// AssumeRoleResult is the AssumeRoleResult element.
type AssumeRoleResult struct {
	SessionResult
}

const actionAssumeRole = "sts:AssumeRole"

// AssumeRole lets a signed caller (session credentials; root may not assume
// roles, as in AWS) assume a role. In this account the caller needs the
// trust policy to allow it and, unless the trust policy names the caller's
// role or session directly, its identity policies too; a session's own
// session policies bound both. A session assuming a role is role chaining:
// the new session lasts at most one hour.
func (s *Service) AssumeRole(ctx context.Context, c *awsquery.Call) (any, error) {
	var v awsquery.Validator
	in := parseCommon(c.Request, &v)
	extID := c.Get("ExternalId")
	if c.Has("ExternalId") && v.Length("ExternalId", extID, 2, 1224) {
		v.Pattern("ExternalId", extID, externalIDRE, `[\w+=,.@:\/-]*`)
	}
	srcID := c.Get("SourceIdentity")
	if c.Has("SourceIdentity") && v.Length("SourceIdentity", srcID, 2, 64) {
		v.Pattern("SourceIdentity", srcID, sourceIdentityRE, sessionNamePattern)
	}
	var tags []SessionTag
	for _, m := range c.Structs("Tags", "Key", "Value") {
		if v.Length("Tags.member.key", m["Key"], 1, 128) && v.Length("Tags.member.value", m["Value"], 0, 256) {
			tags = append(tags, SessionTag{Key: m["Key"], Value: m["Value"]})
		}
	}
	transitive := c.List("TransitiveTagKeys")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := checkRequestTags(tags, transitive); err != nil {
		return nil, err
	}
	caller := c.Caller
	log := s.newDecision(c.RequestID, "AssumeRole", in.roleARN)
	if caller == nil {
		return nil, awserr.New(awserr.CodeMissingAuth, http.StatusForbidden, "Request is missing Authentication Token")
	}
	log.add("caller", caller.ARN)
	if caller.Root {
		return nil, log.deny(awserr.New(awserr.CodeAccessDenied, http.StatusForbidden,
			"Roles may not be assumed by root accounts."), "root caller")
	}
	if caller.SourceIdentity != "" {
		if srcID != "" && srcID != caller.SourceIdentity {
			return nil, awserr.New(awserr.CodeValidation, http.StatusBadRequest,
				"The source identity of a chained session must not change.")
		}
		srcID = caller.SourceIdentity // source identity persists across role chaining
	}
	denied := awserr.Newf(awserr.CodeAccessDenied, http.StatusForbidden,
		"User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, in.roleARN)
	role, found, err := s.lookupRole(ctx, in.roleARN)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, log.deny(denied, "no such role in this account")
	}
	set := policy.Set{Trust: role.Trust}
	if callerRole, err := s.dir.Role(ctx, caller.RoleName); err == nil && callerRole.ARN == caller.RoleARN {
		set.Identity = callerRole.Permissions
	}
	sessPolicies, err := s.dir.SessionPolicies(ctx, caller.SessionPolicy, caller.PolicyARNs)
	if err != nil {
		return nil, log.deny(denied, "caller's session policies unavailable: "+err.Error())
	}
	set.Session = sessPolicies

	now := s.now()
	pctx := CallerContext(caller, c.SourceIP, c.Secure, now)
	pctx.Set("sts:RoleSessionName", in.sessionName)
	if extID != "" {
		pctx.Set("sts:ExternalId", extID)
	}
	if srcID != "" {
		pctx.Set("sts:SourceIdentity", srcID)
	}
	setRequestTags(pctx, tags, transitive)
	actions := []string{actionAssumeRole}
	if len(tags) > 0 {
		actions = append(actions, "sts:TagSession")
	}
	if srcID != "" {
		actions = append(actions, "sts:SetSourceIdentity")
	}
	for _, a := range actions {
		req := &policy.Request{
			Principal: policy.Principal{Type: policy.PrincipalAWS, ID: caller.ARN, Account: caller.Account, RoleARN: caller.RoleARN},
			Action:    a, Resource: role.ARN, Context: pctx,
		}
		if policy.EvaluateSet(req, set) != policy.Allow {
			tr := policy.ExplainSet(req, set)
			log.write("verdict", "deny", "denied_action", a, "closest_miss", tr.ClosestMiss, "trace", tr.Text())
			return nil, denied
		}
	}
	sr, err := s.issue(ctx, log, in, role, creds.Session{
		SourceIdentity: srcID, TransitiveTagKeys: transitive, Chained: true, Issued: now,
	}, tags)
	if err != nil {
		return nil, err
	}
	return &AssumeRoleResult{SessionResult: sr}, nil
}

// checkRequestTags applies STS's tag rules: at most 50, keys unique
// case-insensitively, transitive keys among the tags.
func checkRequestTags(tags []SessionTag, transitive []string) error {
	if len(tags) > 50 {
		return awserr.New(awserr.CodeValidation, http.StatusBadRequest,
			"1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	seen := map[string]bool{}
	for _, t := range tags {
		k := strings.ToLower(t.Key)
		if seen[k] {
			return awserr.New("InvalidParameterValue", http.StatusBadRequest,
				"Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[k] = true
	}
	for _, k := range transitive {
		if !seen[strings.ToLower(k)] {
			return awserr.New("InvalidParameterValue", http.StatusBadRequest,
				"The specified transitive tag key must be included in the requested tags.")
		}
	}
	return nil
}
