package oidc

import (
	"context"
	"errors"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DefaultClockSkew is the tolerance on exp, nbf and iat that keyless's STS
// applies; `keyless explain` applies the same through Check.
const DefaultClockSkew = 5 * time.Minute

// Checks are the verifications an exchange runs on a parsed token once its
// provider is known: audience against the provider's client ids, signature
// against the issuer's keys, then the time claims with clock skew. The
// server and `keyless explain` both run them through Token.Check, so they
// cannot disagree on what a token is worth.
type Checks struct {
	// ClientIDs is the provider's ClientIDList.
	ClientIDs []string
	// AudienceUnknown skips the audience step (explain without IAM access).
	AudienceUnknown bool
	// Keys returns the issuer's key set; nil skips the signature step.
	// Its error is reported as Result.Keys, apart from a bad signature.
	Keys func(ctx context.Context) (*jose.JSONWebKeySet, error)
	// Now is the time of the decision; Skew defaults to DefaultClockSkew.
	Now  time.Time
	Skew time.Duration
	// All runs every step even after one fails (explain reports each); by
	// default Check stops at the first failure, as the server does, so a
	// token for another audience never causes a key fetch.
	All bool
}

// Step names, in the order Check runs them.
const (
	StepAudience  = "audience"
	StepKeys      = "keys"
	StepSignature = "signature"
	StepTime      = "time"
)

// Result holds each step's outcome: nil when it passed or did not run
// (Ran says which).
type Result struct {
	Audience, Keys, Signature, Time error
	Ran                             map[string]bool
}

// Err is the first failure in step order, with its step name.
func (r Result) Err() (step string, err error) {
	for _, s := range []struct {
		name string
		err  error
	}{{StepAudience, r.Audience}, {StepKeys, r.Keys}, {StepSignature, r.Signature}, {StepTime, r.Time}} {
		if s.err != nil {
			return s.name, s.err
		}
	}
	return "", nil
}

// Check runs the verification steps of c on t.
func (t *Token) Check(ctx context.Context, c Checks) Result {
	if c.Skew == 0 {
		c.Skew = DefaultClockSkew
	}
	r := Result{Ran: map[string]bool{}}
	stop := func(err error) bool { return err != nil && !c.All }
	if !c.AudienceUnknown {
		r.Ran[StepAudience] = true
		if r.Audience = t.CheckAudience(c.ClientIDs); stop(r.Audience) {
			return r
		}
	}
	if c.Keys != nil {
		r.Ran[StepKeys] = true
		keys, err := c.Keys(ctx)
		if err == nil && keys == nil {
			err = errors.New("no key set")
		}
		r.Keys = err
		if stop(err) {
			return r
		}
		if err == nil {
			r.Ran[StepSignature] = true
			if r.Signature = t.Verify(keys); stop(r.Signature) {
				return r
			}
		}
	}
	r.Ran[StepTime] = true
	r.Time = t.CheckTime(c.Now, c.Skew)
	return r
}
