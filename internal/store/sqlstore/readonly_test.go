package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/keylessci/keyless/internal/store"
)

const readOnlyChildEnv = "SQLSTORE_READONLY_CHILD"

// TestSQLiteReadOnly makes the database file, then its whole directory,
// read-only: the store still opens and serves reads, and writes fail with
// ErrUnavailable and a message that says why. Root ignores file permissions,
// so as root the checks run in a child process as an unprivileged user.
func TestSQLiteReadOnly(t *testing.T) {
	if mode := os.Getenv(readOnlyChildEnv); mode != "" {
		// Child: the directory is the working directory.
		if err := readOnlyScenario(mode); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			os.Exit(1)
		}
		return
	}
	for _, mode := range []string{"file", "dir"} {
		t.Run(mode, func(t *testing.T) {
			if os.Geteuid() != 0 {
				dir := t.TempDir()
				t.Chdir(dir)
				t.Cleanup(func() { os.Chmod(dir, 0o700) })
				if err := readOnlyScenario(mode); err != nil {
					t.Fatal(err)
				}
				return
			}
			runAsUser(t, "TestSQLiteReadOnly", readOnlyChildEnv, mode)
		})
	}
}

// readOnlyScenario runs in the current directory as a user subject to permissions.
func readOnlyScenario(mode string) error {
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: "sqlite://keyless.db"})
	if err != nil {
		return err
	}
	if err := s.CreateRole(ctx, store.Role{Name: "before"}); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	if err := os.Chmod("keyless.db", 0o444); err != nil {
		return err
	}
	if mode == "dir" {
		if err := os.Chmod(".", 0o555); err != nil {
			return err
		}
	}
	s, err = Open(ctx, Config{URL: "sqlite://keyless.db"})
	if err != nil {
		return fmt.Errorf("open read-only database: %w", err)
	}
	defer s.Close()
	if _, err := s.GetRole(ctx, "before"); err != nil {
		return fmt.Errorf("read from read-only database: %w", err)
	}
	if _, err := s.ListRoles(ctx); err != nil {
		return fmt.Errorf("list from read-only database: %w", err)
	}
	err = s.CreateRole(ctx, store.Role{Name: "after"})
	if !errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("write to read-only database: error %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "readonly") && !strings.Contains(err.Error(), "read-only") {
		return fmt.Errorf("write error %q does not say the database is read-only", err)
	}
	_, err = s.GetOrCreateSecret(ctx, "seal", []byte("x"))
	if !errors.Is(err, store.ErrUnavailable) {
		return fmt.Errorf("secret on read-only database: error %v, want ErrUnavailable", err)
	}
	return nil
}

// runAsUser re-runs the test named test as an unprivileged user in a
// directory that user owns, with a copy of the test binary it can execute,
// and childEnv=mode in its environment.
func runAsUser(t *testing.T, test, childEnv, mode string) {
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("running as root and no unprivileged user 'nobody' to drop to: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	root, err := os.MkdirTemp("", "keyless-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "sqlstore.test")
	if err := copyFile(os.Args[0], bin, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+test+"$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as user %s: %v\n%s", u.Username, err, out)
	}
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

const cannotOpenChildEnv = "SQLSTORE_CANTOPEN_CHILD"

// TestSQLiteCannotOpen: a database this user may not open fails to open
// with "permission denied", the path and the cause, not SQLite's bare
// "unable to open database file (14)". As root (whom permissions do not
// stop) the scenarios run in a child process as an unprivileged user.
func TestSQLiteCannotOpen(t *testing.T) {
	if mode := os.Getenv(cannotOpenChildEnv); mode != "" {
		if err := cannotOpenScenario(mode); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			os.Exit(1)
		}
		return
	}
	for _, mode := range []string{"directory not writable", "file not readable", "directory not enterable"} {
		t.Run(mode, func(t *testing.T) {
			if os.Geteuid() != 0 {
				dir := t.TempDir()
				t.Chdir(dir)
				t.Cleanup(func() { os.Chmod(filepath.Join(dir, "sub"), 0o700) })
				if err := cannotOpenScenario(mode); err != nil {
					t.Fatal(err)
				}
				return
			}
			runAsUser(t, "TestSQLiteCannotOpen", cannotOpenChildEnv, mode)
		})
	}
}

// cannotOpenScenario runs in the current directory as a user subject to
// permissions.
func cannotOpenScenario(mode string) error {
	ctx := context.Background()
	if err := os.Mkdir("sub", 0o700); err != nil {
		return err
	}
	path, _ := filepath.Abs(filepath.Join("sub", "keyless.db"))
	want := []string{"permission denied", "uid "}
	switch mode {
	case "directory not writable":
		if err := os.Chmod("sub", 0o500); err != nil {
			return err
		}
		want = append(want, path, "not writable")
	case "file not readable", "directory not enterable":
		s, err := Open(ctx, Config{URL: path})
		if err != nil {
			return err
		}
		s.Close()
		if mode == "file not readable" {
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.Chmod(p, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
			want = append(want, "may not read "+path)
		} else {
			if err := os.Chmod("sub", 0o600); err != nil {
				return err
			}
			want = append(want, "may not enter the directory "+filepath.Dir(path))
		}
	}
	s, err := Open(ctx, Config{URL: path})
	if err == nil {
		s.Close()
		return errors.New("Open succeeded")
	}
	if !errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("error %q is not a permission error", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			return fmt.Errorf("error %q does not say %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "(14)") {
		return fmt.Errorf("error %q still shows SQLite's bare code", err)
	}
	return nil
}
