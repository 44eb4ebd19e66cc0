// Package iam implements the AWS-compatible IAM actions keyless serves
// (query protocol, API version 2010-05-08): OIDC identity providers, roles
// with their trust policies and inline policies, and customer managed
// policies (with their versions and tags) attached to roles; of instance
// profiles, only the (always empty) list of a role's.
//
// Each action is an entry of the table Actions returns, authorized as
// iam:<Name>: its awsquery.Prepare validates the parameters against the IAM
// service model (ValidationError in AWS's Coral wording, or InvalidInput
// where IAM itself answers) and names the resource; only once the caller of
// awsquery.Action.Serve has authorized that does the work it returned read
// or write the store. No action authorizes itself.
// Results are XML-tagged structs in the shapes the SDKs expect, with policy
// documents URL-encoded as AWS returns them.
//
// It does not decode or encode HTTP (package awsquery), authenticate callers
// (sigv4, creds), evaluate policies (policy; iam only validates documents
// with it) or persist anything itself (store). It declares the narrow store
// interface it needs.
package iam
