package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// migrations is the versioned schema: migrations[i] brings the database to
// version i+1. Entries are only ever appended. DDL is written for SQLite and
// adapted by the dialect (BLOB → BYTEA).
//
// Times are BIGINT microseconds since the Unix epoch in UTC, NULL for the
// zero time; lists and tags are JSON text.
var migrations = [][]string{
	{
		`CREATE TABLE store_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)`,
		`INSERT INTO store_version (id, version) VALUES (1, 0)`,
		`CREATE TABLE providers (
			url TEXT PRIMARY KEY,
			client_ids TEXT NOT NULL,
			thumbprints TEXT NOT NULL,
			tags TEXT NOT NULL,
			create_date BIGINT
		)`,
		`CREATE TABLE roles (
			name_key TEXT PRIMARY KEY, -- lower-cased name: names are unique case-insensitively
			name TEXT NOT NULL,
			path TEXT NOT NULL,
			id TEXT NOT NULL,
			trust_policy TEXT NOT NULL,
			description TEXT NOT NULL,
			max_session_duration BIGINT NOT NULL,
			permissions_boundary TEXT NOT NULL,
			tags TEXT NOT NULL,
			create_date BIGINT,
			last_used BIGINT,
			last_used_region TEXT NOT NULL
		)`,
		`CREATE TABLE role_policies (
			role_key TEXT NOT NULL REFERENCES roles (name_key),
			name TEXT NOT NULL,
			document TEXT NOT NULL,
			PRIMARY KEY (role_key, name)
		)`,
		`CREATE TABLE policies (
			arn TEXT PRIMARY KEY,
			name TEXT NOT NULL,
			path TEXT NOT NULL,
			id TEXT NOT NULL,
			document TEXT NOT NULL,
			description TEXT NOT NULL,
			tags TEXT NOT NULL,
			create_date BIGINT,
			update_date BIGINT
		)`,
		`CREATE INDEX policies_name ON policies (name)`,
		`CREATE TABLE attachments (
			role_key TEXT NOT NULL REFERENCES roles (name_key),
			policy_arn TEXT NOT NULL REFERENCES policies (arn),
			PRIMARY KEY (role_key, policy_arn)
		)`,
		`CREATE INDEX attachments_policy ON attachments (policy_arn)`,
		`CREATE TABLE issuers (
			id TEXT PRIMARY KEY,
			profile TEXT NOT NULL,
			url TEXT NOT NULL UNIQUE,
			alg TEXT NOT NULL,
			config BLOB NOT NULL,
			create_date BIGINT
		)`,
		`CREATE TABLE signing_keys (
			issuer_id TEXT NOT NULL REFERENCES issuers (id),
			kid TEXT NOT NULL,
			alg TEXT NOT NULL,
			public BLOB NOT NULL,
			sealed BLOB NOT NULL,
			created_at BIGINT,
			sign_from BIGINT,
			sign_until BIGINT,
			publish_end BIGINT,
			PRIMARY KEY (issuer_id, kid)
		)`,
		`CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)`,
	},
	{
		// Runner credential revocations (security round 2).
		`CREATE TABLE revocations (
			issuer_id TEXT NOT NULL,
			access_key_id TEXT NOT NULL, -- '' revokes every set issued before issued_before
			issued_before BIGINT,
			expires BIGINT NOT NULL,
			PRIMARY KEY (issuer_id, access_key_id)
		)`,
	},
	// 3: managed policy versions. Rows written before it read back with one
	// version, v1 (versions '' means exactly that).
	{
		`ALTER TABLE policies ADD COLUMN default_version TEXT NOT NULL DEFAULT 'v1'`,
		`ALTER TABLE policies ADD COLUMN last_version BIGINT NOT NULL DEFAULT 1`,
		`ALTER TABLE policies ADD COLUMN versions TEXT NOT NULL DEFAULT ''`,
	},
	// 4: the decision log (package decision). claims and trace are JSON
	// text, '' when absent; latency is in microseconds.
	{
		`CREATE TABLE decisions (
			id TEXT PRIMARY KEY,
			at BIGINT NOT NULL,
			request_id TEXT NOT NULL,
			source_ip TEXT NOT NULL,
			user_agent TEXT NOT NULL,
			action TEXT NOT NULL,
			role_arn TEXT NOT NULL,
			role_name TEXT NOT NULL,
			provider TEXT NOT NULL,
			subject TEXT NOT NULL,
			principal TEXT NOT NULL,
			decision TEXT NOT NULL,
			error_code TEXT NOT NULL,
			reason TEXT NOT NULL,
			closest_miss TEXT NOT NULL,
			fix TEXT NOT NULL,
			latency BIGINT NOT NULL,
			claims TEXT NOT NULL,
			trace TEXT NOT NULL
		)`,
		`CREATE INDEX decisions_at ON decisions (at, id)`,
		`CREATE INDEX decisions_role ON decisions (role_arn, at)`,
	},
	// 5: the decision log in batches (decisions.go, batch.go): a row per
	// batch, and per batch the distinct values filters look for. The rows
	// of version 4's decisions table move into batches (migrateSteps).
	{
		`CREATE TABLE decision_batches (
			id_min TEXT PRIMARY KEY,
			id_max TEXT NOT NULL,
			at_min BIGINT NOT NULL,
			at_max BIGINT NOT NULL,
			n INTEGER NOT NULL,
			body BLOB NOT NULL
		)`,
		`CREATE INDEX decision_batches_at ON decision_batches (at_max, id_min)`,
		`CREATE INDEX decision_batches_id_max ON decision_batches (id_max)`,
		`CREATE TABLE decision_keys (
			batch TEXT NOT NULL,
			field TEXT NOT NULL,
			value TEXT NOT NULL,
			PRIMARY KEY (batch, field, value)
		) WITHOUT ROWID`,
		`CREATE INDEX decision_keys_value ON decision_keys (field, value, batch)`,
	},
}

// migrateTimeout is the least time a migration may take.
const migrateTimeout = 10 * time.Minute

// migrateSteps run in Go after the statements of the version they are
// keyed by, in the same transaction.
var migrateSteps = map[int]func(context.Context, querier) error{
	5: moveDecisionsToBatches,
}

// schemaVersion reads the applied version through the read pool.
func (s *Store) schemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.read(ctx, "read schema version", func(ctx context.Context, q querier) error {
		return q.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&v)
	})
	return v, err
}

// migrate applies pending migrations in one transaction. On PostgreSQL an
// advisory transaction lock makes replicas that start together take turns;
// the second finds the work done. A database already current is not written
// to at all, so a read-only SQLite file still opens for reading.
func (s *Store) migrate(ctx context.Context) error {
	if v, err := s.schemaVersion(ctx); err == nil {
		if v > len(migrations) {
			return fmt.Errorf("sqlstore: database schema version %d is newer than this binary supports (%d)", v, len(migrations))
		}
		if v == len(migrations) {
			return nil
		}
	}
	// It may wait for another replica's migration, and a migration that
	// moves data (version 5 moves the decision log) takes as long as the
	// data takes: a start-up step, bounded generously.
	timeout := max(openTimeout(s.timeout), migrateTimeout)
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sqlTx, err := s.wdb.BeginTx(tctx, nil)
	if err != nil {
		return s.mapErr(ctx, "migrate", err)
	}
	defer sqlTx.Rollback() //nolint:errcheck // no-op after Commit
	t := rebound{s.d, sqlTx}
	if s.d.migrationLock != "" {
		if _, err := t.ExecContext(tctx, s.d.migrationLock); err != nil {
			return s.mapErr(ctx, "migrate: lock", err)
		}
	}
	if _, err := t.ExecContext(tctx, `CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return s.mapErr(ctx, "migrate: schema_version", err)
	}
	var current int
	if err := t.QueryRowContext(tctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&current); err != nil {
		return s.mapErr(ctx, "migrate: read version", err)
	}
	if current > len(migrations) {
		return fmt.Errorf("sqlstore: database schema version %d is newer than this binary supports (%d)", current, len(migrations))
	}
	for i := current; i < len(migrations); i++ {
		for _, stmt := range migrations[i] {
			if _, err := t.ExecContext(tctx, s.d.ddl.Replace(stmt)); err != nil {
				return s.mapErr(ctx, fmt.Sprintf("migrate to version %d", i+1), err)
			}
		}
		if step := migrateSteps[i+1]; step != nil {
			if err := step(tctx, t); err != nil {
				return s.mapErr(ctx, fmt.Sprintf("migrate to version %d", i+1), err)
			}
		}
		if _, err := t.ExecContext(tctx, "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", i+1, s.now().UnixMicro()); err != nil {
			return s.mapErr(ctx, fmt.Sprintf("migrate to version %d", i+1), err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return s.mapErr(ctx, "migrate: commit", err)
	}
	return nil
}
