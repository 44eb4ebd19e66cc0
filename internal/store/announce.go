package store

import (
	"context"
	"time"
)

// Announce returns st with every write announced: changed runs after each
// call of a method that may raise Version, so a cache over st (the
// directory of compiled roles) is dropped by construction rather than by a
// call each writer must remember.
//
// changed runs after a write succeeded. A failed write is not announced:
// what is cached must keep serving while the store is down (a write
// refused then must not drop it); one that failed yet committed (a
// deadline reached after COMMIT) raised Version, which the cache's own
// poll of Version notices. Reads and RecordRoleUse (which does not raise
// Version) are passed through unannounced.
//
// Every method is spelled out, none embedded: a method added to Store does
// not compile here until it is sorted as a read or a write.
func Announce(st Store, changed func()) Store { return &announcer{st: st, changed: changed} }

type announcer struct {
	st      Store
	changed func()
}

// write runs after a write method: it announces a success.
func (a *announcer) write(err error) error {
	if err == nil {
		a.changed()
	}
	return err
}

func (a *announcer) CreateProvider(ctx context.Context, p Provider) error {
	return a.write(a.st.CreateProvider(ctx, p))
}

func (a *announcer) GetProvider(ctx context.Context, url string) (Provider, error) {
	return a.st.GetProvider(ctx, url)
}

func (a *announcer) ListProviders(ctx context.Context) ([]Provider, error) {
	return a.st.ListProviders(ctx)
}

func (a *announcer) UpdateProvider(ctx context.Context, url string, fn func(*Provider) error) error {
	return a.write(a.st.UpdateProvider(ctx, url, fn))
}

func (a *announcer) DeleteProvider(ctx context.Context, url string) error {
	return a.write(a.st.DeleteProvider(ctx, url))
}

func (a *announcer) CreateRole(ctx context.Context, r Role) error {
	return a.write(a.st.CreateRole(ctx, r))
}

func (a *announcer) GetRole(ctx context.Context, name string) (Role, error) {
	return a.st.GetRole(ctx, name)
}

func (a *announcer) ListRoles(ctx context.Context) ([]Role, error) { return a.st.ListRoles(ctx) }

func (a *announcer) UpdateRole(ctx context.Context, name string, fn func(*Role) error) error {
	return a.write(a.st.UpdateRole(ctx, name, fn))
}

func (a *announcer) DeleteRole(ctx context.Context, name string) error {
	return a.write(a.st.DeleteRole(ctx, name))
}

// RecordRoleUse does not raise Version: nothing cached depends on it.
func (a *announcer) RecordRoleUse(ctx context.Context, region string, uses map[string]time.Time) error {
	return a.st.RecordRoleUse(ctx, region, uses)
}

func (a *announcer) PutRolePolicy(ctx context.Context, p RolePolicy) error {
	return a.write(a.st.PutRolePolicy(ctx, p))
}

func (a *announcer) GetRolePolicy(ctx context.Context, role, name string) (RolePolicy, error) {
	return a.st.GetRolePolicy(ctx, role, name)
}

func (a *announcer) DeleteRolePolicy(ctx context.Context, role, name string) error {
	return a.write(a.st.DeleteRolePolicy(ctx, role, name))
}

func (a *announcer) ListRolePolicies(ctx context.Context, role string) ([]RolePolicy, error) {
	return a.st.ListRolePolicies(ctx, role)
}

func (a *announcer) CreatePolicy(ctx context.Context, p ManagedPolicy) error {
	return a.write(a.st.CreatePolicy(ctx, p))
}

func (a *announcer) GetPolicy(ctx context.Context, arn string) (ManagedPolicy, error) {
	return a.st.GetPolicy(ctx, arn)
}

func (a *announcer) ListPolicies(ctx context.Context) ([]ManagedPolicy, error) {
	return a.st.ListPolicies(ctx)
}

func (a *announcer) UpdatePolicy(ctx context.Context, arn string, fn func(*ManagedPolicy) error) error {
	return a.write(a.st.UpdatePolicy(ctx, arn, fn))
}

func (a *announcer) DeletePolicy(ctx context.Context, arn string) error {
	return a.write(a.st.DeletePolicy(ctx, arn))
}

func (a *announcer) AttachRolePolicy(ctx context.Context, role, policyARN string) error {
	return a.write(a.st.AttachRolePolicy(ctx, role, policyARN))
}

func (a *announcer) DetachRolePolicy(ctx context.Context, role, policyARN string) error {
	return a.write(a.st.DetachRolePolicy(ctx, role, policyARN))
}

func (a *announcer) ListAttachedRolePolicies(ctx context.Context, role string) ([]ManagedPolicy, error) {
	return a.st.ListAttachedRolePolicies(ctx, role)
}

func (a *announcer) CreateIssuer(ctx context.Context, is Issuer) error {
	return a.write(a.st.CreateIssuer(ctx, is))
}

func (a *announcer) GetIssuer(ctx context.Context, id string) (Issuer, error) {
	return a.st.GetIssuer(ctx, id)
}

func (a *announcer) GetIssuerByURL(ctx context.Context, url string) (Issuer, error) {
	return a.st.GetIssuerByURL(ctx, url)
}

func (a *announcer) ListIssuers(ctx context.Context) ([]Issuer, error) { return a.st.ListIssuers(ctx) }

func (a *announcer) DeleteIssuer(ctx context.Context, id string) error {
	return a.write(a.st.DeleteIssuer(ctx, id))
}

func (a *announcer) AddSigningKey(ctx context.Context, k SigningKey) error {
	return a.write(a.st.AddSigningKey(ctx, k))
}

func (a *announcer) ListSigningKeys(ctx context.Context, issuerID string) ([]SigningKey, error) {
	return a.st.ListSigningKeys(ctx, issuerID)
}

func (a *announcer) UpdateSigningKey(ctx context.Context, issuerID, kid string, fn func(*SigningKey) error) error {
	return a.write(a.st.UpdateSigningKey(ctx, issuerID, kid, fn))
}

func (a *announcer) DeleteSigningKey(ctx context.Context, issuerID, kid string) error {
	return a.write(a.st.DeleteSigningKey(ctx, issuerID, kid))
}

func (a *announcer) PutRevocation(ctx context.Context, r Revocation) error {
	return a.write(a.st.PutRevocation(ctx, r))
}

func (a *announcer) ListRevocations(ctx context.Context, now time.Time) ([]Revocation, error) {
	return a.st.ListRevocations(ctx, now)
}

// GetOrCreateSecret writes when the secret is new.
func (a *announcer) GetOrCreateSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	v, err := a.st.GetOrCreateSecret(ctx, name, value)
	return v, a.write(err)
}

func (a *announcer) GetSecret(ctx context.Context, name string) ([]byte, error) {
	return a.st.GetSecret(ctx, name)
}

func (a *announcer) DeleteSecret(ctx context.Context, name string) error {
	return a.write(a.st.DeleteSecret(ctx, name))
}

func (a *announcer) Version(ctx context.Context) (int64, error) { return a.st.Version(ctx) }

func (a *announcer) Ping(ctx context.Context) error { return a.st.Ping(ctx) }

func (a *announcer) Close() error { return a.st.Close() }

// The decision log raises no Version (nothing cached depends on it).

func (a *announcer) InsertDecisions(ctx context.Context, ds []Decision) error {
	return a.st.InsertDecisions(ctx, ds)
}

func (a *announcer) GetDecision(ctx context.Context, id string) (Decision, error) {
	return a.st.GetDecision(ctx, id)
}

func (a *announcer) ListDecisions(ctx context.Context, f DecisionFilter) ([]Decision, error) {
	return a.st.ListDecisions(ctx, f)
}

func (a *announcer) PruneDecisions(ctx context.Context, before time.Time, keep int) (int64, error) {
	return a.st.PruneDecisions(ctx, before, keep)
}
