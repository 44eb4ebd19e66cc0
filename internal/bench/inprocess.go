package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keylessci/keyless/internal/server"
)

// inProcessRoot are the root credentials of in-process servers.
var inProcessRoot = aws.Credentials{AccessKeyID: "AKIAKEYLESSBENCH0001", SecretAccessKey: "keylessBenchRootSecret000000000000000000"}

// benchMasterKey seals the secrets of a shared store (--store) the
// in-process servers use; a benchmark's store is throwaway.
var benchMasterKey = []byte("keyless-bench-master-key-32bytes")

// benchAccount is the account in-process servers act as.
const benchAccount = "123456789012"

// running is one in-process server.
type running struct {
	srv    *server.Server
	url    string
	cancel context.CancelFunc
	done   chan error
}

func (s *running) stop() {
	s.cancel()
	<-s.done
	_ = s.srv.Close()
}

// startServer starts a keyless server in process on a loopback port, as
// `keyless serve` would (JSON log at info level, here discarded), and
// waits until /_keyless/health answers 200.
func startServer(ctx context.Context, dataDir, storeURL string, decisionsOff bool) (*running, error) {
	ctx, cancel := context.WithCancel(ctx)
	var masterKey []byte
	if storeURL != "" {
		// A shared store needs the same master key on every replica.
		masterKey = benchMasterKey
	}
	srv, err := server.New(ctx, server.Config{DataDir: dataDir, StoreURL: storeURL, Account: benchAccount, MasterKey: masterKey,
		RootAccessKeyID: inProcessRoot.AccessKeyID, RootSecretKey: inProcessRoot.SecretAccessKey,
		Log:    slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Stdout: io.Discard, DecisionsOff: decisionsOff})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("start server: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		srv.Close()
		return nil, err
	}
	s := &running{srv: srv, url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- srv.Run(ctx, ln) }()
	if err := waitHealthy(ctx, s.url); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func waitHealthy(ctx context.Context, url string) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/_keyless/health", nil)
		if err != nil {
			return err
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("server never became healthy")
}

// keyless returns the endpoints to target, the pid whose usage to report
// and a stop function.
func (r *runner) keyless(ctx context.Context) ([]string, int, func(), error) {
	if r.cfg.Endpoint != "" {
		return []string{r.cfg.Endpoint}, r.cfg.EndpointPID, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "keyless-bench-")
	if err != nil {
		return nil, 0, nil, err
	}
	var servers []*running
	stop := func() {
		for _, s := range servers {
			s.stop()
		}
		os.RemoveAll(dir)
	}
	var eps []string
	for range r.cfg.Replicas {
		s, err := startServer(ctx, dir, r.cfg.StoreURL, r.cfg.DecisionsOff)
		if err != nil {
			stop()
			return nil, 0, nil, err
		}
		servers = append(servers, s)
		eps = append(eps, s.url)
	}
	r.direct = servers[0].srv.Store().CreateProvider
	if r.cfg.StoreURL == "" && r.cfg.Replicas == 1 {
		r.dataDir = dir
	}
	return eps, r.selfPID, stop, nil
}

// coldStarts measures server.New + listen + health 200 on empty data dirs.
func (r *runner) coldStarts(ctx context.Context) error {
	for i := range r.cfg.ColdStarts {
		r.status("cold start %d/%d", i+1, r.cfg.ColdStarts)
		dir, err := os.MkdirTemp("", "keyless-cold-")
		if err != nil {
			return err
		}
		t0 := time.Now()
		s, err := startServer(ctx, dir, "", r.cfg.DecisionsOff)
		d := time.Since(t0)
		if err != nil {
			os.RemoveAll(dir)
			return fmt.Errorf("cold start: %w", err)
		}
		s.stop()
		os.RemoveAll(dir)
		r.report.ColdStartMs = append(r.report.ColdStartMs, ms(d))
	}
	sorted := slices.Clone(r.report.ColdStartMs)
	slices.Sort(sorted)
	r.report.ColdStartMedianMs = sorted[len(sorted)/2]
	return nil
}

// coldStartsAtScale measures server.New + listen + health 200 on the data
// dir of the running in-process server once it holds the scale run's
// roles: a restart of a populated server (a second server opening the same
// SQLite file, which the store allows).
func (r *runner) coldStartsAtScale(ctx context.Context, roles int) error {
	if r.dataDir == "" {
		return nil
	}
	r.report.ColdStartScaleRoles = roles
	for i := range r.cfg.ColdStarts {
		r.status("cold start with %d roles %d/%d", roles, i+1, r.cfg.ColdStarts)
		t0 := time.Now()
		s, err := startServer(ctx, r.dataDir, "", r.cfg.DecisionsOff)
		d := time.Since(t0)
		if err != nil {
			return fmt.Errorf("cold start at scale: %w", err)
		}
		s.stop()
		r.report.ColdStartScaleMs = append(r.report.ColdStartScaleMs, ms(d))
	}
	sorted := slices.Clone(r.report.ColdStartScaleMs)
	slices.Sort(sorted)
	r.report.ColdStartScaleMedianMs = sorted[len(sorted)/2]
	return nil
}
