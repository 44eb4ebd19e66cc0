// Package decision is the decision log: every STS decision (allowed or
// denied) and every denied signed call, kept with why — the token's claims,
// the policy engine's trace, the closest miss and a suggested fix.
//
// It owns the record type, the batched writer that takes records off the
// request path (a bounded queue that drops and counts rather than block a
// caller), retention (by age and by row count, pruned in the background),
// the JSON shape the admin API and CLI show, and the pagination cursor.
//
// It does not decide anything (sts and the server do, and hand it a Record),
// does not render AWS errors (the caller never sees what is logged here),
// and owns no SQL: it writes through the store contract's decision methods.
// A record never holds the raw token, its signature or any secret: only the
// decoded claims.
package decision
