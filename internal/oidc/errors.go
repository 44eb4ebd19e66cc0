package oidc

import (
	"errors"
	"net/http"

	"github.com/keylessci/keyless/internal/awserr"
)

// Public messages, worded as AWS STS words them.
const (
	// MsgInvalidToken is the generic message for a token that fails parsing
	// or verification.
	MsgInvalidToken = "The web identity token provided could not be validated"
	// MsgKeyRetrieval is AWS's message for every key-retrieval failure
	// (unreachable, slow, malformed, unknown kid). The two spaces after the
	// comma are AWS's.
	MsgKeyRetrieval = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
	// MsgThumbprint is AWS's message when the provider's TLS certificate is
	// neither trusted nor matches a configured thumbprint.
	MsgThumbprint = "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint"
	// MsgIncorrectAudience is AWS's message when no aud/azp is in the
	// provider's ClientIDList.
	MsgIncorrectAudience = "Incorrect token audience"
)

// ErrUnknownKID is in the chain of Verify's key-retrieval error when the key set
// has no key for the token's kid; the caller may refetch the set once.
var ErrUnknownKID = errors.New("no key for the token's kid in the key set")

var (
	errInvalid      = awserr.New(awserr.CodeInvalidIdentityToken, http.StatusBadRequest, MsgInvalidToken)
	errKeyRetrieval = awserr.New(awserr.CodeInvalidIdentityToken, http.StatusBadRequest, MsgKeyRetrieval)
)

// invalid returns the generic InvalidIdentityToken error with cause attached.
func invalid(cause error) error { return errInvalid.Wrap(cause) }

// MissingClaim returns AWS's error for a token lacking a required claim,
// e.g. MissingClaim("aud") → "Missing a required claim: aud".
func MissingClaim(name string) *awserr.Error {
	return awserr.New(awserr.CodeInvalidIdentityToken, http.StatusBadRequest, "Missing a required claim: "+name)
}

var errThumbprint = awserr.New(awserr.CodeInvalidIdentityToken, http.StatusBadRequest, MsgThumbprint)
