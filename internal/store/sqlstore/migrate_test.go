package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/store/sqlstore/pgtest"
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

// A data dir whose decision log was written one row per decision (schema
// version 4) opens with its decisions moved into batches: every one reads
// back whole, in order, and the old table is gone.
func TestMigrateVersion4Decisions(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testMigrateVersion4Decisions(t, "sqlite://"+filepath.Join(t.TempDir(), "keyless.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts a PostgreSQL cluster; skipped with -short")
		}
		testMigrateVersion4Decisions(t, pgtest.Start(t))
	})
}

func testMigrateVersion4Decisions(t *testing.T, url string) {
	all := migrations
	migrations = all[:4]
	old, err := Open(context.Background(), Config{URL: url})
	migrations = all
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var want []store.Decision
	for i := range 2*maxBatchRecords + 5 {
		d := store.Decision{ID: fmt.Sprintf("d%05d", i), Time: base.Add(time.Duration(i) * time.Millisecond), RequestID: fmt.Sprint("req-", i),
			Action: "sts:AssumeRoleWithWebIdentity", RoleARN: "arn:aws:iam::000000000000:role/r" + fmt.Sprint(i%3), RoleName: "r" + fmt.Sprint(i%3),
			Subject: fmt.Sprint("sub-", i%7), Decision: "allow", Latency: time.Duration(i) * time.Microsecond}
		if i%2 == 0 {
			d.Decision, d.ErrorCode, d.Claims, d.Trace = "deny", "AccessDenied", []byte(`{"sub":"x"}`), []byte(`{"decision":"implicitDeny"}`)
		}
		if _, err := (rebound{old.d, old.wdb}).ExecContext(context.Background(), `INSERT INTO decisions (`+v4DecisionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.Time.UnixMicro(), d.RequestID, d.SourceIP, d.UserAgent, d.Action, d.RoleARN, d.RoleName, d.Provider, d.Subject,
			d.Principal, d.Decision, d.ErrorCode, d.Reason, d.ClosestMiss, d.Fix, d.Latency.Microseconds(), string(d.Claims), string(d.Trace)); err != nil {
			t.Fatal(err)
		}
		want = append([]store.Decision{d}, want...)
	}
	old.Close()

	s := openURL(t, url, 0)
	var got []store.Decision
	f := store.DecisionFilter{Limit: maxDecisionPage}
	for {
		page, err := s.ListDecisions(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < f.Limit {
			break
		}
		f.After = &store.DecisionKey{Time: page[len(page)-1].Time, ID: page[len(page)-1].ID}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("migrated decisions (-want +got):\n%s", diff)
	}
	roleR1, err := s.ListDecisions(context.Background(), store.DecisionFilter{RoleName: "r1", Decision: "deny", Limit: maxDecisionPage})
	wantR1 := 0
	for _, d := range want {
		if d.RoleName == "r1" && d.Decision == "deny" {
			wantR1++
		}
	}
	if err != nil || len(roleR1) != wantR1 {
		t.Errorf("role r1 denials after migration: %d, %v", len(roleR1), err)
	}
	if _, err := s.db.Exec("SELECT 1 FROM decisions"); err == nil {
		t.Error("the version 4 table is still there")
	}
}
