package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/console"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/directory"
	"github.com/keylessci/keyless/internal/iam"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/store/sqlstore"
	"github.com/keylessci/keyless/internal/sts"
)

// Server is a configured keyless server. Handler serves requests; Run
// listens and runs the background loops until its context ends.
type Server struct {
	cfg Config
	log *slog.Logger
	// raw is the store as opened; store is raw with every write announced
	// to the directory (store.Announce), and what everything that writes
	// is given.
	raw     *sqlstore.Store
	store   store.Store
	dir     *directory.Directory
	usage   *usageRecorder
	issuers *issuer.Service
	auth    *authenticator
	query   *queryHandler
	admin   *adminAPI
	runners *runnerAPI
	metrics *metrics
	// decisions is the decision log (nil with Config.DecisionsOff).
	decisions *decision.Log
	console   *console.Console
	handler   http.Handler
	// RootAccessKeyID is the root access key id in force.
	RootAccessKeyID string
}

// New opens the store and wires every part. The caller must Close it.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Log, metrics: newMetrics()}
	url := cfg.StoreURL
	if url == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		// A data dir of an earlier version may be open to others.
		if fi, err := os.Stat(cfg.DataDir); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(cfg.DataDir, fi.Mode().Perm()&0o700); err != nil {
				return nil, fmt.Errorf("restrict data dir: %w", err)
			}
		}
		url = filepath.Join(cfg.DataDir, "keyless.db")
	}
	st, err := sqlstore.Open(ctx, sqlstore.Config{URL: url, Now: cfg.Now, MaxOpenConns: cfg.StoreMaxConns, QueryTimeout: cfg.StoreTimeout, Sync: cfg.StoreSync})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.raw, s.store = st, st
	if err := s.wire(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) wire(ctx context.Context) error {
	cfg := &s.cfg
	_, err := s.store.GetSecret(ctx, secretRoot)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("load root credentials: %w", err)
	}
	mk, err := loadMasterKey(cfg, err == nil)
	if err != nil {
		return err
	}
	master, err := masterAEAD(mk)
	if err != nil {
		return err
	}
	root, generated, err := loadRoot(ctx, s.store, master, cfg)
	if err != nil {
		return err
	}
	s.RootAccessKeyID = root.AccessKeyID
	// The data dir's credentials file holds the credentials in force, so
	// the next start can use them: generated or stored ones always, given
	// ones when the master key lives in the data dir too (master.key
	// beside the database opens the sealed copy anyway). A master key kept
	// elsewhere keeps given credentials off the disk.
	var p string
	if generated || cfg.RootAccessKeyID == "" || len(cfg.MasterKey) == 0 {
		p, err = writeRootFile(cfg, root)
	}
	switch {
	case err != nil && generated:
		return fmt.Errorf("write root credentials file: %w", err)
	case err != nil:
		// Given or stored before: the file is a convenience, and a
		// read-only data dir still serves.
		s.log.Warn("cannot write the root credentials file", "error", err.Error())
		p = ""
	}
	switch {
	case generated && p != "":
		fmt.Fprintf(cfg.Stdout, "keyless: generated root credentials (saved in %s):\n  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s\n",
			p, root.AccessKeyID, root.SecretAccessKey)
	case generated:
		fmt.Fprintf(cfg.Stdout, "keyless: generated root credentials (kept in the store only):\n  AWS_ACCESS_KEY_ID=%s\n  AWS_SECRET_ACCESS_KEY=%s\n",
			root.AccessKeyID, root.SecretAccessKey)
	case p != "":
		fmt.Fprintf(cfg.Stdout, "keyless: root credentials are in %s\n", p)
	case cfg.RootAccessKeyID == "":
		// Another replica generated them and printed the secret.
		fmt.Fprintf(cfg.Stdout, "keyless: using the root credentials stored by the first replica (AWS_ACCESS_KEY_ID=%s)\n",
			root.AccessKeyID)
	}
	kek, err := keyEncryptionKey(ctx, s.store, master, root.SecretAccessKey, cfg)
	if err != nil {
		return err
	}
	skeys, err := sessionKeys(ctx, s.store, kek)
	if err != nil {
		return err
	}
	sealer, err := creds.New(creds.Config{Keys: skeys, Now: cfg.Now})
	if err != nil {
		return err
	}
	s.dir, err = directory.New(directory.Config{Store: s.raw, Account: cfg.Account})
	if err != nil {
		return err
	}
	// From here on every write drops the directory's caches by itself.
	s.store = store.Announce(s.raw, s.dir.Invalidate)
	s.runners = &runnerAPI{account: cfg.Account, maxTTL: cfg.RunnerMaxTTL, now: cfg.Now, log: s.log,
		sealer: sealer, revocations: s.store}
	s.issuers, err = issuer.New(issuer.Config{Store: s.store, KeyEncryption: kek, Now: cfg.Now,
		JWKSMaxAge: cfg.JWKSMaxAge, Logger: s.log, Providers: s.store, MaxIssuers: cfg.MaxIssuers,
		BeforeDelete: func(ctx context.Context, id string) error { return s.runners.revokeIssued(ctx, id, "") }})
	if err != nil {
		return err
	}
	s.runners.issuers = s.issuers
	roots, err := rootPool(cfg.CAFile)
	if err != nil {
		return err
	}
	fetcher := oidc.NewFetcher(oidc.FetcherConfig{RootCAs: roots, Now: cfg.Now, OnFetch: s.metrics.fetched,
		DialContext: cfg.FetchDialContext, Timeout: cfg.FetchTimeout, AllowPrivateJWKS: cfg.AllowPrivateJWKS})
	s.usage = &usageRecorder{st: s.store, region: cfg.Region}
	if err := s.newDecisionLog(); err != nil {
		return err
	}
	stsSvc, err := sts.New(sts.Config{Directory: s.dir, Keys: keySource{hosted: s.issuers, remote: fetcher},
		Creds: sealer, Account: cfg.Account, Now: cfg.Now, Log: s.log, OnAssumed: s.usage.used,
		Decisions: s.recordDecision()})
	if err != nil {
		return err
	}
	iamSvc, err := iam.New(iam.Config{Store: s.store, Account: cfg.Account, Now: cfg.Now, Rand: rand.Reader})
	if err != nil {
		return err
	}
	s.auth = &authenticator{account: cfg.Account, root: root, sealer: sealer, dir: s.dir, now: cfg.Now}
	q := &queryHandler{auth: s.auth, metrics: s.metrics, log: s.log, now: cfg.Now, denied: s.recordDenied, services: []service{
		{name: "sts", namespace: awsquery.NamespaceSTS, actions: stsSvc.Actions()},
		{name: "iam", namespace: awsquery.NamespaceIAM, actions: iamSvc.Actions()},
	}}
	s.query = q
	if s.console, err = s.newConsole(stsSvc); err != nil {
		return err
	}
	s.admin = &adminAPI{auth: s.auth, log: s.log, account: cfg.Account, region: cfg.Region, now: cfg.Now, denied: s.recordDenied}
	s.handler = s.routes(q)
	return nil
}

// adminRoutes is the admin API's route table: the issuer service's routes,
// the runner credentials' and the decision log's.
func (s *Server) adminRoutes() []issuer.AdminRoute {
	routes := append(s.issuers.AdminRoutes(), s.runners.routes()...)
	return append(routes, s.decisionRoutes()...)
}

// rootPool returns the system roots plus SSL_CERT_FILE (honoured by Go
// itself) plus caFile; nil means "system roots".
func rootPool(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, &ConfigError{Fields: []string{"CAFile"}, Problem: err.Error()}
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &ConfigError{Fields: []string{"CAFile"}, Problem: caFile + " holds no PEM certificate"}
	}
	return pool, nil
}

func (s *Server) routes(q http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_keyless/health", s.health)
	mux.Handle("GET /metrics", s.metrics.handler())
	wellKnown := s.issuers.Handler()
	admin := s.admin.handler(s.adminRoutes())
	mux.Handle("/_keyless/console/", s.console)
	mux.Handle("/_keyless/console", s.console)
	mux.Handle("/_keyless/decisions", admin)
	mux.Handle("/_keyless/decisions/", admin)
	mux.Handle("/_keyless/issuers", admin)
	mux.Handle("/_keyless/issuers/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && issuer.IsWellKnownPath(r.URL.Path) {
			wellKnown.ServeHTTP(w, r) // public documents, also under the admin prefix
			return
		}
		admin.ServeHTTP(w, r)
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && issuer.IsWellKnownPath(r.URL.Path):
			wellKnown.ServeHTTP(w, r)
		case r.URL.Path == "/" && (r.Method == http.MethodPost || r.Method == http.MethodGet):
			q.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, "/_keyless/"):
			awsquery.WriteJSONError(w, awserr.New(awserr.CodeNotFound, http.StatusNotFound, "no such admin endpoint"))
		default:
			awsquery.WriteError(w, awsquery.NamespaceSTS, requestID(r.Context()),
				awsquery.InvalidAction(r.Method+" "+r.URL.Path, ""))
		}
	})
	return withRequestID(recoverer(s.log, mux))
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Store returns the server's store, writes announced (tests and `keyless quickstart`).
func (s *Server) Store() store.Store { return s.store }

// refreshCaches returns the cache poll: the directory's caches and the
// issuers' path index are dropped when another writer moved the store
// version.
func (s *Server) refreshCaches() func(context.Context) error {
	var last int64 = -1
	return func(ctx context.Context) error {
		v, err := s.raw.Version(ctx)
		if err != nil {
			return fmt.Errorf("read store version: %w", err)
		}
		if v != last {
			last = v
			s.issuers.Invalidate()
		}
		return s.dir.Refresh(ctx)
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	if err := s.raw.Ping(ctx); err != nil {
		s.log.Warn("health check failed", "error", err.Error())
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable"}` + "\n"))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// Run serves on cfg.Addr (or ln when given) until ctx is done, then shuts
// down gracefully: in-flight requests finish within ShutdownTimeout.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	scheme := "http"
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load TLS key pair: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
		scheme = "https"
	}
	bg, stop := context.WithCancel(ctx)
	defer stop()
	go s.loop(bg, s.cfg.CacheCheck, "cache_refresh", s.refreshCaches())
	go s.loop(bg, s.cfg.IssuerTick, "issuer_tick", s.issuers.Tick)
	go s.loop(bg, s.cfg.UsageFlush, "last_used_flush", s.usage.flush)
	stopDecisions := s.runDecisions() // after the HTTP server's shutdown, so every decision is written
	defer stopDecisions()
	if s.decisions != nil {
		go s.loop(bg, decisionsPruneEvery, "decisions_prune", s.decisions.Prune)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	addr := scheme + "://" + ln.Addr().String()
	s.log.Info("keyless serving", "addr", addr, "account", s.cfg.Account,
		"root_access_key_id", redactKey(s.RootAccessKeyID), "console", addr+console.Prefix)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return s.usage.flush(sctx)
}

func (s *Server) loop(ctx context.Context, every time.Duration, name string, fn func(context.Context) error) {
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		err := fn(ctx)
		if ctx.Err() != nil {
			return
		}
		s.metrics.ran(name, err)
		if err != nil {
			if !failing {
				s.log.Warn("background loop failed", "loop", name, "error", err.Error())
			}
			failing = true
		} else if failing {
			s.log.Info("background loop recovered", "loop", name)
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close closes the store.
func (s *Server) Close() error { return s.raw.Close() }
