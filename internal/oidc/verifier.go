package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/awserr"
)

// DefaultClockSkew is the tolerance on exp, nbf and iat that a Verifier
// applies unless configured otherwise: keyless's STS and `keyless explain`
// both use it.
const DefaultClockSkew = 5 * time.Minute

// Provider is the identity provider registered for a token's issuer.
type Provider struct {
	// URL is the issuer URL without "https://", as IAM registers it.
	URL         string
	ClientIDs   []string
	Thumbprints []string
}

// ErrNoProvider is what a ProviderSource returns (in the chain) when no
// provider is registered for the URL; Verify turns it into AWS's
// "No OpenIDConnect provider found in your account for <iss>".
var ErrNoProvider = errors.New("no OpenID Connect provider is registered for the issuer")

// ProviderSource looks up the provider registered for an issuer URL (without
// "https://"). Any error other than ErrNoProvider is returned by Verify as
// is, so it should already be AWS-shaped (e.g. ServiceUnavailable).
type ProviderSource interface {
	Provider(ctx context.Context, url string) (*Provider, error)
}

// KeySource returns the verification keys of an issuer. kid is the key the
// token asks for, so a source may refetch when it does not know it.
type KeySource interface {
	Keys(ctx context.Context, issuer string, thumbprints []string, kid string) (*jose.JSONWebKeySet, error)
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	Providers ProviderSource
	Keys      KeySource
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ClockSkew tolerated on exp, nbf and iat; default DefaultClockSkew.
	ClockSkew time.Duration
}

// Verifier is the one place a web-identity token is verified. Both the STS
// (AssumeRoleWithWebIdentity) and `keyless explain` call Verify, so they
// cannot disagree on what a token is worth.
type Verifier struct {
	providers ProviderSource
	keys      KeySource
	now       func() time.Time
	skew      time.Duration
}

// NewVerifier validates cfg and returns a Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	switch {
	case cfg.Providers == nil:
		return nil, errors.New("oidc: VerifierConfig.Providers is required")
	case cfg.Keys == nil:
		return nil, errors.New("oidc: VerifierConfig.Keys is required")
	case cfg.ClockSkew < 0:
		return nil, fmt.Errorf("oidc: negative clock skew %s", cfg.ClockSkew)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	return &Verifier{providers: cfg.Providers, keys: cfg.Keys, now: cfg.Now, skew: cfg.ClockSkew}, nil
}

// ClockSkew is the tolerance the verifier applies to the time claims.
func (v *Verifier) ClockSkew() time.Duration { return v.skew }

// Step names, in the order Verify runs them (AWS's order).
const (
	StepParse     = "parse"
	StepIssuer    = "issuer"
	StepAudience  = "audience"
	StepKeys      = "keys"
	StepSignature = "signature"
	StepTime      = "time"
)

var steps = [...]string{StepParse, StepIssuer, StepAudience, StepKeys, StepSignature, StepTime}

// stepIndex is step's position in steps, or -1.
func stepIndex(step string) int {
	for i, s := range steps {
		if s == step {
			return i
		}
	}
	return -1
}

// Trace records what Verify saw: the parsed (not necessarily verified)
// token, the provider, and each step that ran with its outcome. It is for
// the decision log and for `keyless explain`; never trust a token because
// of its trace.
type Trace struct {
	// Token is the parsed token, nil when parsing failed. It is verified
	// only when Verify returned nil.
	Token *Token
	// Provider is the provider found for the issuer, nil if none.
	Provider *Provider
	// ClientID is the client id the audience step matched; when that step
	// did not pass, the one AWS would match first (azp, else the first aud).
	ClientID string
	// At is the time the checks were made at.
	At time.Time

	ran  [len(steps)]bool
	errs [len(steps)]error
}

// Ran reports whether step ran.
func (tr *Trace) Ran(step string) bool {
	i := stepIndex(step)
	return i >= 0 && tr.ran[i]
}

// Err is step's error: nil when it passed or did not run.
func (tr *Trace) Err(step string) error {
	if i := stepIndex(step); i >= 0 {
		return tr.errs[i]
	}
	return nil
}

// Failed returns the first failed step in step order and its error.
func (tr *Trace) Failed() (step string, err error) {
	for i, e := range tr.errs {
		if e != nil {
			return steps[i], e
		}
	}
	return "", nil
}

// VerifyOption changes what Verify records or how far it goes; no option
// lets a failing check pass.
type VerifyOption func(*verifyOpts)

type verifyOpts struct {
	trace    *Trace
	allSteps bool
}

// WithTrace has Verify fill tr as it goes.
func WithTrace(tr *Trace) VerifyOption { return func(o *verifyOpts) { o.trace = tr } }

// AllSteps has Verify run every step it can even after one failed, so
// `keyless explain` can report each. Verify still returns the first
// failure. After a failed issuer lookup the audience step cannot run; keys
// are then fetched for an https issuer without thumbprints.
func AllSteps() VerifyOption { return func(o *verifyOpts) { o.allSteps = true } }

// Verify checks raw as AWS STS checks a web-identity token, in AWS's order:
// parse (strict compact JWS), issuer lookup (a provider registered for iss,
// which must be https), audience (aud or azp in the provider's ClientIDList),
// key selection from the issuer's key set, signature, and the time claims
// with the configured clock skew. By default it stops at the first failure,
// so a token for another audience never causes a key fetch.
//
// It returns the verified token, with Provider and ClientID set, or the
// AWS-shaped error of the first failed step.
func (v *Verifier) Verify(ctx context.Context, raw string, opts ...VerifyOption) (*Token, error) {
	var o verifyOpts
	for _, opt := range opts {
		opt(&o)
	}
	tr := o.trace
	if tr == nil {
		tr = new(Trace)
	}
	*tr = Trace{At: v.now()}
	var first error
	// record notes a step's outcome and reports whether Verify must stop.
	record := func(step string, err error) bool {
		i := stepIndex(step)
		tr.ran[i], tr.errs[i] = true, err
		if err != nil && first == nil {
			first = err
		}
		return err != nil && !o.allSteps
	}

	tok, err := Parse(raw)
	if record(StepParse, err) || err != nil { // nothing to check without a token
		return nil, first
	}
	tr.Token = tok
	tr.ClientID = likelyClientID(tok)

	url, isHTTPS := strings.CutPrefix(tok.Issuer, "https://")
	prov, err := v.provider(ctx, tok.Issuer, url, isHTTPS)
	if record(StepIssuer, err) {
		return nil, first
	}
	tr.Provider = prov

	if prov != nil {
		id, err := matchAudience(tok, prov.ClientIDs)
		if err == nil {
			tr.ClientID = id
		}
		if record(StepAudience, err) {
			return nil, first
		}
	}

	if isHTTPS {
		var thumbprints []string
		if prov != nil {
			thumbprints = prov.Thumbprints
		}
		keys, err := v.keys.Keys(ctx, tok.Issuer, thumbprints, tok.KID)
		if record(StepKeys, err) {
			return nil, first
		}
		if err == nil && record(StepSignature, tok.verify(keys)) {
			return nil, first
		}
	}

	if record(StepTime, tok.checkTime(tr.At, v.skew)) || first != nil {
		return nil, first
	}
	for i, ran := range tr.ran { // a verified token passed every step
		if !ran {
			return nil, invalid(fmt.Errorf("verification step %s did not run", steps[i]))
		}
	}
	tok.Provider, tok.ClientID = prov, tr.ClientID
	return tok, nil
}

// provider finds the provider registered for the token's issuer.
func (v *Verifier) provider(ctx context.Context, iss, url string, isHTTPS bool) (*Provider, error) {
	notFound := func() *awserr.Error {
		return awserr.New(awserr.CodeInvalidIdentityToken, http.StatusBadRequest,
			"No OpenIDConnect provider found in your account for "+iss)
	}
	if !isHTTPS {
		return nil, notFound().Wrap(fmt.Errorf("issuer %q is not https: %w", iss, ErrNoProvider))
	}
	p, err := v.providers.Provider(ctx, url)
	switch {
	case errors.Is(err, ErrNoProvider):
		return nil, notFound().Wrap(err)
	case err != nil:
		return nil, err
	case p == nil:
		return nil, notFound().Wrap(ErrNoProvider)
	}
	return p, nil
}

// matchAudience is AWS's audience rule against a provider's ClientIDList,
// and the only copy of it: a token without aud is refused with "Missing a
// required claim: aud"; otherwise azp, when in the list, is the matched
// client id, else the first aud in the list; none gives "Incorrect token
// audience".
func matchAudience(t *Token, clientIDs []string) (string, error) {
	if len(t.Audience) == 0 {
		return "", MissingClaim("aud")
	}
	if t.AZP != "" && slices.Contains(clientIDs, t.AZP) {
		return t.AZP, nil
	}
	for _, a := range t.Audience {
		if slices.Contains(clientIDs, a) {
			return a, nil
		}
	}
	return "", awserr.New(awserr.CodeInvalidIdentityToken, http.StatusBadRequest, MsgIncorrectAudience).
		Wrap(errors.New("no aud or azp value is in the client id list"))
}

// likelyClientID is the client id AWS would match first if it were
// registered: azp, else the first aud.
func likelyClientID(t *Token) string {
	if t.AZP != "" {
		return t.AZP
	}
	if len(t.Audience) > 0 {
		return t.Audience[0]
	}
	return ""
}
