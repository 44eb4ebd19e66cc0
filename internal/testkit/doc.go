// Package testkit is the one kit keyless's tests share: the store they run
// on (the real SQLite store in a temporary directory, which passes
// storetest), a settable clock, a fake OIDC provider (TLS discovery and
// JWKS; RSA keys generated ahead of use), a SigV4 signer for the admin and query
// APIs, and the UUID helper.
//
// Only tests import it. It owns no product behaviour: each helper stands in
// for the real thing a test would otherwise hand-roll (an in-memory store,
// a clock, a provider), so that every package's tests meet the same
// semantics.
package testkit
