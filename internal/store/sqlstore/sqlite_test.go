package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

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
