package sts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/directory"
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

// AppendXML implements awsquery.XMLAppender: every exchange's response is
// written without reflection.
func (r *WebIdentityResult) AppendXML(b []byte) []byte {
	b = r.appendSession(b)
	b = awsquery.AppendElement(b, "SubjectFromWebIdentityToken", r.SubjectFromWebIdentityToken)
	b = awsquery.AppendElement(b, "Provider", r.Provider)
	return awsquery.AppendElement(b, "Audience", r.Audience)
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
	log := s.newDecision(c, "AssumeRoleWithWebIdentity", in.roleARN)
	input, role, err := s.decideWebIdentity(ctx, log, c, in, token)
	if err != nil {
		return nil, err
	}
	sr, err := s.issue(ctx, log, in, role, creds.Session{
		SourceIdentity: input.SourceID, TransitiveTagKeys: input.Transitive, ProviderARN: input.ProviderARN,
		Subject: input.Token.Subject, Audience: input.Audience, Issued: input.Now,
	}, input.Tags)
	if err != nil {
		return nil, err
	}
	return &WebIdentityResult{SessionResult: sr, SubjectFromWebIdentityToken: input.Token.Subject,
		Provider: input.ProviderARN, Audience: input.Audience}, nil
}

// decideWebIdentity is the trust decision of AssumeRoleWithWebIdentity, the
// one place it is made: it verifies token, looks up the role and evaluates
// its trust policy for every request the token makes (WebIdentityInput).
// A denial is logged (log.deny) and returned as the error AWS answers; an
// error of ours (the store) is returned unlogged. SimulateWebIdentity
// decides through here too.
func (s *Service) decideWebIdentity(ctx context.Context, log *decision, c *awsquery.Call, in common, token string) (WebIdentityInput, *directory.Role, error) {
	// The token first: AWS answers token problems before looking at the role.
	// Surrounding whitespace is dropped: token files are commonly written with
	// `echo`, and the SDKs send the trailing newline along.
	var tr oidc.Trace
	tok, err := s.verifier.Verify(ctx, strings.TrimSpace(token), oidc.WithTrace(&tr))
	if tr.Token != nil {
		log.token(tr.Token)
	}
	if tr.Provider != nil {
		log.provider(arn.OIDCProvider(s.account, tr.Provider.URL))
	}
	if err != nil {
		step, _ := tr.Failed()
		if step == oidc.StepIssuer && !errors.Is(err, oidc.ErrNoProvider) {
			return WebIdentityInput{}, nil, err // the store failed, not the token
		}
		return WebIdentityInput{}, nil, log.deny(err, denyReason[step])
	}
	now := tr.At // the time the token was checked at decides the whole call
	providerARN := arn.OIDCProvider(s.account, tok.Provider.URL)
	tags, transitive, sourceID, err := TokenSessionAttributes(tok)
	if err != nil {
		return WebIdentityInput{}, nil, log.deny(awserr.New(awserr.CodeIDPRejectedClaim, http.StatusForbidden,
			"The web identity token has an invalid session tag or source identity claim.").Wrap(err),
			"session attributes rejected")
	}

	role, found, err := s.lookupRole(ctx, in.roleARN)
	if err != nil {
		return WebIdentityInput{}, nil, err
	}
	if !found {
		return WebIdentityInput{}, nil, log.deny(accessDenied(actionWebIdentity), "no such role in this account")
	}
	input := WebIdentityInput{
		Token: tok, ProviderURL: tok.Provider.URL, ProviderARN: providerARN, Audience: tok.ClientID,
		RoleARN: role.ARN, SessionName: in.sessionName, SourceIP: c.SourceIP, Secure: c.Secure, Now: now,
		Tags: tags, Transitive: transitive, SourceID: sourceID,
	}
	for _, req := range input.Requests() {
		if role.Trust.Evaluate(req) != policy.Allow {
			return WebIdentityInput{}, nil, log.denyPolicy(accessDenied(actionWebIdentity), req.Action, role.Trust.Explain(req))
		}
	}
	return input, role, nil
}

// denyReason is the decision log's reason for each failed verification step.
var denyReason = map[string]string{
	oidc.StepParse:     "token rejected",
	oidc.StepIssuer:    "issuer not registered",
	oidc.StepAudience:  "audience rejected",
	oidc.StepKeys:      "verification keys unavailable",
	oidc.StepSignature: "signature rejected",
	oidc.StepTime:      "token time rejected",
}

// providers is the verifier's view of the directory's OIDC providers.
type providers struct{ dir Directory }

func (p providers) Provider(ctx context.Context, url string) (*oidc.Provider, error) {
	prov, err := p.dir.Provider(ctx, url)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", oidc.ErrNoProvider, err)
	}
	if err != nil {
		return nil, awsquery.FromStoreOutage(err)
	}
	return &oidc.Provider{URL: prov.URL, ClientIDs: prov.ClientIDs, Thumbprints: prov.Thumbprints}, nil
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
