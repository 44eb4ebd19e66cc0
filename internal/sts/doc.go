// Package sts implements the AWS Security Token Service actions keyless
// serves (query protocol 2011-06-15):
//
//	AssumeRoleWithWebIdentity  unsigned; token verified by oidc.Verifier
//	                           (provider, audience, keys, signature, time)
//	                           → trust policy → credentials
//	AssumeRole                 signed; trust policy combined with the
//	                           caller's identity and session policies;
//	                           role chaining capped at one hour
//	GetCallerIdentity          signed; never denied
//	GetAccessKeyInfo           signed; sts:GetAccessKeyInfo; this account
//
// Every AssumeRole* decision is logged with the request id, role, provider,
// subject and verdict; a denial also logs the policy engine's trace. The
// same decision, with the token's claims, goes to the decision log through
// Config.Decisions (package decision). The caller only ever sees AWS's
// "Not authorized to perform …" message.
//
// It does not verify SigV4 (the server does, and hands over a Caller), nor
// tokens itself (oidc.Verifier does), does not fetch keys (a KeySource
// does) and does not store sessions:
// credentials are sealed, self-describing tokens (package creds).
package sts
