// Package awsquery is the AWS query protocol as IAM (2010-05-08) and STS
// (2011-06-15) speak it: decoding a form-encoded request (POST body or GET
// query) into typed accessors for flat values, `.member.N` lists and lists
// of structures; collecting model-constraint violations into AWS's Coral
// "N validation errors detected" message; and writing the XML envelopes.
//
// WriteError and its JSON twin WriteJSONError (admin API, issuer
// documents) are the only places in keyless where an error becomes an HTTP
// response body: they render *awserr.Error as AWS's ErrorResponse (or
// {"code", "message"}) and turn anything else into an InternalFailure
// without leaking its text. FromStore is the one mapping of a storage
// outcome (not found, exists, conflict, outage) to the AWS error a caller
// sees.
//
// It does not authenticate (package sigv4) and knows no actions (packages
// iam and sts).
package awsquery
