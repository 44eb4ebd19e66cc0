package awsquery

import (
	"context"
	"time"

	"github.com/keylessci/keyless/internal/identity"
)

// Call is one decoded, authenticated request handed to an action.
type Call struct {
	*Request
	RequestID string
	// Caller is nil when the request was not signed; only actions that AWS
	// serves unsigned (AssumeRoleWithWebIdentity) ever see that.
	Caller   *identity.Caller
	SourceIP string
	Secure   bool   // the request came over TLS (aws:SecureTransport)
	Region   string // the region the client signed for ("" when unsigned)
	// UserAgent is the User-Agent header (aws:UserAgent).
	UserAgent string
	Now       time.Time
}

// Handler runs one action and returns its result element (nil for actions
// without an output shape) or an error (an *awserr.Error for anything the
// caller should see).
type Handler func(ctx context.Context, c *Call) (any, error)
