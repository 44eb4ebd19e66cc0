package oidc

// MaxTokenLen is the longest token accepted, AWS's WebIdentityToken limit.
const MaxTokenLen = 20000

// Token is a web-identity token. Parse fills the claim fields of an
// unverified token; nothing in it may be trusted unless it came from
// Verifier.Verify, which also sets Provider and ClientID.
type Token struct {
	Raw string

	// Alg and KID come from the protected header.
	Alg, KID string

	Issuer, Subject, AZP string
	// Audience holds aud whether it was a string or an array.
	Audience []string

	Expiry, NotBefore, IssuedAt int64
	HasNotBefore, HasIssuedAt   bool

	// ClaimsJSON is the decoded payload: every claim exactly as the token
	// carried it (a valid JSON object with no duplicate member). Claim and
	// Claims decode it.
	ClaimsJSON []byte
	members    []member // the members of ClaimsJSON, indexed by Parse
	text       string   // ClaimsJSON as a string: claims read as strings are substrings of it

	// Provider is the provider the token was verified against and ClientID
	// the client id its aud or azp matched; both are set by Verifier.Verify.
	Provider *Provider
	ClientID string

	signingInput string // header "." payload, exactly as received
	sig          []byte
}
