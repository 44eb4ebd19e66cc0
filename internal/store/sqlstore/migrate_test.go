package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keylessci/keyless/internal/store"
)

// A data dir written by a binary that knew only schema version 2 (managed
// policies without versions) opens with this binary: the migration adds the
// version columns and the old policy reads back with one version, v1, that
// CreatePolicyVersion can build on.
func TestMigrateVersion1Policies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyless.db")
	all := migrations
	migrations = all[:2] // what the older binary applied
	old, err := Open(context.Background(), Config{URL: "sqlite://" + path})
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`
	if _, err := old.wdb.Exec(`INSERT INTO policies (arn, name, path, id, document, description, tags, create_date, update_date)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, "arn:aws:iam::000000000000:policy/old", "old", "/", "ANPA00000000000000001",
		doc, "", "[]", created.UnixMicro(), created.UnixMicro()); err != nil {
		t.Fatal(err)
	}
	old.Close()

	s := openSQLite(t, path)
	got, err := s.GetPolicy(context.Background(), "arn:aws:iam::000000000000:policy/old")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.PolicyVersion{{ID: "v1", Document: doc, CreateDate: created}}
	if got.DefaultVersion != "v1" || got.LastVersion != 1 || !cmp.Equal(got.Versions, want) {
		t.Errorf("migrated policy: default %q, last %d, versions %+v", got.DefaultVersion, got.LastVersion, got.Versions)
	}
	v2 := store.PolicyVersion{ID: "v2", Document: `{"Version":"2012-10-17","Statement":[]}`, CreateDate: created.Add(time.Hour)}
	if err := s.UpdatePolicy(context.Background(), got.ARN, func(p *store.ManagedPolicy) error {
		p.Versions = append(p.Versions, v2)
		p.DefaultVersion, p.LastVersion, p.Document = "v2", 2, v2.Document
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetPolicy(context.Background(), got.ARN)
	if err != nil {
		t.Fatal(err)
	}
	if want = append(want, v2); got.DefaultVersion != "v2" || !cmp.Equal(got.Versions, want) {
		t.Errorf("after a new version: default %q, versions %+v", got.DefaultVersion, got.Versions)
	}
}
