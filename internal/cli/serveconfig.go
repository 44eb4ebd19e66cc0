package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/server"
)

// serveConfig is everything `keyless serve` takes by flag, environment
// variable or --config file. Its JSON names are the flags' names; numbers
// are JSON numbers, durations strings such as "5m". Secrets (root
// credentials, the master key itself) come only from the environment or
// files named here, never from the config file.
type serveConfig struct {
	Addr             string   `json:"addr"`
	DataDir          string   `json:"data-dir"`
	Store            string   `json:"store"`
	StoreMaxConns    int      `json:"store-max-conns"`
	StoreTimeout     duration `json:"store-timeout"`
	AccountID        string   `json:"account-id"`
	Region           string   `json:"region"`
	MasterKeyFile    string   `json:"master-key-file"`
	AllowPrivateJWKS bool     `json:"allow-private-jwks"`
	MaxIssuers       int      `json:"max-issuers"`
	CAFile           string   `json:"ca-file"`
	TLSCert          string   `json:"tls-cert"`
	TLSKey           string   `json:"tls-key"`
	LogLevel         string   `json:"log-level"`
	LogFormat        string   `json:"log-format"`
	RunnerMaxTTL     duration `json:"runner-max-ttl"`
	JWKSMaxAge       duration `json:"jwks-max-age"`
	// The decision log's retention: by age (30d, 720h) and by row count.
	DecisionsRetention duration `json:"decisions-retention"`
	DecisionsMaxRows   int      `json:"decisions-max-rows"`
	// MemoryLimit is Go's soft memory limit: auto, off or a size.
	MemoryLimit string `json:"memory-limit"`
}

// serveEnv names the environment variable of each flag that has one.
var serveEnv = map[string]string{
	"store":           "KEYLESS_STORE",
	"store-max-conns": "KEYLESS_STORE_MAX_CONNS",
	"store-timeout":   "KEYLESS_STORE_TIMEOUT",
}

// bindServeFlags defines serve's flags on fs, bound to c and set to their
// defaults, which come from server.Defaults: the one place they live.
func bindServeFlags(fs *pflag.FlagSet, c *serveConfig) {
	d := server.Defaults()
	fs.StringVar(&c.Addr, "addr", d.Addr, "listen address")
	fs.StringVar(&c.DataDir, "data-dir", "", "data directory (SQLite store, master.key, root-credentials)")
	fs.StringVar(&c.Store, "store", "", "store URL: postgres://… for PostgreSQL (env KEYLESS_STORE); default SQLite in --data-dir")
	fs.IntVar(&c.StoreMaxConns, "store-max-conns", 0,
		"most open store connections per replica (env KEYLESS_STORE_MAX_CONNS; 0: 10 on PostgreSQL, 4 SQLite readers)")
	fs.Var(&c.StoreTimeout, "store-timeout",
		"bound on every store call, waiting for a connection or lock included; past it the call fails with ServiceUnavailable (env KEYLESS_STORE_TIMEOUT; 0: 5s)")
	fs.StringVar(&c.AccountID, "account-id", d.Account, "the 12-digit AWS account id this server acts as")
	fs.StringVar(&c.Region, "region", d.Region, "region this server acts as (recorded in RoleLastUsed; admin API calls must be signed for it)")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", "",
		"file holding the master key that seals the store's secrets (32 bytes, base64; env KEYLESS_MASTER_KEY holds the key itself); required with PostgreSQL, the same on every replica; default for SQLite: --data-dir/master.key, generated on the first start")
	fs.BoolVar(&c.AllowPrivateJWKS, "allow-private-jwks", false,
		"let providers' jwks_uri point at loopback, link-local or private addresses (by default only a provider itself on such an address may)")
	fs.IntVar(&c.MaxIssuers, "max-issuers", d.MaxIssuers, "most hosted issuers this server's store may hold")
	fs.StringVar(&c.CAFile, "ca-file", "", "PEM file of extra CAs trusted when fetching identity providers' keys")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "private key for --tls-cert (PEM)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug|info|warn|error")
	fs.StringVar(&c.LogFormat, "log-format", "", "text|json (default: text when stderr is a terminal, json otherwise)")
	c.RunnerMaxTTL = duration(d.RunnerMaxTTL)
	fs.Var(&c.RunnerMaxTTL, "runner-max-ttl", "longest lifetime of runner credentials (keyless issuer runner-credentials), and their default")
	c.JWKSMaxAge = duration(d.JWKSMaxAge)
	fs.Var(&c.JWKSMaxAge, "jwks-max-age", "Cache-Control max-age of hosted issuers' JWKS")
	c.DecisionsRetention = duration(d.DecisionsRetention)
	fs.Var(&c.DecisionsRetention, "decisions-retention", "how long the decision log keeps a decision (e.g. 7d, 36h)")
	fs.IntVar(&c.DecisionsMaxRows, "decisions-max-rows", d.DecisionsMaxRows, "most decisions the log keeps; the oldest beyond it are pruned")
	fs.StringVar(&c.MemoryLimit, "memory-limit", "auto",
		"Go's soft memory limit: auto (1.5x the live heap, at least 64MiB; GOMEMLIMIT in the environment wins), off, or a size such as 512MiB")
}

// loadServeConfig layers serve's configuration: the defaults, then the
// config file (when file is not ""), then the environment, then the flags
// set on the command line (given). A later layer wins.
func loadServeConfig(given *pflag.FlagSet, file string, getenv func(string) string) (serveConfig, error) {
	var c serveConfig
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	bindServeFlags(fs, &c)
	if file != "" {
		if err := c.readFile(file); err != nil {
			return serveConfig{}, err
		}
	}
	for flag, name := range serveEnv {
		if v := getenv(name); v != "" {
			if err := fs.Lookup(flag).Value.Set(v); err != nil {
				return serveConfig{}, fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	}
	var err error
	given.Visit(func(f *pflag.Flag) {
		if err == nil && fs.Lookup(f.Name) != nil {
			if serr := fs.Lookup(f.Name).Value.Set(f.Value.String()); serr != nil {
				err = fmt.Errorf("--%s: %w", f.Name, serr)
			}
		}
	})
	if err != nil {
		return serveConfig{}, err
	}
	c.Addr = strings.TrimSpace(c.Addr)
	return c, nil
}

// readFile sets the keys the JSON config file holds; unknown keys and
// values of the wrong type are errors that name the key.
func (c *serveConfig) readFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err = dec.Decode(c)
	var te *json.UnmarshalTypeError
	var de *durationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return fmt.Errorf("--config %s: %s", path, de)
	case errors.As(err, &te):
		return fmt.Errorf("--config %s: key %q takes a %s, not a JSON %s", path, te.Field, jsonKind(te.Type.Kind().String()), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("--config %s: unknown key %s (keys are serve's flag names)", path, strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return fmt.Errorf("--config %s: %w", path, err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64":
		return "number"
	case "bool":
		return "boolean (true or false)"
	}
	return goKind
}

// serverConfig is the server.Config of c, with the secrets the environment
// holds.
func (c serveConfig) serverConfig(env Env) (server.Config, error) {
	mk, err := masterKey(env, c.MasterKeyFile)
	if err != nil {
		return server.Config{}, err
	}
	return server.Config{
		Addr: c.Addr, DataDir: c.DataDir, StoreURL: c.Store, Account: c.AccountID, Region: c.Region,
		CAFile: c.CAFile, TLSCert: c.TLSCert, TLSKey: c.TLSKey, JWKSMaxAge: time.Duration(c.JWKSMaxAge),
		StoreMaxConns: c.StoreMaxConns, StoreTimeout: time.Duration(c.StoreTimeout), RunnerMaxTTL: time.Duration(c.RunnerMaxTTL),
		RootAccessKeyID: env.Getenv("KEYLESS_ROOT_ACCESS_KEY_ID"),
		RootSecretKey:   env.Getenv("KEYLESS_ROOT_SECRET_ACCESS_KEY"),
		MasterKey:       mk, AllowPrivateJWKS: c.AllowPrivateJWKS, MaxIssuers: c.MaxIssuers,
		DecisionsRetention: time.Duration(c.DecisionsRetention), DecisionsMaxRows: c.DecisionsMaxRows,
	}, nil
}

// duration is a time.Duration spelled as Go does ("90s", "5m", "720h") or
// in days ("30d"), in flags, environment and the config file. A JSON
// number is refused: it would silently mean nanoseconds.
type duration time.Duration

func (d *duration) String() string { return time.Duration(*d).String() }
func (d *duration) Type() string   { return "duration" }

func (d *duration) Set(s string) error {
	v, err := decision.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 90s, 5m, 720h or 30d", s)
	}
	*d = duration(v)
	return nil
}

// durationError is a config file's duration that is not one.
type durationError struct{ msg string }

func (e *durationError) Error() string { return e.msg }

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &durationError{fmt.Sprintf("a duration is a string such as \"90s\", \"5m\", \"720h\" or \"30d\", not %s", b)}
	}
	if err := d.Set(s); err != nil {
		return &durationError{err.Error()}
	}
	return nil
}
