package iam

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/keylessci/keyless/internal/store"
)

// fakeStore is an in-memory Store with the semantics of the store
// contract (case-insensitive role names, conflicts on delete, idempotent
// attach). fail, when set, is returned by every call.
type fakeStore struct {
	mu        sync.Mutex
	providers map[string]store.Provider
	roles     map[string]store.Role // lower-cased name
	inline    map[string]map[string]store.RolePolicy
	policies  map[string]store.ManagedPolicy
	attached  map[string][]string // lower-cased role -> policy ARNs
	fail      error
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		providers: map[string]store.Provider{},
		roles:     map[string]store.Role{},
		inline:    map[string]map[string]store.RolePolicy{},
		policies:  map[string]store.ManagedPolicy{},
		attached:  map[string][]string{},
	}
}

func notFound(what string) error { return fmt.Errorf("fake %s: %w", what, store.ErrNotFound) }

func cloneProvider(p store.Provider) store.Provider {
	p.ClientIDs = slices.Clone(p.ClientIDs)
	p.Thumbprints = slices.Clone(p.Thumbprints)
	p.Tags = slices.Clone(p.Tags)
	return p
}

func (f *fakeStore) CreateProvider(_ context.Context, p store.Provider) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if _, ok := f.providers[p.URL]; ok {
		return fmt.Errorf("fake: %w", store.ErrAlreadyExists)
	}
	f.providers[p.URL] = cloneProvider(p)
	return nil
}

func (f *fakeStore) GetProvider(_ context.Context, url string) (store.Provider, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.Provider{}, f.fail
	}
	p, ok := f.providers[url]
	if !ok {
		return store.Provider{}, notFound("provider")
	}
	return cloneProvider(p), nil
}

func (f *fakeStore) ListProviders(context.Context) ([]store.Provider, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.Provider
	for _, p := range f.providers {
		out = append(out, cloneProvider(p))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out, nil
}

func (f *fakeStore) UpdateProvider(_ context.Context, url string, fn func(*store.Provider) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	p, ok := f.providers[url]
	if !ok {
		return notFound("provider")
	}
	p = cloneProvider(p)
	if err := fn(&p); err != nil {
		return err
	}
	f.providers[url] = p
	return nil
}

func (f *fakeStore) DeleteProvider(_ context.Context, url string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if _, ok := f.providers[url]; !ok {
		return notFound("provider")
	}
	delete(f.providers, url)
	return nil
}

func (f *fakeStore) CreateRole(_ context.Context, r store.Role) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	k := strings.ToLower(r.Name)
	if _, ok := f.roles[k]; ok {
		return fmt.Errorf("fake: %w", store.ErrAlreadyExists)
	}
	r.Tags = slices.Clone(r.Tags)
	f.roles[k] = r
	return nil
}

func (f *fakeStore) GetRole(_ context.Context, name string) (store.Role, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.Role{}, f.fail
	}
	r, ok := f.roles[strings.ToLower(name)]
	if !ok {
		return store.Role{}, notFound("role")
	}
	r.Tags = slices.Clone(r.Tags)
	return r, nil
}

func (f *fakeStore) ListRoles(context.Context) ([]store.Role, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.Role
	for _, r := range f.roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeStore) UpdateRole(_ context.Context, name string, fn func(*store.Role) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	k := strings.ToLower(name)
	r, ok := f.roles[k]
	if !ok {
		return notFound("role")
	}
	r.Tags = slices.Clone(r.Tags)
	if err := fn(&r); err != nil {
		return err
	}
	f.roles[k] = r
	return nil
}

func (f *fakeStore) DeleteRole(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	k := strings.ToLower(name)
	if _, ok := f.roles[k]; !ok {
		return notFound("role")
	}
	if len(f.inline[k]) > 0 || len(f.attached[k]) > 0 {
		return fmt.Errorf("fake: %w", store.ErrConflict)
	}
	delete(f.roles, k)
	return nil
}

func (f *fakeStore) PutRolePolicy(_ context.Context, p store.RolePolicy) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	k := strings.ToLower(p.RoleName)
	r, ok := f.roles[k]
	if !ok {
		return notFound("role")
	}
	if f.inline[k] == nil {
		f.inline[k] = map[string]store.RolePolicy{}
	}
	p.RoleName = r.Name
	f.inline[k][p.Name] = p
	return nil
}

func (f *fakeStore) GetRolePolicy(_ context.Context, role, name string) (store.RolePolicy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.RolePolicy{}, f.fail
	}
	p, ok := f.inline[strings.ToLower(role)][name]
	if !ok {
		return store.RolePolicy{}, notFound("role policy")
	}
	return p, nil
}

func (f *fakeStore) DeleteRolePolicy(_ context.Context, role, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	k := strings.ToLower(role)
	if _, ok := f.inline[k][name]; !ok {
		return notFound("role policy")
	}
	delete(f.inline[k], name)
	return nil
}

func (f *fakeStore) ListRolePolicies(_ context.Context, role string) ([]store.RolePolicy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	k := strings.ToLower(role)
	if _, ok := f.roles[k]; !ok {
		return nil, notFound("role")
	}
	var out []store.RolePolicy
	for _, p := range f.inline[k] {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeStore) countAttachments(policyARN string) int {
	n := 0
	for _, arns := range f.attached {
		if slices.Contains(arns, policyARN) {
			n++
		}
	}
	return n
}

func (f *fakeStore) CreatePolicy(_ context.Context, p store.ManagedPolicy) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if _, ok := f.policies[p.ARN]; ok {
		return fmt.Errorf("fake: %w", store.ErrAlreadyExists)
	}
	if len(p.Versions) == 0 {
		p.DefaultVersion, p.LastVersion = "v1", 1
		p.Versions = []store.PolicyVersion{{ID: "v1", Document: p.Document, CreateDate: p.CreateDate}}
	}
	f.policies[p.ARN] = clonePolicy(p)
	return nil
}

func clonePolicy(p store.ManagedPolicy) store.ManagedPolicy {
	p.Tags = slices.Clone(p.Tags)
	p.Versions = slices.Clone(p.Versions)
	return p
}

func (f *fakeStore) UpdatePolicy(_ context.Context, arn string, fn func(*store.ManagedPolicy) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	p, ok := f.policies[arn]
	if !ok {
		return notFound("policy")
	}
	p = clonePolicy(p)
	if err := fn(&p); err != nil {
		return err
	}
	f.policies[arn] = p
	return nil
}

func (f *fakeStore) GetPolicy(_ context.Context, arn string) (store.ManagedPolicy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.ManagedPolicy{}, f.fail
	}
	p, ok := f.policies[arn]
	if !ok {
		return store.ManagedPolicy{}, notFound("policy")
	}
	p.AttachmentCount = f.countAttachments(arn)
	return p, nil
}

func (f *fakeStore) ListPolicies(context.Context) ([]store.ManagedPolicy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []store.ManagedPolicy
	for _, p := range f.policies {
		p.AttachmentCount = f.countAttachments(p.ARN)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeStore) DeletePolicy(_ context.Context, arn string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if _, ok := f.policies[arn]; !ok {
		return notFound("policy")
	}
	if f.countAttachments(arn) > 0 {
		return fmt.Errorf("fake: %w", store.ErrConflict)
	}
	delete(f.policies, arn)
	return nil
}

func (f *fakeStore) AttachRolePolicy(_ context.Context, role, policyARN string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	k := strings.ToLower(role)
	if _, ok := f.roles[k]; !ok {
		return notFound("role")
	}
	if _, ok := f.policies[policyARN]; !ok {
		return notFound("policy")
	}
	if !slices.Contains(f.attached[k], policyARN) {
		f.attached[k] = append(f.attached[k], policyARN)
	}
	return nil
}

func (f *fakeStore) DetachRolePolicy(_ context.Context, role, policyARN string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	k := strings.ToLower(role)
	i := slices.Index(f.attached[k], policyARN)
	if i < 0 {
		return notFound("attachment")
	}
	f.attached[k] = slices.Delete(f.attached[k], i, i+1)
	return nil
}

func (f *fakeStore) ListAttachedRolePolicies(_ context.Context, role string) ([]store.ManagedPolicy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	k := strings.ToLower(role)
	if _, ok := f.roles[k]; !ok {
		return nil, notFound("role")
	}
	var out []store.ManagedPolicy
	for _, a := range f.attached[k] {
		p := f.policies[a]
		p.AttachmentCount = f.countAttachments(a)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
