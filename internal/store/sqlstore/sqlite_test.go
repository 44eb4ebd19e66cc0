package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/store/storetest"
)

func openSQLite(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{URL: "sqlite://" + path})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "keyless.db"))
	})
}

func TestOpenURLForms(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "a.db")
	tests := []struct {
		name, url, file string
	}{
		{"sqlite scheme absolute", "sqlite://" + abs, abs},
		{"sqlite opaque", "sqlite:" + abs, abs},
		{"plain path", filepath.Join(dir, "b.db"), filepath.Join(dir, "b.db")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), Config{URL: tc.url})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.CreateRole(context.Background(), store.Role{Name: tc.name}); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tc.file); err != nil {
				t.Errorf("database file: %v", err)
			}
		})
	}
}

// TestSyncModes: each mode sets SQLite's synchronous pragma on the writer
// (FULL = 2, NORMAL = 1; NORMAL in WAL mode stays crash-safe).
func TestSyncModes(t *testing.T) {
	for _, tc := range []struct {
		name string
		sync Sync
		want int
	}{{"default is FULL", SyncFull, 2}, {"SyncProcess is NORMAL", SyncProcess, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), Config{URL: filepath.Join(t.TempDir(), "x.db"), Sync: tc.sync})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var got int
			if err := s.wdb.QueryRowContext(context.Background(), "PRAGMA synchronous").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("synchronous = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"empty URL", Config{}},
		{"memory database", Config{URL: ":memory:"}},
		{"query in path", Config{URL: "sqlite:///tmp/x.db?mode=ro"}},
		{"file URI", Config{URL: "file:x.db"}},
		{"negative timeout", Config{URL: filepath.Join(t.TempDir(), "x.db"), QueryTimeout: -1}},
		{"negative pool", Config{URL: filepath.Join(t.TempDir(), "x.db"), MaxOpenConns: -1}},
		{"unknown sync mode", Config{URL: filepath.Join(t.TempDir(), "x.db"), Sync: SyncProcess + 1}},
		{"bad postgres URL", Config{URL: "postgres://u@host:notaport/db"}},
		{"missing directory", Config{URL: filepath.Join(t.TempDir(), "no", "such", "x.db")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if testing.Verbose() {
				t.Log(err)
			}
		})
	}
}

func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c IN (?, ?)"
	if got := sqliteDialect.rebind(q); got != q {
		t.Errorf("sqlite rebind = %q", got)
	}
	want := "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
	if got := postgresDialect.rebind(q); got != want {
		t.Errorf("postgres rebind = %q, want %q", got, want)
	}
}

// Two stores on one file (a restarted server overlapping the old one, or
// two processes): concurrent writes from both wait for each other instead of
// failing with SQLITE_BUSY.
func TestSQLiteTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyless.db")
	a, b := openSQLite(t, path), openSQLite(t, path)
	const perStore = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*perStore)
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			for j := range perStore {
				errs <- s.CreateRole(context.Background(), store.Role{Name: fmt.Sprintf("r-%d-%d", i, j)})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	roles, err := b.ListRoles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) != 2*perStore {
		t.Errorf("%d roles, want %d", len(roles), 2*perStore)
	}
}

// TestSQLiteMigratesVersion1Data: a database written by a binary that knew
// only the first schema version is migrated on open and keeps its data.
func TestSQLiteMigratesVersion1Data(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyless.db")
	all := migrations
	migrations = all[:1]
	old, err := Open(ctx, Config{URL: "sqlite://" + path})
	if err != nil {
		migrations = all
		t.Fatal(err)
	}
	role := store.Role{Name: "kept", Path: "/", ID: "AROA00000000000000001", TrustPolicy: "{}", MaxSessionDuration: 3600}
	err = old.CreateRole(ctx, role)
	old.Close()
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	s := openSQLite(t, path)
	if v, err := s.schemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d (%v), want %d", v, err, len(migrations))
	}
	if got, err := s.GetRole(ctx, "kept"); err != nil || got.ID != role.ID {
		t.Errorf("role after migration: %+v, %v", got, err)
	}
	if err := s.PutRevocation(ctx, store.Revocation{IssuerID: "i", AccessKeyID: "ASIAX", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Errorf("revocations after migration: %v", err)
	}
}
