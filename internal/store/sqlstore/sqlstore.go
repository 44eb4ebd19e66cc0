// Package sqlstore is the SQL implementation of the storage contract
// (internal/store), with two dialects behind one set of queries: SQLite
// (modernc.org/sqlite, pure Go, the embedded default) and PostgreSQL (pgx/v5,
// for several replicas sharing one database).
//
// It owns the schema, its migrations, transactions, durability settings and
// the mapping of driver errors onto the store sentinels. It does not own what
// the entities mean (iam, sts, issuer do), nor where the URL comes from
// (server does).
//
// Every write runs in one transaction that first bumps a single-row version
// counter. On PostgreSQL that row lock also serializes writers, so every
// check-then-write inside a transaction sees the latest committed state; on
// SQLite one writer connection with BEGIN IMMEDIATE does the same.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// Config configures Open.
type Config struct {
	// URL selects the backend: "postgres://…" or "postgresql://…" is
	// PostgreSQL; "sqlite:///path/to/file.db", "sqlite:path" or a plain file
	// path is SQLite.
	URL string
	// Now is the clock (migration timestamps). Default time.Now.
	Now func() time.Time
	// MaxOpenConns bounds the connection pool (default 10 on PostgreSQL, 4
	// SQLite readers; SQLite always has exactly one writer connection).
	MaxOpenConns int
	// MaxIdleConns defaults to MaxOpenConns.
	MaxIdleConns int
	// ConnMaxLifetime recycles connections (default 30m on PostgreSQL, none on SQLite).
	ConnMaxLifetime time.Duration
	// QueryTimeout bounds every call, including waiting for a connection or
	// a lock (default 5s). A call that times out fails with store.ErrUnavailable.
	QueryTimeout time.Duration
	// Sync says when a SQLite commit reaches the disk (PostgreSQL ignores
	// it): SyncFull, the default, or SyncProcess.
	Sync Sync
}

// Sync is how durable a SQLite commit is when it is acknowledged.
type Sync int

const (
	// SyncFull syncs the write-ahead log at every commit: an acknowledged
	// write survives a crash of keyless and a power loss.
	SyncFull Sync = iota
	// SyncProcess leaves syncing to checkpoints: an acknowledged write
	// survives a crash of keyless (it is in the operating system's cache)
	// but not a power loss, and a commit never waits for the disk. For
	// throwaway stores, such as the servers a test suite starts on a busy
	// machine, where one fsync can stall for many seconds.
	SyncProcess
)

// Store is a store.Store on SQLite or PostgreSQL.
type Store struct {
	d       dialect
	db      *sql.DB // reads (and writes on PostgreSQL)
	wdb     *sql.DB // writes: one connection on SQLite, db on PostgreSQL
	now     func() time.Time
	timeout time.Duration
	batches batchEncoder // the decision log's (decisions.go)
}

var _ store.Store = (*Store)(nil)

// Open connects, applies pending migrations and returns a ready store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.QueryTimeout == 0 {
		cfg.QueryTimeout = 5 * time.Second
	}
	if cfg.QueryTimeout < 0 || cfg.MaxOpenConns < 0 || cfg.MaxIdleConns < 0 || cfg.ConnMaxLifetime < 0 {
		return nil, errors.New("sqlstore: negative timeout or pool size")
	}
	if cfg.Sync != SyncFull && cfg.Sync != SyncProcess {
		return nil, fmt.Errorf("sqlstore: unknown sync mode %d", cfg.Sync)
	}
	s := &Store{now: cfg.Now, timeout: cfg.QueryTimeout}
	var err error
	switch u := cfg.URL; {
	case u == "":
		return nil, errors.New("sqlstore: empty store URL")
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		err = s.openPostgres(cfg)
	default:
		err = s.openSQLite(ctx, cfg, sqlitePath(u))
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the connections.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.wdb != s.db {
		err = errors.Join(err, s.wdb.Close())
	}
	return err
}

// Ping checks that the database answers (and, on SQLite, that the writer does).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return s.mapErr(ctx, "ping", err)
	}
	return nil
}

// Version returns the write counter.
func (s *Store) Version(ctx context.Context) (int64, error) {
	var v int64
	err := s.read(ctx, "version", func(ctx context.Context, q querier) error {
		return q.QueryRowContext(ctx, "SELECT version FROM store_version WHERE id = 1").Scan(&v)
	})
	return v, err
}

// querier is what reads need from *sql.DB and *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rebound runs queries written with ? placeholders on a transaction or
// the read pool (both are queriers), rebound for the dialect.
type rebound struct {
	d dialect
	q querier
}

func (r rebound) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return r.q.ExecContext(ctx, r.d.rebind(q), args...)
}

func (r rebound) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return r.q.QueryContext(ctx, r.d.rebind(q), args...)
}

func (r rebound) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return r.q.QueryRowContext(ctx, r.d.rebind(q), args...)
}

// read runs fn against the read pool under the query timeout.
func (s *Store) read(ctx context.Context, op string, fn func(context.Context, querier) error) error {
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := fn(tctx, rebound{s.d, s.db}); err != nil {
		return s.mapErr(ctx, op, err)
	}
	return nil
}

// errNoWrite, returned by a write function, rolls the transaction back and
// makes write return nil: the call turned out to change nothing.
var errNoWrite = errors.New("nothing to write")

// callerError carries an error from a caller's update function through the
// transaction unchanged.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// write runs fn in a write transaction that first bumps the version counter.
func (s *Store) write(ctx context.Context, op string, fn func(context.Context, querier) error) error {
	return s.writeTx(ctx, op, true, fn)
}

// writeTx runs fn in a write transaction, bumping the version counter
// first when bump is set (every write but those no cache depends on).
func (s *Store) writeTx(ctx context.Context, op string, bump bool, fn func(context.Context, querier) error) error {
	tctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	sqlTx, err := s.wdb.BeginTx(tctx, nil)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	defer sqlTx.Rollback() //nolint:errcheck // no-op after Commit
	t := rebound{s.d, sqlTx}
	if bump {
		if _, err := t.ExecContext(tctx, "UPDATE store_version SET version = version + 1 WHERE id = 1"); err != nil {
			return s.mapErr(ctx, op, err)
		}
	}
	if err := fn(tctx, t); err != nil {
		if errors.Is(err, errNoWrite) {
			return nil
		}
		return s.mapErr(ctx, op, err)
	}
	if err := sqlTx.Commit(); err != nil {
		return s.mapErr(ctx, op, err)
	}
	return nil
}

// errorClass is what a driver error means to callers.
type errorClass int

const (
	classOther errorClass = iota
	classUnique
	classForeignKey
	classUnavailable
)

// openTimeout bounds opening the store and migrating it: at least 30 s,
// whatever one query's bound (QueryTimeout) is.
func openTimeout(query time.Duration) time.Duration { return max(query, 30*time.Second) }

// openErr is mapErr for opening, whose bound is limit.
func (s *Store) openErr(ctx context.Context, op string, err error, limit time.Duration) error {
	if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlstore: %s: %w: no answer within %v: %w", op, store.ErrUnavailable, limit, err)
	}
	return s.mapErr(ctx, op, err)
}

// mapErr turns an error from a query into the contract's terms. ctx is the
// caller's context (not the one bounded by QueryTimeout).
func (s *Store) mapErr(ctx context.Context, op string, err error) error {
	var ce callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrAlreadyExists) ||
		errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqlstore: %s: %w: no answer within %v: %w", op, store.ErrUnavailable, s.timeout, err)
	}
	switch s.d.classify(err) {
	case classUnique:
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrAlreadyExists)
	case classForeignKey:
		return fmt.Errorf("sqlstore: %s: %w: %v", op, store.ErrConflict, err)
	case classUnavailable:
		return fmt.Errorf("sqlstore: %s: %w: %s: %w", op, store.ErrUnavailable, s.d.name, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}
