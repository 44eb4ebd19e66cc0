package sqlstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/store/sqlstore/pgtest"
	"github.com/keylessci/keyless/internal/store/storetest"
)

func openURL(t *testing.T, url string, timeout time.Duration) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{URL: url, QueryTimeout: timeout})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster; skipped with -short")
	}
	srv := pgtest.StartServer(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openURL(t, srv.NewDatabase(t), 0)
	})
}

// Several replicas starting at once on an empty database: the advisory lock
// makes them take turns, every Open succeeds and the schema is applied once.
func TestPostgresConcurrentMigrations(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster; skipped with -short")
	}
	url := pgtest.Start(t)
	const replicas = 6
	stores := make([]*Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), Config{URL: url}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var rows, max int
	if err := stores[0].db.QueryRow("SELECT COUNT(*), MAX(version) FROM schema_version").Scan(&rows, &max); err != nil {
		t.Fatal(err)
	}
	if rows != len(migrations) || max != len(migrations) {
		t.Errorf("schema_version has %d rows up to %d, want %d", rows, max, len(migrations))
	}
	// Conflicting creates on different replicas: exactly one wins.
	created := make([]error, 2*replicas)
	for i := range created {
		wg.Go(func() { created[i] = stores[i%replicas].CreateRole(context.Background(), store.Role{Name: "Same"}) })
	}
	wg.Wait()
	won := 0
	for _, err := range created {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrAlreadyExists):
			t.Errorf("create: %v, want nil or ErrAlreadyExists", err)
		}
	}
	if won != 1 {
		t.Errorf("%d replicas created the role, want exactly 1", won)
	}
	// A write on one replica is visible on another.
	if err := stores[1].CreateRole(context.Background(), store.Role{Name: "Deploy"}); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[4].GetRole(context.Background(), "deploy"); err != nil {
		t.Errorf("other replica: %v", err)
	}
}

// While PostgreSQL is down calls fail with ErrUnavailable instead of hanging,
// and the store recovers by itself when it returns.
func TestPostgresDownFailsFastAndRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster; skipped with -short")
	}
	srv := pgtest.StartServer(t)
	const timeout = 2 * time.Second
	s := openURL(t, srv.NewDatabase(t), timeout)
	ctx := context.Background()
	if err := s.CreateRole(ctx, store.Role{Name: "before"}); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	calls := map[string]func() error{
		"GetRole":    func() error { _, err := s.GetRole(ctx, "before"); return err },
		"CreateRole": func() error { return s.CreateRole(ctx, store.Role{Name: "during"}) },
		"Version":    func() error { _, err := s.Version(ctx); return err },
		"Ping":       func() error { return s.Ping(ctx) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := call()
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("error = %v, want ErrUnavailable", err)
			}
			// Not a performance assertion: a hang-check with ample slack
			// over the configured QueryTimeout.
			if d := time.Since(start); d > timeout+5*time.Second {
				t.Errorf("call took %v with QueryTimeout %v: it hung", d, timeout)
			}
		})
	}

	srv.Start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := s.GetRole(ctx, "before")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after PostgreSQL came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.CreateRole(ctx, store.Role{Name: "after"}); err != nil {
		t.Errorf("write after recovery: %v", err)
	}
}
