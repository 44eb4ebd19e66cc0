// Package awserr defines the one error type that crosses from the domain
// packages (iam, sts, sigv4, oidc, policy, creds) to the wire: an AWS error
// code, the HTTP status and the public message, kept apart from the internal
// detail that only the server log sees.
//
// It owns the error value and its constructors, and every error code and
// shared public message as a constant. It does not render errors nor map
// storage outcomes (it imports no storage code, as the pure policy package
// uses it): package awsquery does both, in one place each (WriteError,
// WriteJSONError, FromStore).
package awserr

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an AWS-shaped error. Code is the exact <Code> the SDKs map to a
// modeled exception; Message is what the caller sees; Err (optional) is the
// internal cause, logged but never sent.
type Error struct {
	Code    string
	Status  int
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Sender reports whether the fault is the caller's (4xx): AWS's <Type>Sender</Type>.
func (e *Error) Sender() bool { return e.Status < 500 }

// New returns an error with the given code, status and public message.
func New(code string, status int, msg string) *Error {
	return &Error{Code: code, Status: status, Message: msg}
}

// Newf is New with a formatted message.
func Newf(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches an internal cause to e and returns it (a copy, e is unchanged).
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// From returns the *Error in err's chain; any other error becomes an
// InternalFailure (500) whose cause is kept for the log.
func From(err error) *Error {
	if e := As(err); e != nil {
		return e
	}
	return &Error{Code: CodeInternalFailure, Status: http.StatusInternalServerError,
		Message: MsgInternalFailure, Err: err}
}

// The error codes keyless answers; no code is written as a string literal
// elsewhere. Messages follow AWS's wording.
const (
	CodeInternalFailure       = "InternalFailure"
	CodeInvalidParameterValue = "InvalidParameterValue"
	CodeMalformedQueryString  = "MalformedQueryString"
	CodeMissingAction         = "MissingAction"
	CodeValidation            = "ValidationError"
	CodeAccessDenied          = "AccessDenied"
	CodeInvalidIdentityToken  = "InvalidIdentityToken"
	CodeExpiredTokenException = "ExpiredTokenException"
	CodeIDPRejectedClaim      = "IDPRejectedClaim"
	CodeIDPCommunicationError = "IDPCommunicationError"
	CodeMalformedPolicy       = "MalformedPolicyDocument"
	CodePackedPolicyTooLarge  = "PackedPolicyTooLarge"
	CodeLimitExceeded         = "LimitExceeded"
	CodeNoSuchEntity          = "NoSuchEntity"
	CodeEntityAlreadyExists   = "EntityAlreadyExists"
	CodeDeleteConflict        = "DeleteConflict"
	CodeInvalidInput          = "InvalidInput"
	CodeServiceFailure        = "ServiceFailure"
	CodeServiceUnavailable    = "ServiceUnavailable"
	CodeInvalidAction         = "InvalidAction"
	CodeMissingAuth           = "MissingAuthenticationToken"
	CodeIncompleteSignature   = "IncompleteSignature"
	CodeInvalidClientTokenID  = "InvalidClientTokenId"
	CodeSignatureDoesNotMatch = "SignatureDoesNotMatch"
	CodeExpiredToken          = "ExpiredToken"

	// Codes of keyless's own JSON admin API and HTTP endpoints.
	CodeNotFound              = "NotFound"
	CodeMethodNotAllowed      = "MethodNotAllowed"
	CodeRequestEntityTooLarge = "RequestEntityTooLarge"
)
