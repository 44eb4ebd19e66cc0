package awsquery

import (
	"context"
	"time"
)

// Caller is the identity behind a SigV4-signed request, as the server
// resolved it from the access key (root) or the sealed session token.
type Caller struct {
	Root        bool
	Account     string
	ARN         string // arn:aws:iam::ACCT:root, or arn:aws:sts::ACCT:assumed-role/NAME/SESSION
	UserID      string // the account id for root; AROA…:SESSION for sessions
	AccessKeyID string
	// Sessions only.
	RoleARN        string // the role's IAM ARN (with its path)
	RoleName       string
	RoleID         string // the role's unique id (AROA…) when the session was minted
	SessionName    string
	SourceIdentity string
	Issued         time.Time // when the credentials were minted (aws:TokenIssueTime)
	Expiration     time.Time
	// Tags are the session tags; TransitiveTagKeys those of them that pass
	// on to sessions this one creates by role chaining.
	Tags              []Tag
	TransitiveTagKeys []string
	// ProviderARN, Subject and Audience record a web identity origin.
	ProviderARN, Subject, Audience string
	// Runner credentials only: the issuer they mint for and the role whose
	// session created them (empty when root did).
	IssuerID, CreatorRoleName, CreatorRoleID string
	// SessionPolicy and PolicyARNs are the session policies the session was
	// created with; they bound what it may do.
	SessionPolicy string
	PolicyARNs    []string
}

// Tag is a session tag.
type Tag struct{ Key, Value string }

// Call is one decoded, authenticated request handed to an action.
type Call struct {
	*Request
	RequestID string
	// Caller is nil when the request was not signed; only actions that AWS
	// serves unsigned (AssumeRoleWithWebIdentity) ever see that.
	Caller   *Caller
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
