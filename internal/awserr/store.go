package awserr

import (
	"errors"
	"net/http"

	"github.com/keylessci/keyless/internal/store"
)

// Public messages of the store outcomes, as IAM words them.
const (
	MsgServiceUnavailable = "Service is unavailable. Please try again later."
	MsgAlreadyExists      = "The entity already exists."
	MsgDeleteConflict     = "Cannot delete entity, entity is in use."
	MsgServiceFailure     = "The request processing has failed because of an unknown error, exception or failure."
	MsgInternalFailure    = "We encountered an internal error. Please try again."
)

// StoreMessages are the public messages a call gives for the store outcomes
// whose wording depends on the entity (AWS names it: "The role with name x
// cannot be found."). Empty fields take the generic message.
type StoreMessages struct {
	NotFound      string // default "The entity cannot be found."
	AlreadyExists string // default MsgAlreadyExists
}

// FromStore is the one mapping of a storage error to the error the caller
// sees; the store's error stays in the chain for the log:
//
//   - an *Error in the chain: unchanged;
//   - store.ErrNotFound: NoSuchEntity (404) with m.NotFound;
//   - store.ErrAlreadyExists: EntityAlreadyExists (409) with m.AlreadyExists;
//   - store.ErrConflict: DeleteConflict (409);
//   - store.ErrUnavailable: ServiceUnavailable (503).
//
// Any other error (and nil) is returned unchanged: IAM answers it with
// ServiceFailure, the rest with InternalFailure (From).
func FromStore(err error, m StoreMessages) error {
	switch {
	case err == nil || As(err) != nil:
		return err
	case errors.Is(err, store.ErrNotFound):
		if m.NotFound == "" {
			m.NotFound = "The entity cannot be found."
		}
		return New(CodeNoSuchEntity, http.StatusNotFound, m.NotFound).Wrap(err)
	case errors.Is(err, store.ErrAlreadyExists):
		if m.AlreadyExists == "" {
			m.AlreadyExists = MsgAlreadyExists
		}
		return New(CodeEntityAlreadyExists, http.StatusConflict, m.AlreadyExists).Wrap(err)
	case errors.Is(err, store.ErrConflict):
		return New(CodeDeleteConflict, http.StatusConflict, MsgDeleteConflict).Wrap(err)
	}
	return FromStoreOutage(err)
}

// FromStoreOutage maps only a store outage (store.ErrUnavailable) to
// ServiceUnavailable and returns any other error unchanged: for callers
// that answer a missing entity their own way (STS does not reveal whether
// a role exists).
func FromStoreOutage(err error) error {
	if As(err) == nil && errors.Is(err, store.ErrUnavailable) {
		return Unavailable(err)
	}
	return err
}

// Unavailable is ServiceUnavailable (503) with cause kept for the log.
func Unavailable(cause error) *Error {
	return New(CodeServiceUnavailable, http.StatusServiceUnavailable, MsgServiceUnavailable).Wrap(cause)
}

// ServiceFailure is IAM's answer to an unexpected failure: ServiceFailure
// (500) with cause kept for the log.
func ServiceFailure(cause error) *Error {
	return New(CodeServiceFailure, http.StatusInternalServerError, MsgServiceFailure).Wrap(cause)
}
