package sts

import (
	"context"
	"errors"
	"net/http"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// WebIdentityResult is the AssumeRoleWithWebIdentityResult element.
type WebIdentityResult struct {
	SessionResult
	SubjectFromWebIdentityToken string `xml:"SubjectFromWebIdentityToken"`
	Provider                    string `xml:"Provider"`
	Audience                    string `xml:"Audience"`
}

const actionWebIdentity = "sts:AssumeRoleWithWebIdentity"

// AssumeRoleWithWebIdentity exchanges a verified OIDC token for credentials.
func (s *Service) AssumeRoleWithWebIdentity(ctx context.Context, c *awsquery.Call) (any, error) {
	var v awsquery.Validator
	in := parseCommon(c.Request, &v)
	token := c.Get("WebIdentityToken")
	if v.Required("WebIdentityToken", c.Has("WebIdentityToken")) {
		v.Length("WebIdentityToken", token, 4, 20000)
	}
	if c.Has("ProviderId") {
		v.Length("ProviderId", c.Get("ProviderId"), 4, 2048)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	log := s.newDecision(c, "AssumeRoleWithWebIdentity", in.roleARN)

	// The token first: AWS answers token problems before looking at the role.
	// Surrounding whitespace is dropped: token files are commonly written with
	// `echo`, and the SDKs send the trailing newline along.
	tok, err := oidc.Parse(strings.TrimSpace(token))
	if err != nil {
		return nil, log.deny(err, "token rejected")
	}
	log.token(tok)
	url, ok := strings.CutPrefix(tok.Issuer, "https://")
	var prov *store.Provider
	if ok {
		prov, err = s.dir.Provider(ctx, url)
	}
	if !ok || errors.Is(err, store.ErrNotFound) {
		return nil, log.deny(awserr.New(awserr.CodeInvalidIdentityToken, http.StatusBadRequest,
			"No OpenIDConnect provider found in your account for "+tok.Issuer), "issuer not registered")
	}
	if err != nil {
		return nil, storeErr(err)
	}
	providerARN := arn.OIDCProvider(s.account, prov.URL)
	log.provider(providerARN)
	res := tok.Check(ctx, oidc.Checks{ClientIDs: prov.ClientIDs, Now: now, Skew: s.skew,
		Keys: func(ctx context.Context) (*jose.JSONWebKeySet, error) {
			return s.keys.Keys(ctx, tok.Issuer, prov.Thumbprints, tok.KID)
		}})
	if step, err := res.Err(); err != nil {
		return nil, log.deny(err, denyReason[step])
	}
	tags, transitive, sourceID, err := TokenSessionAttributes(tok)
	if err != nil {
		return nil, log.deny(awserr.New(awserr.CodeIDPRejectedClaim, http.StatusForbidden,
			"The web identity token has an invalid session tag or source identity claim.").Wrap(err),
			"session attributes rejected")
	}

	role, found, err := s.lookupRole(ctx, in.roleARN)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, log.deny(accessDenied(actionWebIdentity), "no such role in this account")
	}
	input := WebIdentityInput{
		Token: tok, ProviderURL: prov.URL, ProviderARN: providerARN, Audience: matchedAudience(tok, prov.ClientIDs),
		RoleARN: role.ARN, SessionName: in.sessionName, SourceIP: c.SourceIP, Secure: c.Secure, Now: now,
		Tags: tags, Transitive: transitive, SourceID: sourceID,
	}
	for _, req := range input.Requests() {
		if role.Trust.Evaluate(req) != policy.Allow {
			return nil, log.denyPolicy(accessDenied(actionWebIdentity), req.Action, role.Trust.Explain(req))
		}
	}
	sr, err := s.issue(ctx, log, in, role, creds.Session{
		SourceIdentity: sourceID, TransitiveTagKeys: transitive,
		ProviderARN: providerARN, Subject: tok.Subject, Audience: input.Audience, Issued: now,
	}, tags)
	if err != nil {
		return nil, err
	}
	return &WebIdentityResult{SessionResult: sr, SubjectFromWebIdentityToken: tok.Subject,
		Provider: providerARN, Audience: input.Audience}, nil
}

// denyReason is the decision log's reason for each failed verification step.
var denyReason = map[string]string{
	oidc.StepAudience:  "audience rejected",
	oidc.StepKeys:      "verification keys unavailable",
	oidc.StepSignature: "signature rejected",
	oidc.StepTime:      "token time rejected",
}

// matchedAudience is the client id the token was accepted for: azp when
// present (AWS then matches azp), else the first aud in the ClientIDList.
func matchedAudience(t *oidc.Token, clientIDs []string) string {
	if t.AZP != "" {
		for _, id := range clientIDs {
			if id == t.AZP {
				return t.AZP
			}
		}
	}
	for _, a := range t.Audience {
		for _, id := range clientIDs {
			if id == a {
				return a
			}
		}
	}
	if len(t.Audience) > 0 {
		return t.Audience[0]
	}
	return t.AZP
}

func credTags(tags []SessionTag) []creds.Tag {
	if len(tags) == 0 {
		return nil
	}
	out := make([]creds.Tag, len(tags))
	for i, t := range tags {
		out[i] = creds.Tag{Key: t.Key, Value: t.Value}
	}
	return out
}
