// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb in a
// temporary directory, postgres on a free loopback port, a fresh database per
// caller, everything removed in t.Cleanup.
//
// It owns only test infrastructure. It skips the test when the PostgreSQL
// server binaries are absent. PostgreSQL refuses to run as root, so when the
// test runs as root the cluster runs as the unprivileged system user
// keyless-pg (created with useradd if missing).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// binDirs are searched, in order, for initdb and postgres; then PATH.
var binDirs = []string{"/usr/lib/postgresql/15/bin"}

// systemUser runs the cluster when the tests run as root.
const systemUser = "keyless-pg"

// Server is one running throwaway cluster.
type Server struct {
	t       testing.TB
	bin     string // directory holding initdb and postgres
	dir     string // temporary root: data/, sock/, postgres.log
	port    int
	cred    *syscall.Credential
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	dbCount atomic.Int64
}

// Start starts a cluster and returns the URL of a new, empty database on it.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).NewDatabase(t)
}

// StartServer starts a cluster that is stopped and removed when t ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, err := findBinaries()
	if err != nil {
		t.Skipf("pgtest: PostgreSQL server binaries not found, skipping: %v", err)
	}
	s := &Server{t: t, bin: bin}
	if os.Geteuid() == 0 {
		cred, err := unprivilegedUser()
		if err != nil {
			t.Fatalf("pgtest: running as root and cannot get an unprivileged user for PostgreSQL: %v", err)
		}
		s.cred = cred
	}
	// Not t.TempDir: its parents are private to root, and the cluster's
	// user must be able to reach its own directory.
	s.dir, err = os.MkdirTemp("", "keyless-pg-")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		os.RemoveAll(s.dir)
	})
	for _, d := range []string{"data", "sock"} {
		if err := os.Mkdir(filepath.Join(s.dir, d), 0o700); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	if s.cred != nil {
		for _, d := range []string{"", "data", "sock"} {
			if err := os.Chown(filepath.Join(s.dir, d), int(s.cred.Uid), int(s.cred.Gid)); err != nil {
				t.Fatalf("pgtest: %v", err)
			}
		}
	}
	s.port, err = freePort()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(s.dir, "data"),
		"-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	initdb.SysProcAttr = sysProcAttr(s.cred)
	initdb.Dir = s.dir
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	s.Start()
	return s
}

// URL returns the URL of the named database on this cluster.
func (s *Server) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, database)
}

// NewDatabase creates an empty database and returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("keyless_%d", s.dbCount.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return s.URL(name)
}

// Start starts postgres on the cluster's port (again, after Stop) and waits
// until it accepts connections. It is a no-op while running.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatalf("pgtest: %v", err)
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(s.bin, "postgres"),
		"-D", filepath.Join(s.dir, "data"),
		"-p", strconv.Itoa(s.port),
		"-k", filepath.Join(s.dir, "sock"),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", // throwaway data: speed over durability
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=100",
	)
	cmd.SysProcAttr = sysProcAttr(s.cred)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("pgtest: start postgres: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // exit status is in the log
	s.cmd, s.exited = cmd, exited

	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			cancel()
			return
		}
		cancel()
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("pgtest: postgres exited during startup:\n%s", s.log())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("pgtest: postgres not ready after 60s: %v\n%s", err, s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts postgres down (fast shutdown: clients are disconnected, data is
// kept) and waits for it to exit. It is a no-op while stopped.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGINT) //nolint:errcheck // it may be gone already
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill() //nolint:errcheck
		<-s.exited
	}
	s.cmd = nil
}

func (s *Server) log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	return string(b)
}

func findBinaries() (string, error) {
	for _, d := range binDirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	p, err := exec.LookPath("initdb")
	if err != nil {
		return "", fmt.Errorf("no initdb in %s or on PATH", strings.Join(binDirs, ", "))
	}
	if p, err = filepath.EvalSymlinks(p); err != nil {
		return "", err
	}
	d := filepath.Dir(p)
	if !isExec(filepath.Join(d, "postgres")) {
		return "", fmt.Errorf("initdb at %s but no postgres beside it", p)
	}
	return d, nil
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

var userMu sync.Mutex

// unprivilegedUser returns the credentials of systemUser, creating it.
func unprivilegedUser() (*syscall.Credential, error) {
	userMu.Lock()
	defer userMu.Unlock()
	u, err := user.Lookup(systemUser)
	if err != nil {
		out, addErr := exec.Command("useradd", "--system", "--no-create-home",
			"--shell", "/usr/sbin/nologin", systemUser).CombinedOutput()
		// Another test binary may have created it meanwhile: look again.
		if u, err = user.Lookup(systemUser); err != nil {
			return nil, errors.Join(fmt.Errorf("useradd %s: %s", systemUser, out), addErr, err)
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
