// Package identity is who a SigV4-signed request comes from, as the server
// resolved it from the access key (root) or the sealed session token (a role
// session, or runner credentials): a Caller with an explicit Kind.
//
// It owns the type only. It does not authenticate (server, with sigv4 and
// creds), decide what a caller may do (sts.CallerSet and policy) or speak
// any wire format (awsquery carries a *Caller on each call). It does no I/O.
package identity

import "time"

// Kind says which of the three kinds of signed caller a Caller is.
type Kind uint8

const (
	// Unknown is the zero Kind; no authenticated Caller has it.
	Unknown Kind = iota
	// Root holds the account's root credentials: it may do anything.
	Root
	// RoleSession holds temporary credentials of a role (AssumeRole,
	// AssumeRoleWithWebIdentity).
	RoleSession
	// Runner holds runner credentials: temporary credentials with no role
	// whose session policy lets them mint tokens of one hosted issuer, like
	// a federated user with the account as parent.
	Runner
)

func (k Kind) String() string {
	switch k {
	case Root:
		return "root"
	case RoleSession:
		return "role-session"
	case Runner:
		return "runner"
	}
	return "unknown"
}

// Caller is the identity behind a signed request.
type Caller struct {
	Kind        Kind
	Account     string
	ARN         string // root, assumed-role or federated-user ARN
	UserID      string // the account id for root; AROA…:SESSION for role sessions; ACCOUNT:SESSION for runners
	AccessKeyID string
	// Temporary credentials (RoleSession, Runner).
	SessionName    string
	SourceIdentity string
	Issued         time.Time // when the credentials were minted (aws:TokenIssueTime)
	Expiration     time.Time
	// SessionPolicy and PolicyARNs are the session policies the credentials
	// were minted with; they bound what the caller may do.
	SessionPolicy string
	PolicyARNs    []string
	// RoleSession only.
	RoleARN  string // the role's IAM ARN (with its path)
	RoleName string
	RoleID   string // the role's unique id (AROA…) when the session was minted
	// Tags are the session tags; TransitiveTagKeys those of them that pass
	// on to sessions this one creates by role chaining.
	Tags              []Tag
	TransitiveTagKeys []string
	// ProviderARN, Subject and Audience record a web identity origin.
	ProviderARN, Subject, Audience string
	// Runner only: the issuer they mint for and the role whose session
	// created them (empty when root did).
	IssuerID, CreatorRoleName, CreatorRoleID string
}

// Tag is a session tag.
type Tag struct{ Key, Value string }

// Is reports whether c is an authenticated caller of kind k (false for nil).
func (c *Caller) Is(k Kind) bool { return c != nil && c.Kind == k }
