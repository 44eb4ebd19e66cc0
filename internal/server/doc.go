// Package server is the composition root of `keyless serve`: it opens the
// store, loads or creates the server secrets (root credentials, the key
// that seals signing keys and session tokens), wires iam, sts, issuer,
// directory and oidc together, and serves one listener:
//
//	POST /, GET /?Action=…           AWS query API (IAM 2010-05-08, STS 2011-06-15)
//	GET  <issuer path>/.well-known/… discovery documents and JWKS of hosted issuers
//	     /_keyless/issuers…          admin API (SigV4: root, or credentials policy allows)
//	GET  /_keyless/decisions[/{id}]  the decision log (keyless:ListDecisions, keyless:GetDecision)
//	     /_keyless/console/…         the web console (package console; sign-in keyless:ConsoleLogin)
//	GET  /_keyless/health            200 when the store answers
//	GET  /metrics                    Prometheus metrics
//
// The request path is: decode (awsquery) → authenticate (sigv4 + creds) →
// validate (the action's Prepare) → authorize (policy) → the action's work
// (iam/sts) → store → encode. Every signed IAM and admin call is authorized
// in one function, authenticator.authorize: the query API reaches it
// through awsquery.Action.Serve, which runs it between an action's
// validation and its work, per the iam/sts action tables; the admin API
// through adminAPI.serve, per its route table (issuer.AdminRoutes and the
// runner routes, routed by issuer.AdminMux). Errors become responses only
// in awsquery.WriteError. Logs are JSON (slog), one request id per call;
// tokens and secrets are never logged. Every STS decision and every refused
// signed call also goes to the decision log (package decision), whose
// writer runs beside the listener and is flushed after it shuts down.
//
// It is one of the two places (with cmd/) that read the environment and
// files.
package server
