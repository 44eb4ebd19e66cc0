package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/keylessci/keyless/internal/arn"
)

// Config configures a Server. cmd/keyless fills it from flags and env.
type Config struct {
	Addr     string // listen address, default 127.0.0.1:8787
	DataDir  string // required unless StoreURL is a postgres URL
	StoreURL string // "" = SQLite in DataDir; postgres://… = PostgreSQL
	Account  string // 12 digits, default 000000000000
	Region   string // default us-east-1

	// Root credentials; when empty they are generated once by the first
	// replica to start (first writer wins), kept in the store, written to
	// DataDir/root-credentials (0600) when there is a DataDir, and printed by
	// the replica that generated them.
	RootAccessKeyID string
	RootSecretKey   string

	// MasterKey (32 bytes) seals the store's secrets; it is never stored
	// in the store. When empty, SQLite keeps it in DataDir/master.key
	// (0600, generated once); PostgreSQL requires it, the same on every
	// replica.
	MasterKey []byte

	CAFile          string        // extra roots for fetching providers' JWKS
	FetchTimeout    time.Duration // bound on one discovery + JWKS fetch (0: 5s)
	TLSCert, TLSKey string        // serve HTTPS when both are set
	JWKSMaxAge      time.Duration
	IssuerTick      time.Duration // how often issuer rotation schedules run, default 1m
	CacheCheck      time.Duration // how often the store version is polled, default 500ms
	UsageFlush      time.Duration // how often RoleLastUsed is written, default 1m
	StoreMaxConns   int           // most open store connections (0: 10 on PostgreSQL, 4 SQLite readers)
	StoreTimeout    time.Duration // bound on every store call, connection wait included (0: 5s)
	ShutdownTimeout time.Duration // default 10s
	// RunnerMaxTTL caps the lifetime of runner credentials (default 720h);
	// it is also their default lifetime.
	RunnerMaxTTL     time.Duration
	Log              *slog.Logger
	Stdout           io.Writer // where generated root credentials are printed
	Now              func() time.Time
	FetchDialContext DialFunc // tests: replace the dialer of the JWKS fetcher
	// AllowPrivateJWKS lets a provider's jwks_uri point at loopback,
	// link-local or private addresses even when the provider is not itself
	// on such an address.
	AllowPrivateJWKS bool
	// MaxIssuers caps the hosted issuers (0: issuer.DefaultMaxIssuers).
	MaxIssuers int

	// The decision log (package decision): how long decisions are kept
	// (0: 30 days), at most how many (0: a million), how often a partial
	// batch is written (0: 1s); DecisionsOff keeps none (benchmarks).
	DecisionsRetention time.Duration
	DecisionsMaxRows   int
	DecisionsFlush     time.Duration
	DecisionsOff       bool
}

func (c *Config) setDefaults() error {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8787"
	}
	if c.Account == "" {
		c.Account = "000000000000"
	}
	if !arn.IsAccountID(c.Account) {
		return fmt.Errorf("account id %q is not 12 digits", c.Account)
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.DataDir == "" && c.StoreURL == "" {
		return errors.New("--data-dir or --store is required")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if (c.RootAccessKeyID == "") != (c.RootSecretKey == "") {
		return errors.New("KEYLESS_ROOT_ACCESS_KEY_ID and KEYLESS_ROOT_SECRET_ACCESS_KEY go together")
	}
	if c.RootAccessKeyID != "" && (len(c.RootAccessKeyID) < 16 || len(c.RootSecretKey) < 16) {
		return errors.New("root access key id and secret must each be at least 16 characters")
	}
	if c.StoreMaxConns < 0 || c.StoreTimeout < 0 {
		return errors.New("store pool size and timeout must not be negative")
	}
	if c.IssuerTick == 0 {
		c.IssuerTick = time.Minute
	}
	if c.CacheCheck == 0 {
		c.CacheCheck = 500 * time.Millisecond
	}
	if c.UsageFlush == 0 {
		c.UsageFlush = time.Minute
	}
	if c.RunnerMaxTTL == 0 {
		c.RunnerMaxTTL = runnerDefaultMaxTTL
	}
	if c.RunnerMaxTTL < runnerMinTTL {
		return fmt.Errorf("runner credentials' maximum lifetime %s is below %s", c.RunnerMaxTTL, runnerMinTTL)
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}
