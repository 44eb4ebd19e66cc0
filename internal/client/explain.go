package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/sts"
)

// ExplainInput is what `keyless explain` evaluates.
type ExplainInput struct {
	RoleARN string
	// TrustPolicy, when set, is used instead of reading the role (GetRole).
	TrustPolicy string
	Token       string
	SessionName string // default "keyless-explain"
}

// Check statuses.
const (
	CheckOK      = "ok"
	CheckFail    = "fail"
	CheckSkipped = "skipped"
)

// Check is one thing AWS verifies before or besides the trust policy.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// Report is explain's answer.
type Report struct {
	Verdict string          `json:"verdict"` // "allow" | "deny"
	Issuer  string          `json:"issuer"`
	Subject string          `json:"subject"`
	Aud     []string        `json:"audience"`
	Checks  []Check         `json:"checks"`
	Traces  []*policy.Trace `json:"traces,omitempty"`
	Fix     []string        `json:"fix,omitempty"`
}

// Explain evaluates the token against the role exactly as the server does
// (sts.WebIdentityInput) and reports every check with a concrete fix. An
// error means explain could not evaluate at all (bad token, unreadable role).
func (c *Client) Explain(ctx context.Context, in ExplainInput) (*Report, error) {
	role, err := arn.Parse(in.RoleARN)
	if err != nil || role.Service != "iam" || !strings.HasPrefix(role.Resource, "role/") {
		return nil, fmt.Errorf("--role-arn %q is not a role ARN", in.RoleARN)
	}
	// The token is verified as the server verifies it (oidc.Verifier, clock
	// skew included), running every step so each can be reported.
	var source string // where the keys came from
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Providers: iamProviders{c, role.Account},
		Keys: explainKeys{c, &source}, Now: c.cfg.Now, ClockSkew: c.cfg.ClockSkew})
	if err != nil {
		return nil, err
	}
	var tr oidc.Trace
	_, verr := v.Verify(ctx, in.Token, oidc.WithTrace(&tr), oidc.AllSteps())
	tok := tr.Token
	if tok == nil {
		return nil, fmt.Errorf("token is not a valid JWT AWS would accept: %w", verr)
	}
	now := tr.At
	r := &Report{Issuer: tok.Issuer, Subject: tok.Subject, Aud: tok.Audience}
	add := func(name, status, format string, args ...any) {
		r.Checks = append(r.Checks, Check{Name: name, Status: status, Detail: fmt.Sprintf(format, args...)})
	}
	doc := in.TrustPolicy
	if doc == "" {
		out, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName(role.Resource))})
		if err != nil {
			return nil, fmt.Errorf("read role %s (or pass --trust-policy-file): %w", in.RoleARN, err)
		}
		if doc, err = url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument)); err != nil {
			return nil, fmt.Errorf("decode trust policy of %s: %w", in.RoleARN, err)
		}
	}
	trust, err := policy.Parse(doc, policy.Trust)
	if err != nil {
		if hint := policyHint(doc); hint != "" {
			return nil, fmt.Errorf("parse trust policy: %w (at %s)", err, hint)
		}
		return nil, fmt.Errorf("parse trust policy: %w", err)
	}

	provURL, isHTTPS := strings.CutPrefix(tok.Issuer, "https://")
	providerARN := arn.OIDCProvider(role.Account, provURL)
	audience := tr.ClientID
	var ids []string
	switch provErr := tr.Err(oidc.StepIssuer); {
	case !isHTTPS:
		add("provider", CheckFail, "iss %q is not an https URL; AWS accepts only https issuers", tok.Issuer)
		r.Fix = append(r.Fix, "issue tokens from an https:// issuer URL")
	case errors.Is(provErr, oidc.ErrNoProvider):
		add("provider", CheckFail, "no OIDC provider %s is registered for iss %s", providerARN, tok.Issuer)
		r.Fix = append(r.Fix, fmt.Sprintf("register the provider: aws iam create-open-id-connect-provider --url %s --client-id-list %s (or keyless setup)",
			tok.Issuer, strings.Join(tok.Audience, ",")))
	case provErr != nil:
		add("provider", CheckSkipped, "could not list OIDC providers (%v); not checked", provErr)
		add("audience", CheckSkipped, "client id list unknown; not checked")
	default:
		ids = tr.Provider.ClientIDs
		add("provider", CheckOK, "%s is registered (client ids %s)", providerARN, strings.Join(ids, ", "))
	}
	if tr.Ran(oidc.StepAudience) {
		if tr.Err(oidc.StepAudience) != nil {
			add("audience", CheckFail, "token aud %q (azp %q) is not in the client id list %q", tok.Audience, tok.AZP, ids)
			r.Fix = append(r.Fix, fmt.Sprintf("add the token's audience to the provider: aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn %s --client-id %s",
				providerARN, audience))
		} else {
			add("audience", CheckOK, "%q is in the client id list", audience)
		}
	}
	exp := time.Unix(tok.Expiry, 0).UTC()
	skew := v.ClockSkew()
	if err := tr.Err(oidc.StepTime); err != nil {
		add("expiry", CheckFail, "%v (exp %s, now %s, clock skew allowed %s)", err, exp.Format(time.RFC3339), now.UTC().Format(time.RFC3339), skew)
		r.Fix = append(r.Fix, "use a fresh token: CI tokens live one hour (CircleCI) or less")
	} else if left := exp.Sub(now); left > 0 {
		add("expiry", CheckOK, "valid until %s (%s left)", exp.Format(time.RFC3339), left.Round(time.Second))
	} else {
		add("expiry", CheckOK, "expired at %s, %s ago, but within the %s clock skew the server allows", exp.Format(time.RFC3339), (-left).Round(time.Second), skew)
	}
	switch {
	case !tr.Ran(oidc.StepKeys):
		add("signature", CheckSkipped, "the issuer is not https, so its keys were not fetched")
	case tr.Err(oidc.StepKeys) != nil:
		add("signature", CheckSkipped, "the issuer's JWKS is not reachable from here, so the signature was not checked (%v)", tr.Err(oidc.StepKeys))
	case tr.Err(oidc.StepSignature) != nil:
		add("signature", CheckFail, "signature does not verify against %s: %v", source, tr.Err(oidc.StepSignature))
	default:
		add("signature", CheckOK, "verified with %s", source)
	}

	tags, transitive, sourceID, err := sts.TokenSessionAttributes(tok)
	if err != nil {
		add("session attributes", CheckFail, "%v", err)
	}
	name := in.SessionName
	if name == "" {
		name = "keyless-explain"
	}
	input := sts.WebIdentityInput{
		Token: tok, ProviderURL: provURL, ProviderARN: providerARN, Audience: audience, RoleARN: in.RoleARN,
		SessionName: name, Now: now, Tags: tags, Transitive: transitive, SourceID: sourceID,
	}
	policyOK := true
	for _, req := range input.Requests() {
		tr := trust.Explain(req)
		r.Traces = append(r.Traces, tr)
		if tr.Decision != policy.Allow {
			policyOK = false
			detail := fmt.Sprintf("%s: %s", req.Action, tr.Deciding)
			if tr.ClosestMiss != "" {
				detail += "; closest miss (" + tr.ClosestStatement + "): " + tr.ClosestMiss
				r.Fix = append(r.Fix, "the trust policy does not match this token: "+tr.ClosestMiss+
					"; widen the condition in "+tr.ClosestStatement+" or run the job that policy names")
			} else if tr.Decision == policy.ExplicitDeny {
				r.Fix = append(r.Fix, "an explicit Deny matches ("+tr.Deciding+"); remove or narrow it")
			} else {
				r.Fix = append(r.Fix, fmt.Sprintf("no statement allows %s for principal %s; add one with Principal {\"Federated\": %q}", req.Action, providerARN, providerARN))
			}
			add("trust policy", CheckFail, "%s", detail)
		} else {
			add("trust policy", CheckOK, "%s: %s", req.Action, tr.Deciding)
		}
	}
	r.Verdict = "allow"
	for _, ch := range r.Checks {
		if ch.Status == CheckFail {
			r.Verdict = "deny"
		}
	}
	if !policyOK {
		r.Verdict = "deny"
	}
	return r, nil
}

// iamProviders is the verifier's view of the account's OIDC providers,
// read through IAM.
type iamProviders struct {
	c       *Client
	account string
}

func (p iamProviders) Provider(ctx context.Context, url string) (*oidc.Provider, error) {
	providerARN := arn.OIDCProvider(p.account, url)
	if p.c.cfg.Credentials == nil {
		return nil, errNoCredentials
	}
	list, err := p.c.iam.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		return nil, err
	}
	for _, e := range list.OpenIDConnectProviderList {
		if aws.ToString(e.Arn) != providerARN {
			continue
		}
		out, err := p.c.iam.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: e.Arn})
		if err != nil {
			return nil, err
		}
		return &oidc.Provider{URL: url, ClientIDs: out.ClientIDList, Thumbprints: out.ThumbprintList}, nil
	}
	return nil, fmt.Errorf("%s: %w", providerARN, oidc.ErrNoProvider)
}

// explainKeys looks the token's keys up first at the configured endpoint
// when it hosts the issuer (a keyless server), then at the issuer itself.
// *source is set to a description of where they came from.
type explainKeys struct {
	c      *Client
	source *string
}

func (k explainKeys) Keys(ctx context.Context, issuer string, thumbprints []string, kid string) (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var errs []error
	if ep := k.c.cfg.STSEndpoint; ep != "" {
		keys, err := k.c.hostedKeys(ctx, ep, issuer)
		if err == nil {
			*k.source = fmt.Sprintf("the keys %s publishes for %s", ep, issuer)
			return keys, nil
		}
		errs = append(errs, err)
	}
	f := oidc.NewFetcher(oidc.FetcherConfig{Timeout: 5 * time.Second, Now: k.c.cfg.Now})
	keys, err := f.Keys(ctx, issuer, thumbprints, kid)
	if err == nil {
		*k.source = issuer + "'s published keys"
		return keys, nil
	}
	return nil, errors.Join(append(errs, err)...)
}

// hostedKeys reads the issuer's key set from a keyless endpoint, which
// serves hosted issuers under <endpoint><issuer path>/.well-known/.
func (c *Client) hostedKeys(ctx context.Context, endpoint, issuer string) (*jose.JSONWebKeySet, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(endpoint, "/") + strings.TrimRight(u.Path, "/")
	body, err := c.get(ctx, base+"/.well-known/openid-configuration")
	if err != nil {
		return nil, err
	}
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &disc); err != nil || disc.Issuer != issuer {
		return nil, fmt.Errorf("%s does not host issuer %s", endpoint, issuer)
	}
	jwksURL := disc.JWKSURI
	if rest, ok := strings.CutPrefix(jwksURL, strings.TrimRight(issuer, "/")); ok {
		jwksURL = base + rest
	}
	body, err = c.get(ctx, jwksURL)
	if err != nil {
		return nil, err
	}
	return oidc.ParseKeySet(body)
}

func (c *Client) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

func roleName(resource string) string {
	return resource[strings.LastIndex(resource, "/")+1:]
}
