package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// fakeStore counts reads so tests can see what the cache saved.
type fakeStore struct {
	mu        sync.Mutex
	roles     map[string]store.Role
	inline    map[string][]store.RolePolicy
	providers map[string]store.Provider
	policies  map[string]store.ManagedPolicy
	version   int64
	down      bool
	roleReads int
	provReads int
	revoked   []store.Revocation
	revReads  int
	// afterRead, when set, runs after GetRole or GetProvider has read its
	// answer and before it returns it (outside the lock): a write landing
	// in the middle of a load.
	afterRead func()
}

const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`

func newFake() *fakeStore {
	return &fakeStore{
		roles:     map[string]store.Role{"deploy": {Name: "Deploy", Path: "/ci/", TrustPolicy: trust, ID: "AROAEXAMPLE0000000001"}},
		inline:    map[string][]store.RolePolicy{"deploy": {{RoleName: "Deploy", Name: "p", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`}}},
		providers: map[string]store.Provider{"example.com": {URL: "example.com", ClientIDs: []string{"a"}}},
		policies:  map[string]store.ManagedPolicy{},
	}
}

var errDown = fmt.Errorf("db down: %w", store.ErrUnavailable)

func (f *fakeStore) GetRole(_ context.Context, name string) (store.Role, error) {
	f.mu.Lock()
	defer f.hook()
	defer f.mu.Unlock()
	f.roleReads++
	if f.down {
		return store.Role{}, errDown
	}
	r, ok := f.roles[strings.ToLower(name)]
	if !ok {
		return store.Role{}, store.ErrNotFound
	}
	return r, nil
}

// hook runs afterRead (deferred before the unlock, so it runs after it).
func (f *fakeStore) hook() {
	f.mu.Lock()
	fn := f.afterRead
	f.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func (f *fakeStore) ListRolePolicies(_ context.Context, role string) ([]store.RolePolicy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inline[strings.ToLower(role)], nil
}

func (f *fakeStore) ListAttachedRolePolicies(context.Context, string) ([]store.ManagedPolicy, error) {
	return nil, nil
}

func (f *fakeStore) GetProvider(_ context.Context, url string) (store.Provider, error) {
	f.mu.Lock()
	defer f.hook()
	defer f.mu.Unlock()
	f.provReads++
	if f.down {
		return store.Provider{}, errDown
	}
	p, ok := f.providers[url]
	if !ok {
		return store.Provider{}, store.ErrNotFound
	}
	return p, nil
}

func (f *fakeStore) GetPolicy(_ context.Context, arn string) (store.ManagedPolicy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.policies[arn]
	if !ok {
		return p, store.ErrNotFound
	}
	return p, nil
}

func (f *fakeStore) ListRevocations(_ context.Context, now time.Time) ([]store.Revocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revReads++
	if f.down {
		return nil, errDown
	}
	var out []store.Revocation
	for _, r := range f.revoked {
		if !r.Expires.Before(now) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeStore) Version(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, errDown
	}
	return f.version, nil
}

func newDir(t *testing.T, f *fakeStore) *Directory {
	t.Helper()
	d, err := New(Config{Store: f, Account: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRoleIsCompiledAndCached(t *testing.T) {
	f := newFake()
	d := newDir(t, f)
	ctx := context.Background()
	r, err := d.Role(ctx, "DEPLOY")
	if err != nil {
		t.Fatal(err)
	}
	if r.ARN != "arn:aws:iam::123456789012:role/ci/Deploy" || r.Trust == nil || len(r.Permissions) != 1 {
		t.Fatalf("role = %+v", r)
	}
	if _, err := d.Role(ctx, "deploy"); err != nil {
		t.Fatal(err)
	}
	if f.roleReads != 1 {
		t.Errorf("store read %d times, want 1 (case-insensitive cache hit)", f.roleReads)
	}
}

func TestInvalidation(t *testing.T) {
	tests := []struct {
		name       string
		invalidate func(*Directory, *fakeStore)
		wantReads  int
	}{
		{"local write invalidates at once", func(d *Directory, _ *fakeStore) { d.Invalidate() }, 2},
		{"another replica's write is seen at the next refresh", func(d *Directory, f *fakeStore) {
			f.version++
			if err := d.Refresh(context.Background()); err != nil {
				panic(err)
			}
		}, 2},
		{"refresh without a write keeps the cache", func(d *Directory, _ *fakeStore) { _ = d.Refresh(context.Background()) }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			d := newDir(t, f)
			ctx := context.Background()
			_ = d.Refresh(ctx)
			if _, err := d.Role(ctx, "deploy"); err != nil {
				t.Fatal(err)
			}
			tt.invalidate(d, f)
			if _, err := d.Role(ctx, "deploy"); err != nil {
				t.Fatal(err)
			}
			if f.roleReads != tt.wantReads {
				t.Errorf("store reads = %d, want %d", f.roleReads, tt.wantReads)
			}
		})
	}
}

func TestNotFoundIsCachedButOutageIsNot(t *testing.T) {
	f := newFake()
	d := newDir(t, f)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := d.Role(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Role(nope) = %v, want ErrNotFound", err)
		}
		if _, err := d.Provider(ctx, "nope.example"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Provider(nope) = %v, want ErrNotFound", err)
		}
	}
	if f.roleReads != 1 || f.provReads != 1 {
		t.Errorf("reads role=%d provider=%d, want 1 each (negative caching)", f.roleReads, f.provReads)
	}
	// During an outage: cached entries keep serving, uncached ones fail
	// with ErrUnavailable and are not cached.
	if _, err := d.Role(ctx, "deploy"); err != nil {
		t.Fatal(err)
	}
	f.down = true
	if err := d.Refresh(ctx); err == nil {
		t.Error("Refresh during an outage returned nil")
	}
	if _, err := d.Role(ctx, "deploy"); err != nil {
		t.Errorf("cached role during outage: %v", err)
	}
	if _, err := d.Provider(ctx, "other.example"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("uncached provider during outage = %v, want ErrUnavailable", err)
	}
	f.down = false
	f.providers["other.example"] = store.Provider{URL: "other.example"}
	if _, err := d.Provider(ctx, "other.example"); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

func TestSessionPolicies(t *testing.T) {
	f := newFake()
	arn := "arn:aws:iam::123456789012:policy/read"
	f.policies[arn] = store.ManagedPolicy{ARN: arn, Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}`}
	d := newDir(t, f)
	ctx := context.Background()
	tests := []struct {
		name    string
		doc     string
		arns    []string
		want    int
		wantErr error
	}{
		{"none", "", nil, 0, nil},
		{"inline and managed", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, []string{arn}, 2, nil},
		{"deleted managed policy", "", []string{arn + "-gone"}, 0, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := d.SessionPolicies(ctx, tt.doc, tt.arns)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(ps) != tt.want {
				t.Fatalf("got %d policies, err %v; want %d", len(ps), err, tt.want)
			}
		})
	}
}

func TestBoundaryIsCompiled(t *testing.T) {
	f := newFake()
	r := f.roles["deploy"]
	r.PermissionsBoundary = "arn:aws:iam::123456789012:policy/bound"
	f.roles["deploy"] = r
	d := newDir(t, f)
	got, err := d.Role(context.Background(), "deploy")
	if err != nil {
		t.Fatal(err)
	}
	if got.Boundary != nil || !errors.Is(got.BoundaryErr, store.ErrNotFound) {
		t.Errorf("missing boundary: Boundary %v, BoundaryErr %v; want a not-found error", got.Boundary, got.BoundaryErr)
	}
	f.policies[r.PermissionsBoundary] = store.ManagedPolicy{ARN: r.PermissionsBoundary,
		Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`}
	d.Invalidate()
	if got, err = d.Role(context.Background(), "deploy"); err != nil || got.Boundary == nil || got.BoundaryErr != nil {
		t.Errorf("boundary not compiled: %v %v %v", got.Boundary, got.BoundaryErr, err)
	}
}

func TestRunnerRevoked(t *testing.T) {
	f := newFake()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.revoked = []store.Revocation{
		{IssuerID: "a", AccessKeyID: "ASIAONE", Expires: t0.Add(time.Hour)},
		{IssuerID: "b", IssuedBefore: t0, Expires: t0.Add(time.Hour)},
	}
	d := newDir(t, f)
	tests := []struct {
		name, issuer, key string
		issued            time.Time
		want              bool
	}{
		{"revoked key", "a", "ASIAONE", t0, true},
		{"other key of the issuer", "a", "ASIATWO", t0, false},
		{"same key id, other issuer", "c", "ASIAONE", t0, false},
		{"issued before an issuer-wide revocation", "b", "ASIAANY", t0.Add(-time.Second), true},
		{"issued at or after it", "b", "ASIAANY", t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.RunnerRevoked(context.Background(), tt.issuer, tt.key, tt.issued, t0)
			if err != nil || got != tt.want {
				t.Errorf("RunnerRevoked = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if f.revReads != 1 {
		t.Errorf("revocations read %d times, want once per store version", f.revReads)
	}
	f.revoked = append(f.revoked, store.Revocation{IssuerID: "a", AccessKeyID: "ASIATWO", Expires: t0.Add(time.Hour)})
	f.version++
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.RunnerRevoked(context.Background(), "a", "ASIATWO", t0, t0); !got {
		t.Error("a revocation written by another replica is not seen after Refresh")
	}
	f.down = true
	d.Invalidate()
	if _, err := d.RunnerRevoked(context.Background(), "a", "ASIATWO", t0, t0); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("store down: err %v, want ErrUnavailable", err)
	}
}

// TestLoadRacingAWriteIsNotCached: a load that read the store before a
// write committed (and invalidated) must not put what it read back into the
// cache, or the old role would serve until the next write. The write runs
// on another goroutine while the load is parked inside the store read, so
// -race sees both.
func TestLoadRacingAWriteIsNotCached(t *testing.T) {
	tests := []struct {
		name  string
		load  func(d *Directory) (string, error) // what the cache serves
		write func(f *fakeStore)                 // under f.mu
		old   string
		new   string
	}{
		{"role", func(d *Directory) (string, error) {
			r, err := d.Role(context.Background(), "deploy")
			if err != nil {
				return "", err
			}
			return r.ID, nil
		}, func(f *fakeStore) {
			r := f.roles["deploy"]
			r.ID = "AROAEXAMPLE0000000002"
			f.roles["deploy"] = r
		}, "AROAEXAMPLE0000000001", "AROAEXAMPLE0000000002"},
		{"provider", func(d *Directory) (string, error) {
			p, err := d.Provider(context.Background(), "example.com")
			if err != nil {
				return "", err
			}
			return strings.Join(p.ClientIDs, ","), nil
		}, func(f *fakeStore) {
			p := f.providers["example.com"]
			p.ClientIDs = []string{"b"}
			f.providers["example.com"] = p
		}, "a", "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			d := newDir(t, f)
			parked, written := make(chan struct{}), make(chan struct{})
			go func() { // the writer: commits, then announces, while the load is parked
				<-parked
				f.mu.Lock()
				tt.write(f)
				f.version++
				f.mu.Unlock()
				d.Invalidate()
				close(written)
			}()
			var once sync.Once
			f.mu.Lock()
			f.afterRead = func() {
				once.Do(func() {
					close(parked)
					<-written
				})
			}
			f.mu.Unlock()
			got, err := tt.load(d)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.old {
				t.Fatalf("racing load = %q, want what it read, %q", got, tt.old)
			}
			f.mu.Lock()
			f.afterRead = nil
			f.mu.Unlock()
			if got, err = tt.load(d); err != nil || got != tt.new {
				t.Errorf("after the write the cache serves %q (%v), want %q", got, err, tt.new)
			}
		})
	}
}
