// Package oidc verifies OpenID Connect web-identity tokens the way AWS STS
// does for AssumeRoleWithWebIdentity, and fetches and caches the remote key
// sets (discovery document → jwks_uri → JWKS) of external identity providers.
//
// It owns the one token-verification entry point, Verifier.Verify: strict
// parsing of compact JWS tokens, issuer lookup, AWS's audience rule against
// the provider's ClientIDList, key selection from the issuer's own key set,
// signature and time checks with clock skew, in AWS's order. Nothing else in
// the module checks a token's signature or time claims; a test
// (TestOneVerificationPath) enforces it. It also owns key-set validation
// (ParseKeySet) and the HTTPS key fetcher with its per-issuer cache, refetch
// rate limit, merged concurrent fetches, stale-if-error and SHA-1 thumbprint
// trust (Fetcher). Parse alone decodes a token without verifying it, for
// display.
//
// It does not own: which providers are registered (a ProviderSource says),
// keys of issuers hosted in-process (the issuer package serves those), or
// trust-policy evaluation (package policy).
// It never reads environment variables or files; trust roots come in through
// FetcherConfig.
//
// Every error meant for the caller is an *awserr.Error with AWS's code and
// message; the internal cause is wrapped for the log only.
package oidc
