// Package audit analyses role trust policies for web identity federation and
// proves every finding: it searches for a concrete token (a witness claim
// set) that someone other than the legitimate owner could obtain from the CI
// provider, asks the policy evaluator (package policy) whether the trust
// policy admits it, and proposes the smallest policy change that the
// evaluator confirms denies the witness while still admitting every expected
// identity.
//
// It owns the provider claim profiles used for analysis (which claims a
// provider's tokens carry, which the workflow itself chooses, which name the
// tenant, the grammar of sub), the rules, witnesses and fixes. It does not
// read files, call IAM or mint tokens: package client loads roles and
// package cli renders reports and runs --prove. It is pure: it imports
// policy and ciclaims, no network, storage or AWS SDK code (a test enforces
// it).
package audit
