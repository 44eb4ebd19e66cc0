// Package iam implements the AWS-compatible IAM actions keyless serves
// (query protocol, API version 2010-05-08): OIDC identity providers, roles
// with their trust policies and inline policies, and customer managed
// policies (with their versions and tags) attached to roles; of instance
// profiles, only the (always empty) list of a role's.
//
// Each action is an awsquery.Handler: it validates its parameters against
// the IAM service model (ValidationError in AWS's Coral wording, or
// InvalidInput where IAM itself answers), asks the call's Authorize hook
// whether the caller may perform it, and then reads or writes the store.
// Results are XML-tagged structs in the shapes the SDKs expect, with policy
// documents URL-encoded as AWS returns them.
//
// It does not decode or encode HTTP (package awsquery), authenticate callers
// (sigv4, creds), evaluate policies (policy; iam only validates documents
// with it) or persist anything itself (store). It declares the narrow store
// interface it needs.
package iam
