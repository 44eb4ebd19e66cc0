package server

import (
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/store/sqlstore"
)

// Config configures a Server. The command line (internal/cli) fills it from
// flags, environment and config file; Defaults holds its defaults and
// Validate its rules, and neither speaks of flags.
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
	StoreSync       sqlstore.Sync // SQLite commit durability (default: synced at every commit)
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
	// ConsoleIdle ends a web console session unused this long (0: 15m).
	ConsoleIdle time.Duration
}

// Defaults returns the configuration's defaults: the one place they live.
// New fills every zero field of its Config from here, and the command line
// shows these values in its help. Zero fields not set here (StoreMaxConns,
// StoreTimeout, FetchTimeout) take their backend's default.
func Defaults() Config {
	return Config{
		Addr:               "127.0.0.1:8787",
		Account:            "000000000000",
		Region:             "us-east-1",
		JWKSMaxAge:         issuer.DefaultJWKSMaxAge,
		MaxIssuers:         issuer.DefaultMaxIssuers,
		IssuerTick:         time.Minute,
		CacheCheck:         500 * time.Millisecond,
		UsageFlush:         time.Minute,
		RunnerMaxTTL:       runnerDefaultMaxTTL,
		ShutdownTimeout:    10 * time.Second,
		DecisionsRetention: decision.DefaultRetention,
		DecisionsMaxRows:   decision.DefaultMaxRows,
	}
}

// ConfigError is a Config that cannot run: Fields names the Config fields
// at fault, Problem says what is wrong and what to do, naming fields as
// {Field}. The command line renders it with its own flags and environment
// variables (Render); Error spells the fields' Go names.
type ConfigError struct {
	Fields  []string
	Problem string
}

func (e *ConfigError) Error() string { return e.Render(func(f string) string { return f }) }

// Render returns the error with every field spelled name(field).
func (e *ConfigError) Render(name func(field string) string) string {
	var names []string
	for _, f := range e.Fields {
		names = append(names, name(f))
	}
	problem := fieldRef.ReplaceAllStringFunc(e.Problem, func(ref string) string { return name(ref[1 : len(ref)-1]) })
	if len(names) == 0 {
		return problem
	}
	return strings.Join(names, ", ") + ": " + problem
}

// fieldRef is a {Field} reference in a ConfigError's Problem.
var fieldRef = regexp.MustCompile(`\{[A-Z][A-Za-z]*\}`)

func configErr(problem string, fields ...string) error {
	return &ConfigError{Fields: fields, Problem: problem}
}

// applyDefaults fills the zero fields of c from Defaults.
func (c *Config) applyDefaults() {
	d := Defaults()
	or := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	ord := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	or(&c.Addr, d.Addr)
	or(&c.Account, d.Account)
	or(&c.Region, d.Region)
	ord(&c.JWKSMaxAge, d.JWKSMaxAge)
	ord(&c.IssuerTick, d.IssuerTick)
	ord(&c.CacheCheck, d.CacheCheck)
	ord(&c.UsageFlush, d.UsageFlush)
	ord(&c.RunnerMaxTTL, d.RunnerMaxTTL)
	ord(&c.ShutdownTimeout, d.ShutdownTimeout)
	if c.MaxIssuers == 0 {
		c.MaxIssuers = d.MaxIssuers
	}
	ord(&c.DecisionsRetention, d.DecisionsRetention)
	if c.DecisionsMaxRows == 0 {
		c.DecisionsMaxRows = d.DecisionsMaxRows
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
}

// Validate reports the first reason c cannot run, as a *ConfigError. It
// checks c as given: zero fields that have a default are valid.
func (c *Config) Validate() error {
	if c.Account != "" && !arn.IsAccountID(c.Account) {
		return configErr(fmt.Sprintf("account id %q is not 12 digits", c.Account), "Account")
	}
	if c.DataDir == "" && c.StoreURL == "" {
		return configErr("a data directory or a store URL is required", "DataDir", "StoreURL")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return configErr("a TLS certificate and its key go together", "TLSCert", "TLSKey")
	}
	if (c.RootAccessKeyID == "") != (c.RootSecretKey == "") {
		return configErr("the root access key id and secret go together", "RootAccessKeyID", "RootSecretKey")
	}
	if c.RootAccessKeyID != "" && (len(c.RootAccessKeyID) < 16 || len(c.RootSecretKey) < 16) {
		return configErr("the root access key id and secret must each be at least 16 characters", "RootAccessKeyID", "RootSecretKey")
	}
	if len(c.MasterKey) != 0 && len(c.MasterKey) != 32 {
		return configErr(fmt.Sprintf("the master key must be 32 bytes, not %d", len(c.MasterKey)), "MasterKey")
	}
	if c.StoreMaxConns < 0 {
		return configErr("the store's connection pool size must not be negative", "StoreMaxConns")
	}
	if c.StoreTimeout < 0 {
		return configErr("the store timeout must not be negative", "StoreTimeout")
	}
	if c.MaxIssuers < 0 {
		return configErr("the most hosted issuers must not be negative", "MaxIssuers")
	}
	if c.JWKSMaxAge < 0 {
		return configErr("the JWKS max-age must not be negative", "JWKSMaxAge")
	}
	if c.DecisionsRetention < 0 {
		return configErr("the decision log's retention must not be negative", "DecisionsRetention")
	}
	if c.DecisionsMaxRows < 0 {
		return configErr("the decision log's most rows must not be negative", "DecisionsMaxRows")
	}
	if c.RunnerMaxTTL != 0 && c.RunnerMaxTTL < runnerMinTTL {
		return configErr(fmt.Sprintf("runner credentials' maximum lifetime %s is below %s", c.RunnerMaxTTL, runnerMinTTL), "RunnerMaxTTL")
	}
	return nil
}

// setDefaults validates c, then fills its zero fields from Defaults.
func (c *Config) setDefaults() error {
	if err := c.Validate(); err != nil {
		return err
	}
	c.applyDefaults()
	return nil
}
