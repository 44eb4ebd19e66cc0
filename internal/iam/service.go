package iam

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/store"
)

// Store is the subset of store.Store the IAM actions use.
type Store interface {
	CreateProvider(ctx context.Context, p store.Provider) error
	GetProvider(ctx context.Context, url string) (store.Provider, error)
	ListProviders(ctx context.Context) ([]store.Provider, error)
	UpdateProvider(ctx context.Context, url string, fn func(*store.Provider) error) error
	DeleteProvider(ctx context.Context, url string) error

	CreateRole(ctx context.Context, r store.Role) error
	GetRole(ctx context.Context, name string) (store.Role, error)
	ListRoles(ctx context.Context) ([]store.Role, error)
	UpdateRole(ctx context.Context, name string, fn func(*store.Role) error) error
	DeleteRole(ctx context.Context, name string) error

	PutRolePolicy(ctx context.Context, p store.RolePolicy) error
	GetRolePolicy(ctx context.Context, role, name string) (store.RolePolicy, error)
	DeleteRolePolicy(ctx context.Context, role, name string) error
	ListRolePolicies(ctx context.Context, role string) ([]store.RolePolicy, error)

	CreatePolicy(ctx context.Context, p store.ManagedPolicy) error
	GetPolicy(ctx context.Context, arn string) (store.ManagedPolicy, error)
	ListPolicies(ctx context.Context) ([]store.ManagedPolicy, error)
	UpdatePolicy(ctx context.Context, arn string, fn func(*store.ManagedPolicy) error) error
	DeletePolicy(ctx context.Context, arn string) error
	AttachRolePolicy(ctx context.Context, role, policyARN string) error
	DetachRolePolicy(ctx context.Context, role, policyARN string) error
	ListAttachedRolePolicies(ctx context.Context, role string) ([]store.ManagedPolicy, error)
}

// Config configures a Service.
type Config struct {
	Store   Store
	Account string // 12-digit account id
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
	// Rand is the source for role and policy ids; defaults to crypto/rand.
	Rand io.Reader
}

// Service serves the IAM actions.
type Service struct {
	store   Store
	account string
	now     func() time.Time
	rand    io.Reader
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("iam: Store is required")
	}
	if !arn.IsAccountID(cfg.Account) {
		return nil, fmt.Errorf("iam: account id %q is not 12 digits", cfg.Account)
	}
	s := &Service{store: cfg.Store, account: cfg.Account, now: cfg.Now, rand: cfg.Rand}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	return s, nil
}

// Actions returns the IAM action table: every action is authorized as
// iam:<Name> on the resource its Prepare names, by the caller of
// awsquery.Action.Serve, before it reads or writes anything else.
func (s *Service) Actions() map[string]awsquery.Action {
	prepares := map[string]awsquery.Prepare{
		"CreateOpenIDConnectProvider":             s.createOpenIDConnectProvider,
		"GetOpenIDConnectProvider":                s.getOpenIDConnectProvider,
		"ListOpenIDConnectProviders":              s.listOpenIDConnectProviders,
		"DeleteOpenIDConnectProvider":             s.deleteOpenIDConnectProvider,
		"AddClientIDToOpenIDConnectProvider":      s.addClientIDToOpenIDConnectProvider,
		"RemoveClientIDFromOpenIDConnectProvider": s.removeClientIDFromOpenIDConnectProvider,
		"UpdateOpenIDConnectProviderThumbprint":   s.updateOpenIDConnectProviderThumbprint,
		"TagOpenIDConnectProvider":                s.tagOpenIDConnectProvider,
		"UntagOpenIDConnectProvider":              s.untagOpenIDConnectProvider,
		"ListOpenIDConnectProviderTags":           s.listOpenIDConnectProviderTags,

		"CreateRole":             s.createRole,
		"GetRole":                s.getRole,
		"ListRoles":              s.listRoles,
		"UpdateRole":             s.updateRoleAction,
		"UpdateRoleDescription":  s.updateRoleDescription,
		"UpdateAssumeRolePolicy": s.updateAssumeRolePolicy,
		"DeleteRole":             s.deleteRole,
		"TagRole":                s.tagRole,
		"UntagRole":              s.untagRole,
		"ListRoleTags":           s.listRoleTags,

		"PutRolePermissionsBoundary":    s.putRolePermissionsBoundary,
		"DeleteRolePermissionsBoundary": s.deleteRolePermissionsBoundary,
		"ListInstanceProfilesForRole":   s.listInstanceProfilesForRole,

		"PutRolePolicy":    s.putRolePolicy,
		"GetRolePolicy":    s.getRolePolicy,
		"DeleteRolePolicy": s.deleteRolePolicy,
		"ListRolePolicies": s.listRolePolicies,

		"CreatePolicy":             s.createPolicy,
		"GetPolicy":                s.getPolicy,
		"GetPolicyVersion":         s.getPolicyVersion,
		"CreatePolicyVersion":      s.createPolicyVersion,
		"ListPolicyVersions":       s.listPolicyVersions,
		"DeletePolicyVersion":      s.deletePolicyVersion,
		"SetDefaultPolicyVersion":  s.setDefaultPolicyVersion,
		"TagPolicy":                s.tagPolicy,
		"UntagPolicy":              s.untagPolicy,
		"ListPolicyTags":           s.listPolicyTags,
		"ListPolicies":             s.listPolicies,
		"DeletePolicy":             s.deletePolicy,
		"AttachRolePolicy":         s.attachRolePolicy,
		"DetachRolePolicy":         s.detachRolePolicy,
		"ListAttachedRolePolicies": s.listAttachedRolePolicies,
		"ListEntitiesForPolicy":    s.listEntitiesForPolicy,
	}
	actions := make(map[string]awsquery.Action, len(prepares))
	for name, p := range prepares {
		actions[name] = awsquery.Action{Access: awsquery.Policy, Policy: "iam:" + name, Prepare: p}
	}
	return actions
}

// storeErr maps a store error to the AWS error the caller sees
// (awsquery.FromStore); notFound is the NoSuchEntity message for this call,
// and anything unexpected is IAM's ServiceFailure. The internal text never
// reaches the caller.
func storeErr(err error, notFound string) error {
	err = awsquery.FromStore(err, awsquery.StoreMessages{NotFound: notFound})
	if err != nil && awserr.As(err) == nil {
		return awserr.ServiceFailure(err)
	}
	return err
}

func noSuchEntity(format string, args ...any) *awserr.Error {
	return awserr.Newf(awserr.CodeNoSuchEntity, http.StatusNotFound, format, args...)
}

func invalidInput(format string, args ...any) *awserr.Error {
	return awserr.Newf(awserr.CodeInvalidInput, http.StatusBadRequest, format, args...)
}

func limitExceeded(format string, args ...any) *awserr.Error {
	return awserr.Newf(awserr.CodeLimitExceeded, http.StatusConflict, format, args...)
}

func alreadyExists(format string, args ...any) *awserr.Error {
	return awserr.Newf(awserr.CodeEntityAlreadyExists, http.StatusConflict, format, args...)
}

func deleteConflict(msg string) *awserr.Error {
	return awserr.New(awserr.CodeDeleteConflict, http.StatusConflict, msg)
}

// newID returns prefix followed by 17 characters from [A-Z0-9], the shape
// of IAM unique ids (AROA… for roles, ANPA… for managed policies).
func (s *Service) newID(prefix string) (string, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	const n = 17
	out := make([]byte, 0, len(prefix)+n)
	out = append(out, prefix...)
	var buf [32]byte
	for len(out) < len(prefix)+n {
		if _, err := io.ReadFull(s.rand, buf[:]); err != nil {
			return "", fmt.Errorf("read random id: %w", err)
		}
		for _, b := range buf {
			// 252 = 7*36: reject the tail so every character is equally likely.
			if b >= 252 || len(out) == len(prefix)+n {
				continue
			}
			out = append(out, alphabet[int(b)%len(alphabet)])
		}
	}
	return string(out), nil
}
