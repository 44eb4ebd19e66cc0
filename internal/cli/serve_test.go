package cli_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/testkit"
)

// lockedBuffer is written by a child process's output copier while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// buildKeyless builds cmd/keyless once per test binary.
func buildKeyless(t *testing.T) string {
	t.Helper()
	testkit.External(t, "a freshly built keyless binary")
	bin := filepath.Join(t.TempDir(), "keyless")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/keyless")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeLifecycle runs the real binary: generated root credentials are
// printed and saved 0600 once, health and metrics answer, logs are JSON,
// and SIGTERM shuts down cleanly with exit code 0.
func TestServeLifecycle(t *testing.T) {
	bin := buildKeyless(t)
	data := filepath.Join(t.TempDir(), "data")
	start := func() (*exec.Cmd, *lockedBuffer, *lockedBuffer, string) {
		addr := freeAddr(t)
		cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", data)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		for i := 0; i < 200; i++ {
			if code, _ := get("http://" + addr + "/_keyless/health"); code == 200 {
				return cmd, stdout, stderr, addr
			}
			time.Sleep(25 * time.Millisecond)
		}
		t.Fatalf("never healthy; stderr:\n%s", stderr.String())
		return nil, nil, nil, ""
	}
	stop := func(cmd *exec.Cmd, stderr *lockedBuffer) {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Fatal("no exit within 15s of SIGTERM")
		}
	}

	cmd, stdout, stderr, addr := start()
	if !strings.Contains(stdout.String(), "AWS_SECRET_ACCESS_KEY=") {
		t.Errorf("generated root credentials not printed: %q", stdout.String())
	}
	fi, err := os.Stat(filepath.Join(data, "root-credentials"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("root-credentials file: %v mode %v", err, fi)
	}
	first, _ := os.ReadFile(filepath.Join(data, "root-credentials"))
	if code, body := get("http://" + addr + "/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics: %d %.200s", code, body)
	}
	http.Post("http://"+addr+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=GetCallerIdentity"))
	if code, body := get("http://" + addr + "/metrics"); code != 200 || !strings.Contains(body, `keyless_requests_total{action="GetCallerIdentity",code="MissingAuthenticationToken"} 1`) {
		t.Errorf("metrics after a call: %d %.300s", code, body)
	}
	stop(cmd, stderr)
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if !strings.HasPrefix(line, "{") {
			t.Errorf("non-JSON log line: %q", line)
		}
	}
	if !strings.Contains(stderr.String(), `"request_id"`) {
		t.Errorf("log has no request ids:\n%s", stderr.String())
	}

	cmd, stdout, stderr, _ = start()
	if strings.Contains(stdout.String(), "AWS_SECRET_ACCESS_KEY=") {
		t.Errorf("root credentials generated again on restart")
	}
	again, _ := os.ReadFile(filepath.Join(data, "root-credentials"))
	if !bytes.Equal(first, again) {
		t.Errorf("root credentials changed across restarts")
	}
	stop(cmd, stderr)
}
