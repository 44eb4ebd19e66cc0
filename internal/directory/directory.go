// Package directory is the request path's view of IAM: roles with their
// trust and permission policies already compiled, and OIDC providers, read
// through from the store and cached.
//
// Correctness of the cache rests on the store's Version: every committed
// write, on any replica, raises it. Writes made through this process
// invalidate at once (the server hands writers store.Announce(st,
// Invalidate)), and a load that raced such a write is not cached; Refresh (run by the server every CheckInterval)
// notices writes made by other replicas. When the store cannot be reached,
// what is cached keeps serving, so token exchanges for known roles survive a
// database outage.
//
// It does not write, and it does not decide anything: STS and the server's
// authorizer evaluate the compiled policies.
package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// Store is what the directory reads.
type Store interface {
	GetRole(ctx context.Context, name string) (store.Role, error)
	ListRolePolicies(ctx context.Context, role string) ([]store.RolePolicy, error)
	ListAttachedRolePolicies(ctx context.Context, role string) ([]store.ManagedPolicy, error)
	GetProvider(ctx context.Context, url string) (store.Provider, error)
	GetPolicy(ctx context.Context, arn string) (store.ManagedPolicy, error)
	ListRevocations(ctx context.Context, now time.Time) ([]store.Revocation, error)
	Version(ctx context.Context) (int64, error)
}

// Role is a role with its policies compiled.
type Role struct {
	store.Role
	ARN   string
	Trust *policy.Policy
	// Permissions are the inline and attached managed policies.
	Permissions []*policy.Policy
	// Boundary is the compiled permissions boundary (nil when the role has
	// none). BoundaryErr is set when the role names a boundary that cannot
	// be read or compiled; callers then deny everything the role's
	// sessions ask (a bound that cannot be known is not no bound).
	Boundary    *policy.Policy
	BoundaryErr error
}

// Config configures a Directory.
type Config struct {
	Store   Store
	Account string
	// MaxEntries bounds each cache (roles, providers); default 100000.
	MaxEntries int
}

// Directory is safe for concurrent use.
type Directory struct {
	st      Store
	account string
	max     int

	mu        sync.RWMutex
	version   int64
	roles     map[string]roleEntry // key: lower-cased role name
	providers map[string]providerEntry
	revoked   map[revocationKey]time.Time // nil until loaded; value: IssuedBefore
	// gen is raised by every clear. A load notes it before reading the
	// store and keeps what it read only if it has not moved: a load that
	// began before a write cannot put back what the write replaced.
	gen uint64
}

// revocationKey names a revocation: one access key id of an issuer, or ""
// for all of the issuer's credentials issued before a time.
type revocationKey struct{ issuer, accessKeyID string }

type roleEntry struct {
	role *Role
	err  error
}

type providerEntry struct {
	p   *store.Provider
	err error
}

// New returns a Directory over cfg.Store.
func New(cfg Config) (*Directory, error) {
	if cfg.Store == nil {
		return nil, errors.New("directory: Store is required")
	}
	if !arn.IsAccountID(cfg.Account) {
		return nil, fmt.Errorf("directory: invalid account id %q", cfg.Account)
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100000
	}
	d := &Directory{st: cfg.Store, account: cfg.Account, max: cfg.MaxEntries}
	d.clear()
	return d, nil
}

func (d *Directory) clear() {
	d.roles = map[string]roleEntry{}
	d.providers = map[string]providerEntry{}
	d.revoked = nil
	d.gen++
}

// Invalidate drops everything cached. The server's store announces every
// write to it (store.Announce).
func (d *Directory) Invalidate() {
	d.mu.Lock()
	d.clear()
	d.mu.Unlock()
}

// Refresh reads the store version and drops the caches if another writer
// committed since the last look. On error the caches are kept.
func (d *Directory) Refresh(ctx context.Context) error {
	v, err := d.st.Version(ctx)
	if err != nil {
		return fmt.Errorf("read store version: %w", err)
	}
	d.mu.Lock()
	if v != d.version {
		d.version = v
		d.clear()
	}
	d.mu.Unlock()
	return nil
}

// Role returns the named role (case-insensitive), compiled. A missing role
// yields an error wrapping store.ErrNotFound.
func (d *Directory) Role(ctx context.Context, name string) (*Role, error) {
	key := strings.ToLower(name)
	d.mu.RLock()
	e, ok := d.roles[key]
	gen := d.gen
	d.mu.RUnlock()
	if ok {
		return e.role, e.err
	}
	r, err := d.loadRole(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err // transient: not cached
	}
	d.mu.Lock()
	if d.gen == gen { // else a write landed during the load: what it read may be stale
		if len(d.roles) >= d.max {
			d.roles = map[string]roleEntry{}
		}
		d.roles[key] = roleEntry{role: r, err: err}
	}
	d.mu.Unlock()
	return r, err
}

func (d *Directory) loadRole(ctx context.Context, name string) (*Role, error) {
	sr, err := d.st.GetRole(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("get role %q: %w", name, err)
	}
	trust, err := policy.Parse(sr.TrustPolicy, policy.Trust)
	if err != nil {
		return nil, fmt.Errorf("compile trust policy of role %q: %w", sr.Name, err)
	}
	r := &Role{Role: sr, ARN: arn.Role(d.account, sr.Path, sr.Name), Trust: trust}
	inline, err := d.st.ListRolePolicies(ctx, sr.Name)
	if err != nil {
		return nil, fmt.Errorf("list inline policies of %q: %w", sr.Name, err)
	}
	for _, p := range inline {
		cp, err := policy.Parse(p.Document, policy.Identity)
		if err != nil {
			return nil, fmt.Errorf("compile inline policy %q of %q: %w", p.Name, sr.Name, err)
		}
		r.Permissions = append(r.Permissions, cp)
	}
	attached, err := d.st.ListAttachedRolePolicies(ctx, sr.Name)
	if err != nil {
		return nil, fmt.Errorf("list attached policies of %q: %w", sr.Name, err)
	}
	for _, p := range attached {
		cp, err := policy.Parse(p.Document, policy.Managed)
		if err != nil {
			return nil, fmt.Errorf("compile managed policy %s: %w", p.ARN, err)
		}
		r.Permissions = append(r.Permissions, cp)
	}
	if sr.PermissionsBoundary != "" {
		bp, err := d.st.GetPolicy(ctx, sr.PermissionsBoundary)
		switch {
		case errors.Is(err, store.ErrNotFound):
			r.BoundaryErr = fmt.Errorf("permissions boundary %s: %w", sr.PermissionsBoundary, err)
		case err != nil:
			return nil, fmt.Errorf("get permissions boundary %s of %q: %w", sr.PermissionsBoundary, sr.Name, err)
		default:
			if r.Boundary, err = policy.Parse(bp.Document, policy.Managed); err != nil {
				r.BoundaryErr = fmt.Errorf("compile permissions boundary %s: %w", bp.ARN, err)
			}
		}
	}
	return r, nil
}

// Provider returns the provider registered with url (without scheme, exact
// match). A missing provider yields an error wrapping store.ErrNotFound.
func (d *Directory) Provider(ctx context.Context, url string) (*store.Provider, error) {
	d.mu.RLock()
	e, ok := d.providers[url]
	gen := d.gen
	d.mu.RUnlock()
	if ok {
		return e.p, e.err
	}
	p, err := d.st.GetProvider(ctx, url)
	var pp *store.Provider
	if err == nil {
		pp = &p
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("get provider %q: %w", url, err)
	} else {
		err = fmt.Errorf("get provider %q: %w", url, err)
	}
	d.mu.Lock()
	if d.gen == gen { // else a write landed during the load
		if len(d.providers) >= d.max {
			d.providers = map[string]providerEntry{}
		}
		d.providers[url] = providerEntry{p: pp, err: err}
	}
	d.mu.Unlock()
	return pp, err
}

// SessionPolicies compiles a session's inline session policy and the managed
// policies named by arns. A session with neither yields nil: no session
// policy applies. A named policy that no longer exists is an error wrapping
// store.ErrNotFound; callers deny (the session's bound can no longer be known).
func (d *Directory) SessionPolicies(ctx context.Context, doc string, arns []string) ([]*policy.Policy, error) {
	if doc == "" && len(arns) == 0 {
		return nil, nil
	}
	var out []*policy.Policy
	if doc != "" {
		p, err := policy.Parse(doc, policy.Session)
		if err != nil {
			return nil, fmt.Errorf("compile session policy: %w", err)
		}
		out = append(out, p)
	}
	for _, a := range arns {
		mp, err := d.st.GetPolicy(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("get session policy %s: %w", a, err)
		}
		p, err := policy.Parse(mp.Document, policy.Session)
		if err != nil {
			return nil, fmt.Errorf("compile session policy %s: %w", a, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// RunnerRevoked reports whether the runner credentials accessKeyID of
// issuerID, issued at issued, have been revoked: one by one, or with all
// of the issuer's credentials issued before a time. Revocations are read
// once per store version.
func (d *Directory) RunnerRevoked(ctx context.Context, issuerID, accessKeyID string, issued, now time.Time) (bool, error) {
	d.mu.RLock()
	m, gen := d.revoked, d.gen
	d.mu.RUnlock()
	if m == nil {
		list, err := d.st.ListRevocations(ctx, now)
		if err != nil {
			return false, fmt.Errorf("list revocations: %w", err)
		}
		m = make(map[revocationKey]time.Time, len(list))
		for _, r := range list {
			m[revocationKey{r.IssuerID, r.AccessKeyID}] = r.IssuedBefore
		}
		d.mu.Lock()
		if d.gen == gen {
			d.revoked = m
		}
		d.mu.Unlock()
	}
	if _, ok := m[revocationKey{issuerID, accessKeyID}]; ok {
		return true, nil
	}
	before, ok := m[revocationKey{issuerID, ""}]
	return ok && issued.Before(before), nil
}
