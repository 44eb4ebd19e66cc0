package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is what differs between SQLite and PostgreSQL. Queries are written
// once, with ? placeholders and SQLite type names.
type dialect struct {
	name      string
	numbered  bool   // $1, $2… placeholders
	forUpdate string // row lock suffix for read-modify-write
	// migrationLock runs first in the migration transaction.
	migrationLock string
	ddl           *strings.Replacer
	classify      func(error) errorClass
}

var sqliteDialect = dialect{
	name:     "sqlite",
	ddl:      strings.NewReplacer(),
	classify: classifySQLite,
}

// migrationLockKey is an arbitrary constant shared by every replica.
const migrationLockKey = 0x6b65796c657373 // "keyless"

var postgresDialect = dialect{
	name:          "postgres",
	numbered:      true,
	forUpdate:     " FOR UPDATE",
	migrationLock: "SELECT pg_advisory_xact_lock(" + strconv.Itoa(migrationLockKey) + ")",
	ddl:           strings.NewReplacer("BLOB", "BYTEA", " WITHOUT ROWID", ""),
	classify:      classifyPostgres,
}

// rebind turns ? placeholders into $n for PostgreSQL. Queries never contain a
// literal question mark.
func (d dialect) rebind(q string) string {
	if !d.numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sqlitePath extracts the file path from a SQLite store URL.
func sqlitePath(u string) string {
	if p, ok := strings.CutPrefix(u, "sqlite://"); ok {
		return p
	}
	if p, ok := strings.CutPrefix(u, "sqlite:"); ok {
		return p
	}
	return u
}

func (s *Store) openSQLite(ctx context.Context, cfg Config, path string) error {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return fmt.Errorf("sqlstore: invalid SQLite database path %q (want a file path)", path)
	}
	s.d = sqliteDialect
	restrictFiles(path)
	params := func(writer bool) string {
		v := url.Values{}
		// A writer waits for other processes' locks (and checkpoints)
		// instead of failing with SQLITE_BUSY, up to the query timeout.
		v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", cfg.QueryTimeout.Milliseconds()))
		v.Add("_pragma", "foreign_keys(1)")
		// FULL: the WAL is synced at every commit, so an acknowledged
		// write survives a crash or a power loss. NORMAL (SyncProcess):
		// synced at checkpoints only; WAL mode keeps it crash-safe.
		if cfg.Sync == SyncProcess {
			v.Add("_pragma", "synchronous(NORMAL)")
		} else {
			v.Add("_pragma", "synchronous(FULL)")
		}
		if writer {
			v.Add("_pragma", "journal_mode(WAL)")
			v.Set("_txlock", "immediate")
		} else {
			v.Add("_pragma", "query_only(1)")
		}
		return path + "?" + v.Encode()
	}
	wdb, err := sql.Open("sqlite", params(true))
	if err != nil {
		return fmt.Errorf("sqlstore: open sqlite %s: %w", path, err)
	}
	// One writer connection: writes queue in database/sql (bounded by the
	// caller's context) and never meet SQLITE_BUSY from this process.
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	rdb, err := sql.Open("sqlite", params(false))
	if err != nil {
		wdb.Close()
		return fmt.Errorf("sqlstore: open sqlite %s: %w", path, err)
	}
	n := cfg.MaxOpenConns
	if n == 0 {
		n = 4
	}
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(orDefault(cfg.MaxIdleConns, n))
	rdb.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	s.db, s.wdb = rdb, wdb
	// Opening is start-up, not a request: the first connection sets WAL
	// mode and may wait for another process's lock or a slow disk, so it
	// gets the migrations' ceiling rather than one query's.
	limit := openTimeout(cfg.QueryTimeout)
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	werr := wdb.PingContext(pctx)
	if werr != nil && !isReadOnly(werr) {
		s.Close()
		if why := cannotOpen(path, werr); why != nil {
			return fmt.Errorf("sqlstore: open sqlite %s: %w", path, why)
		}
		return s.openErr(ctx, "open sqlite "+path, werr, limit)
	}
	// A read-only database still opens: reads work, every write fails
	// with ErrUnavailable saying the database is read-only.
	if err := rdb.PingContext(pctx); err != nil {
		if !isReadOnly(err) || werr == nil {
			s.Close()
			return s.openErr(ctx, "open sqlite "+path, err, limit)
		}
		// A WAL database in a read-only directory cannot be read
		// normally: SQLite needs to create its -shm file. Nobody can
		// write there either (the writer just failed to open), so
		// read it as immutable.
		rdb.Close()
		rdb, err = sql.Open("sqlite", "file:"+strings.ReplaceAll(path, "%", "%25")+"?mode=ro&immutable=1&"+params(false)[len(path)+1:])
		if err != nil {
			wdb.Close()
			return fmt.Errorf("sqlstore: open sqlite %s: %w", path, err)
		}
		rdb.SetMaxOpenConns(n)
		rdb.SetMaxIdleConns(orDefault(cfg.MaxIdleConns, n))
		s.db = rdb
		if err := rdb.PingContext(pctx); err != nil {
			s.Close()
			return s.mapErr(ctx, "open read-only sqlite "+path, err)
		}
	}
	return nil
}

// restrictFiles makes the database file owner-only before SQLite opens it:
// a new one is created 0600 (SQLite gives its -wal and -shm files the
// database file's mode), an existing one and its -wal and -shm lose any
// group and other access. Errors are left to the open that follows (a
// read-only directory or file still opens for reading).
func restrictFiles(path string) {
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		_ = f.Close()
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			_ = os.Chmod(p, fi.Mode().Perm()&0o700)
		}
	}
}

// cannotOpen says why SQLite could not open the database at path, whose
// own message ("unable to open database file (14)") names neither the
// file nor the cause: the directory is missing, or this user may not read
// the file or create it. nil when err is not SQLITE_CANTOPEN or the cause
// is none of those. The errors wrap fs.ErrNotExist or fs.ErrPermission.
func cannotOpen(path string, err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_CANTOPEN {
		return nil
	}
	dir := filepath.Dir(path)
	di, derr := os.Stat(dir)
	if errors.Is(derr, fs.ErrNotExist) {
		return fmt.Errorf("the directory %s does not exist: %w", dir, fs.ErrNotExist)
	}
	if errors.Is(derr, fs.ErrPermission) {
		return fmt.Errorf("%w: this user (uid %d) may not reach the directory %s", fs.ErrPermission, os.Getuid(), dir)
	}
	f, oerr := os.Open(path)
	if oerr == nil {
		f.Close()
		if di != nil {
			// The file reads, so SQLite could not write beside it
			// (its -wal and -shm files).
			if t, terr := os.CreateTemp(dir, ".keyless-probe-*"); errors.Is(terr, fs.ErrPermission) {
				return fmt.Errorf("%w: this user (uid %d) may not create files in %s (mode %s), where SQLite keeps the database's -wal and -shm files",
					fs.ErrPermission, os.Getuid(), dir, di.Mode())
			} else if terr == nil {
				t.Close()
				os.Remove(t.Name())
			}
		}
		return nil
	}
	if errors.Is(oerr, fs.ErrPermission) {
		fi, serr := os.Stat(path)
		if errors.Is(serr, fs.ErrPermission) && di != nil {
			return fmt.Errorf("%w: this user (uid %d) may not enter the directory %s (mode %s)", fs.ErrPermission, os.Getuid(), dir, di.Mode())
		}
		mode := ""
		if serr == nil {
			mode = fmt.Sprintf(" (mode %s)", fi.Mode())
		}
		return fmt.Errorf("%w: this user (uid %d) may not read %s%s", fs.ErrPermission, os.Getuid(), path, mode)
	}
	if errors.Is(oerr, fs.ErrNotExist) && di != nil {
		return fmt.Errorf("%w: this user (uid %d) may not create %s: the directory %s (mode %s) is not writable",
			fs.ErrPermission, os.Getuid(), path, dir, di.Mode())
	}
	return nil
}

// isReadOnly reports whether err is SQLite refusing to write (file,
// directory or file system read-only).
func isReadOnly(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_READONLY
}

func (s *Store) openPostgres(cfg Config) error {
	if _, err := pgx.ParseConfig(cfg.URL); err != nil {
		return fmt.Errorf("sqlstore: invalid PostgreSQL URL: %w", err)
	}
	db, err := sql.Open("pgx", cfg.URL)
	if err != nil {
		return fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	n := orDefault(cfg.MaxOpenConns, 10)
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(orDefault(cfg.MaxIdleConns, n))
	db.SetConnMaxLifetime(orDefault(cfg.ConnMaxLifetime, 30*time.Minute))
	s.d = postgresDialect
	s.db, s.wdb = db, db
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func classifySQLite(err error) errorClass {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
			return classUnavailable
		}
		return classOther
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return classUnique
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return classForeignKey
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_PERM, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOTADB:
		return classUnavailable
	}
	return classOther
}

func classifyPostgres(err error) errorClass {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		// Everything that is not a server-reported SQL error is about
		// reaching the server: refused, reset, closed, timed out.
		return classUnavailable
	}
	switch c := pe.Code; {
	case c == "23505":
		return classUnique
	case c == "23503":
		return classForeignKey
	case c == "25006", c == "40001", c == "40P01", // read-only transaction, serialization, deadlock
		strings.HasPrefix(c, "08"), // connection exception
		strings.HasPrefix(c, "53"), // insufficient resources (disk full, out of memory, too many connections)
		strings.HasPrefix(c, "57"), // operator intervention (shutdown, cannot connect now)
		strings.HasPrefix(c, "58"): // system error (I/O)
		return classUnavailable
	}
	return classOther
}
