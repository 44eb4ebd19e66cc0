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
	"github.com/keylessci/keyless/internal/testkit"
)

// spyStore is the real store (SQLite in a temp dir, as every package's
// tests use: testkit.Store passes storetest) with instruments a cache test
// needs: read counters, an outage switch and a hook inside a read. Writes
// go to the real store, so its version moves as a replica's write does.
type spyStore struct {
	store.Store
	mu        sync.Mutex
	down      bool
	roleReads int
	provReads int
	revReads  int
	// afterRead, when set, runs after GetRole or GetProvider has read its
	// answer and before it returns it: a write landing in the middle of a
	// load.
	afterRead func()
}

const (
	trust      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`
	s3All      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`
	s3Get      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}`
	s3GetObj   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	deployID   = "AROAEXAMPLE0000000001"
	testAcct   = "123456789012"
	boundARN   = "arn:aws:iam::123456789012:policy/bound"
	readARN    = "arn:aws:iam::123456789012:policy/read"
	otherProvd = "other.example"
)

// newSpy is a real store holding the role Deploy (path /ci/, one inline
// policy) and the provider example.com (client id "a").
func newSpy(t *testing.T, mod ...func(*store.Role)) *spyStore {
	t.Helper()
	f := &spyStore{Store: testkit.Store(t)}
	ctx := context.Background()
	r := store.Role{Name: "Deploy", Path: "/ci/", TrustPolicy: trust, ID: deployID, MaxSessionDuration: 3600, CreateDate: time.Now()}
	for _, m := range mod {
		m(&r)
	}
	f.must(t, f.CreateRole(ctx, r))
	f.must(t, f.PutRolePolicy(ctx, store.RolePolicy{RoleName: "Deploy", Name: "p", Document: s3All}))
	f.must(t, f.CreateProvider(ctx, store.Provider{URL: "example.com", ClientIDs: []string{"a"}, CreateDate: time.Now()}))
	return f
}

func (f *spyStore) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *spyStore) createPolicy(t *testing.T, arn, name, doc string) {
	t.Helper()
	f.must(t, f.CreatePolicy(context.Background(), store.ManagedPolicy{ARN: arn, Name: name, Path: "/",
		ID: "ANPAEXAMPLE" + strings.ToUpper(name), Document: doc, CreateDate: time.Now()}))
}

var errDown = fmt.Errorf("db down: %w", store.ErrUnavailable)

// read counts a read and fails it during an outage.
func (f *spyStore) read(n *int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n != nil {
		*n++
	}
	if f.down {
		return errDown
	}
	return nil
}

func (f *spyStore) setDown(v bool) { f.mu.Lock(); f.down = v; f.mu.Unlock() }

// hook runs afterRead.
func (f *spyStore) hook() {
	f.mu.Lock()
	fn := f.afterRead
	f.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func (f *spyStore) reads() (role, prov, rev int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.roleReads, f.provReads, f.revReads
}

func (f *spyStore) GetRole(ctx context.Context, name string) (store.Role, error) {
	if err := f.read(&f.roleReads); err != nil {
		return store.Role{}, err
	}
	defer f.hook()
	return f.Store.GetRole(ctx, name)
}

func (f *spyStore) GetProvider(ctx context.Context, url string) (store.Provider, error) {
	if err := f.read(&f.provReads); err != nil {
		return store.Provider{}, err
	}
	defer f.hook()
	return f.Store.GetProvider(ctx, url)
}

func (f *spyStore) ListRevocations(ctx context.Context, now time.Time) ([]store.Revocation, error) {
	if err := f.read(&f.revReads); err != nil {
		return nil, err
	}
	return f.Store.ListRevocations(ctx, now)
}

func (f *spyStore) Version(ctx context.Context) (int64, error) {
	if err := f.read(nil); err != nil {
		return 0, err
	}
	return f.Store.Version(ctx)
}

func newDir(t *testing.T, f *spyStore) *Directory {
	t.Helper()
	d, err := New(Config{Store: f, Account: testAcct})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRoleIsCompiledAndCached(t *testing.T) {
	f := newSpy(t)
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
	if roles, _, _ := f.reads(); roles != 1 {
		t.Errorf("store read %d times, want 1 (case-insensitive cache hit)", roles)
	}
}

// replicaWrite is a write another replica makes: straight to the store, so
// only the store's version tells this directory about it.
func replicaWrite(t *testing.T, f *spyStore) {
	t.Helper()
	f.must(t, f.UpdateRole(context.Background(), "Deploy", func(r *store.Role) error {
		r.Description = "changed elsewhere"
		return nil
	}))
}

func TestInvalidation(t *testing.T) {
	tests := []struct {
		name       string
		invalidate func(*testing.T, *Directory, *spyStore)
		wantReads  int
		wantDesc   string // the role's description the cache then serves
	}{
		{"local write invalidates at once", func(_ *testing.T, d *Directory, _ *spyStore) { d.Invalidate() }, 2, ""},
		{"another replica's write is seen at the next refresh", func(t *testing.T, d *Directory, f *spyStore) {
			replicaWrite(t, f)
			if err := d.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
		}, 2, "changed elsewhere"},
		{"refresh without a write keeps the cache", func(_ *testing.T, d *Directory, _ *spyStore) { _ = d.Refresh(context.Background()) }, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSpy(t)
			d := newDir(t, f)
			ctx := context.Background()
			_ = d.Refresh(ctx)
			if _, err := d.Role(ctx, "deploy"); err != nil {
				t.Fatal(err)
			}
			tt.invalidate(t, d, f)
			r, err := d.Role(ctx, "deploy")
			if err != nil {
				t.Fatal(err)
			}
			if roles, _, _ := f.reads(); roles != tt.wantReads {
				t.Errorf("store reads = %d, want %d", roles, tt.wantReads)
			}
			if r.Role.Description != tt.wantDesc {
				t.Errorf("description = %q, want %q", r.Role.Description, tt.wantDesc)
			}
		})
	}
}

func TestNotFoundIsCachedButOutageIsNot(t *testing.T) {
	f := newSpy(t)
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
	if roles, provs, _ := f.reads(); roles != 1 || provs != 1 {
		t.Errorf("reads role=%d provider=%d, want 1 each (negative caching)", roles, provs)
	}
	// During an outage: cached entries keep serving, uncached ones fail
	// with ErrUnavailable and are not cached.
	if _, err := d.Role(ctx, "deploy"); err != nil {
		t.Fatal(err)
	}
	f.setDown(true)
	if err := d.Refresh(ctx); err == nil {
		t.Error("Refresh during an outage returned nil")
	}
	if _, err := d.Role(ctx, "deploy"); err != nil {
		t.Errorf("cached role during outage: %v", err)
	}
	if _, err := d.Provider(ctx, otherProvd); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("uncached provider during outage = %v, want ErrUnavailable", err)
	}
	f.setDown(false)
	f.must(t, f.CreateProvider(ctx, store.Provider{URL: otherProvd, ClientIDs: []string{"a"}, CreateDate: time.Now()}))
	if _, err := d.Provider(ctx, otherProvd); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

func TestSessionPolicies(t *testing.T) {
	f := newSpy(t)
	f.createPolicy(t, readARN, "read", s3Get)
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
		{"inline and managed", s3All, []string{readARN}, 2, nil},
		{"deleted managed policy", "", []string{readARN + "-gone"}, 0, store.ErrNotFound},
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
	f := newSpy(t, func(r *store.Role) { r.PermissionsBoundary = boundARN })
	d := newDir(t, f)
	got, err := d.Role(context.Background(), "deploy")
	if err != nil {
		t.Fatal(err)
	}
	if got.Boundary != nil || !errors.Is(got.BoundaryErr, store.ErrNotFound) {
		t.Errorf("missing boundary: Boundary %v, BoundaryErr %v; want a not-found error", got.Boundary, got.BoundaryErr)
	}
	f.createPolicy(t, boundARN, "bound", s3GetObj)
	d.Invalidate()
	if got, err = d.Role(context.Background(), "deploy"); err != nil || got.Boundary == nil || got.BoundaryErr != nil {
		t.Errorf("boundary not compiled: %v %v %v", got.Boundary, got.BoundaryErr, err)
	}
}

func TestRunnerRevoked(t *testing.T) {
	f := newSpy(t)
	ctx := context.Background()
	// The store drops expired revocations at its own clock (now): t0 is now.
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	f.must(t, f.PutRevocation(ctx, store.Revocation{IssuerID: "a", AccessKeyID: "ASIAONE", Expires: t0.Add(time.Hour)}))
	f.must(t, f.PutRevocation(ctx, store.Revocation{IssuerID: "b", IssuedBefore: t0, Expires: t0.Add(time.Hour)}))
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
			got, err := d.RunnerRevoked(ctx, tt.issuer, tt.key, tt.issued, t0)
			if err != nil || got != tt.want {
				t.Errorf("RunnerRevoked = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, _, revs := f.reads(); revs != 1 {
		t.Errorf("revocations read %d times, want once per store version", revs)
	}
	// Another replica revokes: the store's version moves, Refresh sees it.
	f.must(t, f.PutRevocation(ctx, store.Revocation{IssuerID: "a", AccessKeyID: "ASIATWO", Expires: t0.Add(time.Hour)}))
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.RunnerRevoked(ctx, "a", "ASIATWO", t0, t0); !got {
		t.Error("a revocation written by another replica is not seen after Refresh")
	}
	f.setDown(true)
	d.Invalidate()
	if _, err := d.RunnerRevoked(ctx, "a", "ASIATWO", t0, t0); !errors.Is(err, store.ErrUnavailable) {
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
		write func(f *spyStore) error
		old   string
		new   string
	}{
		{"role", func(d *Directory) (string, error) {
			r, err := d.Role(context.Background(), "deploy")
			if err != nil {
				return "", err
			}
			return r.Role.Description, nil
		}, func(f *spyStore) error {
			return f.UpdateRole(context.Background(), "Deploy", func(r *store.Role) error {
				r.Description = "new"
				return nil
			})
		}, "", "new"},
		{"provider", func(d *Directory) (string, error) {
			p, err := d.Provider(context.Background(), "example.com")
			if err != nil {
				return "", err
			}
			return strings.Join(p.ClientIDs, ","), nil
		}, func(f *spyStore) error {
			return f.UpdateProvider(context.Background(), "example.com", func(p *store.Provider) error {
				p.ClientIDs = []string{"b"}
				return nil
			})
		}, "a", "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSpy(t)
			d := newDir(t, f)
			parked, written := make(chan struct{}), make(chan struct{})
			var werr error
			go func() { // the writer: commits, then announces, while the load is parked
				<-parked
				werr = tt.write(f)
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
			if werr != nil {
				t.Fatal(werr)
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
