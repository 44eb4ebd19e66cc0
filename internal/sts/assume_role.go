package sts

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// AssumeRoleResult is the AssumeRoleResult element.
type AssumeRoleResult struct {
	SessionResult
}

const actionAssumeRole = "sts:AssumeRole"

// AssumeRole lets a signed caller (role session credentials; neither root
// nor runner credentials may assume roles, as in AWS) assume a role. In this account the caller needs the
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
		if v.Length("Tags.member.key", m["Key"], 1, 128) && v.Length("Tags.member.value", m["Value"], 0, 256) &&
			v.Pattern("Tags.member.key", m["Key"], tagKeyRE(), tagKeyPattern) && v.Pattern("Tags.member.value", m["Value"], tagValueRE(), tagValuePattern) {
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
	log := s.newDecision(c, "AssumeRole", in.roleARN)
	if caller == nil {
		return nil, awserr.New(awserr.CodeMissingAuth, http.StatusForbidden, "Request is missing Authentication Token")
	}
	log.add(slog.String("caller", caller.ARN))
	if caller.Is(identity.Root) {
		return nil, log.deny(awserr.New(awserr.CodeAccessDenied, http.StatusForbidden,
			"Roles may not be assumed by root accounts."), "root caller")
	}
	if caller.Is(identity.Runner) {
		// Runner credentials are federated-user credentials (like
		// GetFederationToken's, which "cannot call any STS operations except
		// GetCallerIdentity"): they may not assume roles, whatever a trust
		// policy says.
		return nil, log.deny(awserr.Newf(awserr.CodeAccessDenied, http.StatusForbidden,
			"User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.ARN, in.roleARN), "runner credentials")
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
	sessTags, sessTransitive, err := chainTags(caller, tags, transitive)
	if err != nil {
		return nil, err
	}
	role, found, err := s.lookupRole(ctx, in.roleARN)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, log.deny(denied, "no such role in this account")
	}
	set, callerRole, err := CallerSet(ctx, s.dir, caller)
	if errors.Is(err, store.ErrUnavailable) {
		return nil, awsquery.FromStoreOutage(err)
	}
	if err != nil {
		return nil, log.deny(denied, "caller's policies unavailable: "+err.Error())
	}
	set.Trust = role.Trust

	now := s.now()
	pctx := CallerContext(caller, callerRole, RequestInfo{SourceIP: c.SourceIP, Secure: c.Secure, Region: c.Region,
		UserAgent: c.UserAgent, Now: now})
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
		req := &policy.Request{Principal: CallerPrincipal(caller), Action: a, Resource: role.ARN, Context: pctx}
		if policy.EvaluateSet(req, set) != policy.Allow {
			return nil, log.denyPolicy(denied, a, policy.ExplainSet(req, set))
		}
	}
	sr, err := s.issue(ctx, log, in, role, creds.Session{
		SourceIdentity: srcID, TransitiveTagKeys: sessTransitive, Chained: true, Issued: now,
	}, sessTags)
	if err != nil {
		return nil, err
	}
	return &AssumeRoleResult{SessionResult: sr}, nil
}

// chainTags returns the tags and transitive keys of a session created by
// caller with the requested ones: the caller's transitive tags pass on and
// stay transitive (role chaining, id_session-tags "Chaining roles with
// session tags"); a requested tag may not set the key of an inherited one
// ("If you pass a session tag with the same key as an inherited tag, the
// operation fails").
func chainTags(caller *identity.Caller, tags []SessionTag, transitive []string) ([]SessionTag, []string, error) {
	if len(caller.TransitiveTagKeys) == 0 {
		return tags, transitive, nil
	}
	isTransitive := map[string]bool{}
	for _, k := range caller.TransitiveTagKeys {
		isTransitive[strings.ToLower(k)] = true
	}
	requested := map[string]bool{}
	for _, t := range tags {
		requested[strings.ToLower(t.Key)] = true
	}
	outTags := append([]SessionTag(nil), tags...)
	outTransitive := append([]string(nil), transitive...)
	for _, t := range caller.Tags {
		k := strings.ToLower(t.Key)
		if !isTransitive[k] {
			continue
		}
		if requested[k] {
			return nil, nil, awserr.New(awserr.CodeInvalidParameterValue, http.StatusBadRequest,
				"One or more of the specified session tag keys conflict with transitive tags inherited from the calling session: "+t.Key)
		}
		outTags = append(outTags, SessionTag{Key: t.Key, Value: t.Value})
		outTransitive = append(outTransitive, t.Key)
	}
	if len(outTags) > 50 {
		return nil, nil, awserr.New(awserr.CodeValidation, http.StatusBadRequest,
			"1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	sortTags(outTags)
	return outTags, outTransitive, nil
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
			return awserr.New(awserr.CodeInvalidParameterValue, http.StatusBadRequest,
				"Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[k] = true
	}
	for _, k := range transitive {
		if !seen[strings.ToLower(k)] {
			return awserr.New(awserr.CodeInvalidParameterValue, http.StatusBadRequest,
				"The specified transitive tag key must be included in the requested tags.")
		}
	}
	return nil
}
