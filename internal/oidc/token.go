package oidc

import (
	"errors"
	"net/http"
	"slices"

	"github.com/keylessci/keyless/internal/awserr"
)

// MaxTokenLen is the longest token accepted, AWS's WebIdentityToken limit.
const MaxTokenLen = 20000

// Token is a parsed, not yet verified, web-identity token. Fields are
// filled by Parse; nothing in it may be trusted before Verify and CheckTime
// have returned nil.
type Token struct {
	Raw string

	// Alg and KID come from the protected header.
	Alg, KID string

	Issuer, Subject, AZP string
	// Audience holds aud whether it was a string or an array.
	Audience []string

	Expiry, NotBefore, IssuedAt int64
	HasNotBefore, HasIssuedAt   bool

	// Claims holds every claim; numbers are json.Number.
	Claims map[string]any

	signingInput string // header "." payload, exactly as received
	sig          []byte
}

// CheckAudience applies AWS's audience rule against a provider's
// ClientIDList: a token without aud is refused with "Missing a required
// claim: aud"; otherwise aud (any element) or azp must be in clientIDs, else
// "Incorrect token audience".
func (t *Token) CheckAudience(clientIDs []string) error {
	if len(t.Audience) == 0 {
		return MissingClaim("aud")
	}
	if t.AZP != "" && slices.Contains(clientIDs, t.AZP) {
		return nil
	}
	for _, a := range t.Audience {
		if slices.Contains(clientIDs, a) {
			return nil
		}
	}
	return awserr.New(awserr.CodeInvalidIdentityToken, http.StatusBadRequest, MsgIncorrectAudience).
		Wrap(errors.New("no aud or azp value is in the client id list"))
}
