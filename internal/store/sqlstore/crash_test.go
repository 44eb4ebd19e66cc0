package sqlstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/keylessci/keyless/internal/store"
)

const (
	crashChildEnv = "SQLSTORE_CRASH_CHILD_DB"
	crashSyncEnv  = "SQLSTORE_CRASH_CHILD_SYNC"
)

// TestSQLiteCrashKeepsAcknowledgedWrites SIGKILLs a process in the middle of
// a burst of writes and checks that every write it acknowledged is there and
// the database is intact. (A kill loses the process, not the page cache, so
// this proves the commit protocol, not fsync against power loss; that is
// synchronous=FULL's job.)
// Both sync modes are crash-safe: SyncProcess differs only against a power
// loss, which a test cannot stage.
func TestSQLiteCrashKeepsAcknowledgedWrites(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		sync, _ := strconv.Atoi(os.Getenv(crashSyncEnv))
		crashChild(path, Sync(sync))
		return
	}
	for _, mode := range []struct {
		name string
		sync Sync
	}{{"SyncFull", SyncFull}, {"SyncProcess", SyncProcess}} {
		t.Run(mode.name, func(t *testing.T) { crashParent(t, mode.sync) })
	}
}

func crashParent(t *testing.T, mode Sync) {
	path := filepath.Join(t.TempDir(), "keyless.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSQLiteCrashKeepsAcknowledgedWrites$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashSyncEnv+"="+strconv.Itoa(int(mode)))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 200
	var acked []string
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		name, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			continue
		}
		acked = append(acked, name)
		if len(acked) == killAfter && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child stopped after %d acknowledged writes before being killed: %v", len(acked), err)
	}

	s := openSQLite(t, path)
	ctx := context.Background()
	for _, name := range acked {
		if _, err := s.GetRole(ctx, name); err != nil {
			t.Errorf("acknowledged role %s lost: %v", name, err)
		}
	}
	var check string
	if err := s.db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil {
		t.Fatal(err)
	}
	if check != "ok" {
		t.Errorf("integrity_check = %q", check)
	}
	t.Logf("%d acknowledged writes survived SIGKILL", len(acked))
}

// crashChild writes roles from 4 goroutines until it is killed, printing
// each acknowledged one.
func crashChild(path string, mode Sync) {
	s, err := Open(context.Background(), Config{URL: path, Sync: mode})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				name := "role-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				if err := s.CreateRole(context.Background(), store.Role{Name: name, Tags: []store.Tag{{Key: "i", Value: name}}}); err != nil {
					fmt.Fprintln(os.Stderr, "crash child:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %s\n", name)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
