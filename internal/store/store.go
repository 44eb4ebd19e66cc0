// Package store is the storage contract of keyless: the entity types that
// outlive a request (OIDC providers, roles and their policies, managed
// policies, CI issuers and their signing keys, server secrets) and the Store
// interface every backend implements.
//
// It owns no SQL and no I/O. Backends live below it (store/sqlstore); the
// conformance suite every backend must pass lives in store/storetest.
// Consumers (iam, sts, issuer, server) declare the narrow subset they use.
//
// A store holds exactly one AWS account: the server's. Every acknowledged
// write is durable before the method returns.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them with %w; callers test with errors.Is.
var (
	// ErrNotFound: the entity (or the parent named in the call) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a create collided with an existing entity.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the entity is still in use (a role with policies, an attached managed policy).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the backend cannot be reached or cannot write (disk full,
	// read-only, database down). The server maps it to ServiceUnavailable.
	ErrUnavailable = errors.New("store unavailable")
)

// Tag is an IAM tag.
type Tag struct {
	Key   string
	Value string
}

// Provider is an IAM OIDC identity provider. URL is stored without the
// https:// scheme, exactly as registered (case and trailing slash kept): it is
// both the key and the condition-key prefix.
type Provider struct {
	URL         string
	ClientIDs   []string
	Thumbprints []string
	Tags        []Tag
	CreateDate  time.Time
}

// Role is an IAM role. Names are unique case-insensitively; lookups by name
// are case-insensitive too, and the stored Name keeps the case it was created with.
type Role struct {
	Name                string
	Path                string // "/" or "/a/b/"
	ID                  string // AROA…, 21 characters
	TrustPolicy         string // the document as given (not URL-encoded)
	Description         string
	MaxSessionDuration  int // seconds, 3600..43200
	PermissionsBoundary string
	Tags                []Tag
	CreateDate          time.Time
	LastUsed            time.Time // zero when never used
	LastUsedRegion      string
}

// RolePolicy is an inline policy embedded in a role.
type RolePolicy struct {
	RoleName string
	Name     string
	Document string
}

// ManagedPolicy is a customer managed policy. Document is the default
// version's document, the one policy evaluation reads; Versions holds every
// version (the default among them).
type ManagedPolicy struct {
	ARN         string
	Name        string
	Path        string
	ID          string // ANPA…
	Document    string
	Description string
	// DefaultVersion is the id of the default version ("v1", "v2", …).
	DefaultVersion string
	// Versions are all versions, oldest first. A policy created without
	// versions reads back with one: v1 holding Document, created at CreateDate.
	Versions []PolicyVersion
	// LastVersion is the number of the newest version ever created; version
	// ids are never reused, even after a version is deleted.
	LastVersion int
	Tags        []Tag
	CreateDate  time.Time
	UpdateDate  time.Time
	// AttachmentCount is computed by the backend on read.
	AttachmentCount int
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	ID         string // "v1", "v2", …
	Document   string
	CreateDate time.Time
}

// Issuer is a CI OIDC token issuer hosted by this server.
type Issuer struct {
	ID      string // stable identifier, e.g. the org id for CircleCI
	Profile string // circleci | github | gitlab | generic
	URL     string // full issuer URL with scheme, e.g. https://oidc.circleci.com/org/<id>; unique
	Alg     string // RS256 | ES256
	// Config is profile-specific JSON (default audience, TTL, rotation period…),
	// opaque to the store.
	Config     []byte
	CreateDate time.Time
}

// SigningKey is one issuer key. The private key is sealed (encrypted) by the
// issuer package before it reaches the store; the store never sees plaintext.
type SigningKey struct {
	IssuerID   string
	KID        string
	Alg        string
	Public     []byte // public JWK, JSON
	Sealed     []byte // encrypted private key
	CreatedAt  time.Time
	SignFrom   time.Time // first instant the key may sign (published before that)
	SignUntil  time.Time // zero while it is the current signer; set when retired
	PublishEnd time.Time // zero while published indefinitely; after it the key leaves the JWKS
}

// Revocation revokes runner credentials of one issuer: one set (AccessKeyID
// set), or every set issued before IssuedBefore (AccessKeyID empty).
// Credentials are stateless, so a revocation is kept until Expires, when
// every set it covers has expired anyway.
type Revocation struct {
	IssuerID     string
	AccessKeyID  string
	IssuedBefore time.Time
	Expires      time.Time
}

// Decision is one entry of the decision log: an STS decision or a denied
// signed call, with why. Claims and Trace are JSON documents the store keeps
// verbatim and never interprets (package decision owns their meaning).
type Decision struct {
	ID          string // unique, assigned by the writer
	Time        time.Time
	RequestID   string
	SourceIP    string
	UserAgent   string
	Action      string // e.g. sts:AssumeRoleWithWebIdentity, iam:CreateRole
	RoleARN     string // the role asked for ("" for calls on no role)
	RoleName    string // its name, for filtering by name
	Provider    string // OIDC provider ARN, when a web identity was presented
	Subject     string // the token's sub, when there was a token
	Principal   string // the signed caller's ARN, when the call was signed
	Decision    string // "allow" | "deny"
	ErrorCode   string // AWS error code answered ("" when allowed)
	Reason      string // internal reason (never sent to the caller)
	ClosestMiss string
	Fix         string
	Latency     time.Duration
	Claims      []byte // JSON object; nil when there was no token
	Trace       []byte // JSON policy trace; nil when no policy was evaluated
}

// DecisionKey is a position in the decision log's order (newest first:
// Time descending, then ID descending), used for keyset pagination.
type DecisionKey struct {
	Time time.Time
	ID   string
}

// DecisionFilter selects decisions. Empty fields do not filter.
type DecisionFilter struct {
	RoleARN, RoleName, Provider, Subject string
	Decision                             string    // "allow" | "deny" | ""
	Since, Until                         time.Time // Since inclusive, Until exclusive
	// After, when set, returns only decisions strictly after it in the
	// log's order (that is, older): the next page.
	After *DecisionKey
	// Limit caps the result (backends may cap it further at 1000); 0 means 100.
	Limit int
}

// Store is the full storage contract.
type Store interface {
	CreateProvider(ctx context.Context, p Provider) error
	GetProvider(ctx context.Context, url string) (Provider, error)
	ListProviders(ctx context.Context) ([]Provider, error)
	// UpdateProvider reads, applies fn and writes back atomically. If fn
	// returns an error nothing is written and that error is returned.
	UpdateProvider(ctx context.Context, url string, fn func(*Provider) error) error
	DeleteProvider(ctx context.Context, url string) error

	CreateRole(ctx context.Context, r Role) error
	GetRole(ctx context.Context, name string) (Role, error)
	ListRoles(ctx context.Context) ([]Role, error) // ordered by name
	UpdateRole(ctx context.Context, name string, fn func(*Role) error) error
	// DeleteRole fails with ErrConflict while inline or attached policies remain.
	DeleteRole(ctx context.Context, name string) error
	// RecordRoleUse sets LastUsed (and LastUsedRegion to region) of each
	// role named in uses whose recorded LastUsed is earlier, in one
	// transaction; roles that no longer exist are skipped. It does not raise
	// Version: nothing a cache of compiled roles holds depends on it, and it
	// is written for every role in use.
	RecordRoleUse(ctx context.Context, region string, uses map[string]time.Time) error

	// PutRolePolicy creates or replaces an inline policy; ErrNotFound if the role is missing.
	PutRolePolicy(ctx context.Context, p RolePolicy) error
	GetRolePolicy(ctx context.Context, role, name string) (RolePolicy, error)
	DeleteRolePolicy(ctx context.Context, role, name string) error
	ListRolePolicies(ctx context.Context, role string) ([]RolePolicy, error) // ordered by name

	CreatePolicy(ctx context.Context, p ManagedPolicy) error // ErrAlreadyExists on ARN
	GetPolicy(ctx context.Context, arn string) (ManagedPolicy, error)
	ListPolicies(ctx context.Context) ([]ManagedPolicy, error) // ordered by name
	// UpdatePolicy reads, applies fn and writes back atomically. If fn
	// returns an error nothing is written and that error is returned. ARN,
	// Name and ID cannot change.
	UpdatePolicy(ctx context.Context, arn string, fn func(*ManagedPolicy) error) error
	// DeletePolicy fails with ErrConflict while the policy is attached.
	DeletePolicy(ctx context.Context, arn string) error
	// AttachRolePolicy is idempotent; ErrNotFound if the role or policy is missing.
	AttachRolePolicy(ctx context.Context, role, policyARN string) error
	// DetachRolePolicy fails with ErrNotFound when the policy is not attached.
	DetachRolePolicy(ctx context.Context, role, policyARN string) error
	ListAttachedRolePolicies(ctx context.Context, role string) ([]ManagedPolicy, error) // ordered by name

	CreateIssuer(ctx context.Context, is Issuer) error // ErrAlreadyExists on ID or URL
	GetIssuer(ctx context.Context, id string) (Issuer, error)
	GetIssuerByURL(ctx context.Context, url string) (Issuer, error)
	ListIssuers(ctx context.Context) ([]Issuer, error)
	DeleteIssuer(ctx context.Context, id string) error // deletes its keys too

	AddSigningKey(ctx context.Context, k SigningKey) error
	ListSigningKeys(ctx context.Context, issuerID string) ([]SigningKey, error) // ordered by CreatedAt
	UpdateSigningKey(ctx context.Context, issuerID, kid string, fn func(*SigningKey) error) error
	DeleteSigningKey(ctx context.Context, issuerID, kid string) error

	// PutRevocation records r, replacing the revocation of the same issuer
	// and access key id (if any). Revocations whose Expires has passed may
	// be dropped by any write.
	PutRevocation(ctx context.Context, r Revocation) error
	// ListRevocations returns the revocations not yet expired at now,
	// ordered by issuer and access key id.
	ListRevocations(ctx context.Context, now time.Time) ([]Revocation, error)

	// GetOrCreateSecret returns the secret stored under name, storing value
	// first if there is none. Concurrent callers (even on other replicas)
	// all get the same, first-stored value.
	GetOrCreateSecret(ctx context.Context, name string, value []byte) ([]byte, error)
	// GetSecret returns the secret stored under name, or ErrNotFound.
	GetSecret(ctx context.Context, name string) ([]byte, error)
	// DeleteSecret removes the secret stored under name (no error when there
	// is none) and leaves no copy of its value in the database files.
	DeleteSecret(ctx context.Context, name string) error

	// InsertDecisions appends decisions in one transaction: all or none.
	// A decision whose ID is already stored is skipped (a retried batch
	// does not duplicate). It does not raise Version.
	InsertDecisions(ctx context.Context, ds []Decision) error
	// GetDecision returns the decision with that ID, or ErrNotFound.
	GetDecision(ctx context.Context, id string) (Decision, error)
	// ListDecisions returns the decisions f selects, newest first (Time,
	// then ID, descending).
	ListDecisions(ctx context.Context, f DecisionFilter) ([]Decision, error)
	// PruneDecisions deletes decisions older than before and, of the rest,
	// all but the newest keep (keep <= 0: no cap); it returns how many
	// were deleted. It does not raise Version.
	PruneDecisions(ctx context.Context, before time.Time, keep int) (int64, error)

	// Version increases with every committed write, from any replica. Caches
	// compare it to decide whether what they hold is still current.
	Version(ctx context.Context) (int64, error)

	Ping(ctx context.Context) error
	Close() error
}
