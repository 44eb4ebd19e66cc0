// Package servertest starts a real keyless server in process for tests: on
// a loopback port, with a fresh data dir, fixed root credentials and its
// JSON log captured, so a test can drive it with real clients (aws-sdk-go-v2,
// the aws CLI, boto3) and read what it logged.
package servertest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/store/sqlstore"
)

// Fixed root credentials of every test server.
const (
	RootAccessKeyID = "AKIAKEYLESSTEST00001"
	RootSecretKey   = "keylessTestRootSecretKey0000000000000000"
	Account         = "123456789012"
	// MasterKey is the master key tests give servers on a shared store
	// (PostgreSQL); SQLite servers generate theirs in the data dir.
	MasterKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
)

// Server is a running test server.
type Server struct {
	URL     string
	DataDir string
	Root    aws.Credentials // the root credentials (fixed, or generated into DataDir)
	*server.Server
	log    *syncBuffer
	region string
	now    func() time.Time
}

// Options adjust the server configuration before start.
type Options func(*server.Config)

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts ...Options) *Server {
	t.Helper()
	buf := &syncBuffer{}
	cfg := server.Config{
		DataDir: t.TempDir(), Account: Account, RootAccessKeyID: RootAccessKeyID, RootSecretKey: RootSecretKey,
		Log:        slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		CacheCheck: 100 * time.Millisecond,
		UsageFlush: 100 * time.Millisecond,
		// No fsync per commit: a test server's store is thrown away, and on
		// a loaded CI machine one fsync can stall a request past the HTTP
		// server's 30 s write timeout (the client then sees EOF).
		StoreSync: sqlstore.SyncProcess,
	}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("servertest: new server: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatalf("servertest: listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	s := &Server{URL: "http://" + ln.Addr().String(), DataDir: cfg.DataDir, Server: srv, log: buf,
		Root:   aws.Credentials{AccessKeyID: cfg.RootAccessKeyID, SecretAccessKey: cfg.RootSecretKey},
		region: cfg.Region, now: cfg.Now}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.Root.AccessKeyID == "" {
		if s.Root, err = rootFromDataDir(cfg.DataDir); err != nil {
			cancel()
			t.Fatalf("servertest: %v", err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() { // what the server saw is half of every failure's story
			t.Logf("servertest: the server's log (last %d bytes):\n%s", logTail, tail(buf.String(), logTail))
		}
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("servertest: run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("servertest: server did not shut down")
		}
		_ = srv.Close()
	})
	waitHealthy(t, s.URL)
	return s
}

func waitHealthy(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a generous ceiling: CI runs loaded
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/_keyless/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("servertest: %s never became healthy", url)
}

// logTail bounds the server log a failed test prints.
const logTail = 16 << 10

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Log returns everything the server logged so far.
func (s *Server) Log() string { return s.log.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
