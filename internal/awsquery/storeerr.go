package awsquery

import (
	"errors"
	"net/http"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/store"
)

// The store→AWS mapping lives here rather than in awserr so that awserr,
// which the pure policy package uses, depends on no storage code.

// StoreMessages are the public messages a call gives for the store outcomes
// whose wording depends on the entity (AWS names it: "The role with name x
// cannot be found."). Empty fields take the generic message.
type StoreMessages struct {
	NotFound      string // default "The entity cannot be found."
	AlreadyExists string // default awserr.MsgAlreadyExists
}

// FromStore is the one mapping of a storage error to the error the caller
// sees; the store's error stays in the chain for the log:
//
//   - an *awserr.Error in the chain: unchanged;
//   - store.ErrNotFound: NoSuchEntity (404) with m.NotFound;
//   - store.ErrAlreadyExists: EntityAlreadyExists (409) with m.AlreadyExists;
//   - store.ErrConflict: DeleteConflict (409);
//   - store.ErrUnavailable: ServiceUnavailable (503).
//
// Any other error (and nil) is returned unchanged: IAM answers it with
// ServiceFailure, the rest with InternalFailure (awserr.From).
func FromStore(err error, m StoreMessages) error {
	switch {
	case err == nil || awserr.As(err) != nil:
		return err
	case errors.Is(err, store.ErrNotFound):
		if m.NotFound == "" {
			m.NotFound = "The entity cannot be found."
		}
		return awserr.New(awserr.CodeNoSuchEntity, http.StatusNotFound, m.NotFound).Wrap(err)
	case errors.Is(err, store.ErrAlreadyExists):
		if m.AlreadyExists == "" {
			m.AlreadyExists = awserr.MsgAlreadyExists
		}
		return awserr.New(awserr.CodeEntityAlreadyExists, http.StatusConflict, m.AlreadyExists).Wrap(err)
	case errors.Is(err, store.ErrConflict):
		return awserr.New(awserr.CodeDeleteConflict, http.StatusConflict, awserr.MsgDeleteConflict).Wrap(err)
	}
	return FromStoreOutage(err)
}

// FromStoreOutage maps only a store outage (store.ErrUnavailable) to
// ServiceUnavailable and returns any other error unchanged: for callers
// that answer a missing entity their own way (STS does not reveal whether
// a role exists).
func FromStoreOutage(err error) error {
	if awserr.As(err) == nil && errors.Is(err, store.ErrUnavailable) {
		return awserr.Unavailable(err)
	}
	return err
}
