package awserr

import "net/http"

// Public messages of the store outcomes (awsquery.FromStore maps them), as
// IAM words them.
const (
	MsgServiceUnavailable = "Service is unavailable. Please try again later."
	MsgAlreadyExists      = "The entity already exists."
	MsgDeleteConflict     = "Cannot delete entity, entity is in use."
	MsgServiceFailure     = "The request processing has failed because of an unknown error, exception or failure."
	MsgInternalFailure    = "We encountered an internal error. Please try again."
)

// Unavailable is ServiceUnavailable (503) with cause kept for the log.
func Unavailable(cause error) *Error {
	return New(CodeServiceUnavailable, http.StatusServiceUnavailable, MsgServiceUnavailable).Wrap(cause)
}

// ServiceFailure is IAM's answer to an unexpected failure: ServiceFailure
// (500) with cause kept for the log.
func ServiceFailure(cause error) *Error {
	return New(CodeServiceFailure, http.StatusInternalServerError, MsgServiceFailure).Wrap(cause)
}
