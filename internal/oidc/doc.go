// Package oidc verifies OpenID Connect web-identity tokens the way AWS STS
// does for AssumeRoleWithWebIdentity, and fetches and caches the remote key
// sets (discovery document → jwks_uri → JWKS) of external identity providers.
//
// It owns: strict parsing of compact JWS tokens (Parse), signature
// verification against one provider's own key set (Token.Verify), time checks
// (Token.CheckTime), key-set validation (ParseKeySet), and the HTTPS key
// fetcher with its per-issuer cache, refetch rate limit, merged concurrent
// fetches, stale-if-error and SHA-1 thumbprint trust (Fetcher).
//
// It does not own: which providers are registered, the audience policy
// against a provider's ClientIDList, keys of issuers hosted in-process (the
// issuer package serves those), or trust-policy evaluation (package policy).
// It never reads environment variables or files; trust roots come in through
// FetcherConfig.
//
// Every error meant for the caller is an *awserr.Error with AWS's code and
// message; the internal cause is wrapped for the log only.
package oidc
