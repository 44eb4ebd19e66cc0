package testkit

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keylessci/keyless/internal/store/sqlstore"
)

// Store returns a new, empty SQLite store in a temporary directory of t,
// closed when t ends. It is the store the unit tests use: the production
// backend, so that what they rely on is what storetest checks (see
// TestStorePassesContract).
func Store(t testing.TB) *sqlstore.Store {
	t.Helper()
	return StoreAt(t, filepath.Join(t.TempDir(), "keyless.db"))
}

// StoreAt opens the SQLite store at path (created when missing), closed
// when t ends; two StoreAt calls on one path are two replicas of one store.
// Commits are not synced to disk (sqlstore.SyncProcess): a test's store is
// thrown away, and an fsync on a loaded machine can stall for seconds.
func StoreAt(t testing.TB, path string) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: path, Sync: sqlstore.SyncProcess})
	if err != nil {
		t.Fatalf("open test store %s: %v", path, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}
