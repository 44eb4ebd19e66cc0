package cli

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/server"
)

// fileConfig is the --config file: JSON with the flags' names. Flags given
// on the command line win over the file.
type fileConfig struct {
	Addr      string `json:"addr"`
	DataDir   string `json:"data-dir"`
	Store     string `json:"store"`
	AccountID string `json:"account-id"`
	Region    string `json:"region"`
	CAFile    string `json:"ca-file"`
	// MasterKeyFile holds the master key (see --master-key-file).
	MasterKeyFile string `json:"master-key-file"`
	// AllowPrivateJWKS: see --allow-private-jwks.
	AllowPrivateJWKS bool   `json:"allow-private-jwks"`
	MaxIssuers       int    `json:"max-issuers"`
	TLSCert          string `json:"tls-cert"`
	TLSKey           string `json:"tls-key"`
	LogLevel         string `json:"log-level"`
	JWKSMaxAge       string `json:"jwks-max-age"`
	// StoreMaxConns and StoreTimeout size the store's connection pool and
	// bound every store call; 0 keeps the backend's default.
	StoreMaxConns int           `json:"store-max-conns"`
	StoreTimeout  time.Duration `json:"store-timeout"`
	RunnerMaxTTL  time.Duration `json:"runner-max-ttl"`
	// The decision log's retention: by age (30d, 720h) and by row count.
	DecisionsRetention string `json:"decisions-retention"`
	DecisionsMaxRows   int    `json:"decisions-max-rows"`
}

func newServeCmd(env Env) *cobra.Command {
	var fc fileConfig
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the keyless server: AWS-compatible IAM/STS, hosted CI issuers, admin API",
		Example: `  keyless serve --data-dir ./data
  keyless serve --addr 127.0.0.1:8443 --data-dir ./data --tls-cert cert.pem --tls-key key.pem
  KEYLESS_STORE=postgres://keyless@db/keyless keyless serve --addr 0.0.0.0:8787`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configFile != "" {
				if err := mergeConfigFile(cmd, configFile, &fc); err != nil {
					return err
				}
			}
			if fc.Store == "" {
				fc.Store = env.Getenv("KEYLESS_STORE")
			}
			if err := storeEnv(env, &fc); err != nil {
				return err
			}
			level := slog.LevelInfo
			if err := level.UnmarshalText([]byte(fc.LogLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			var maxAge time.Duration
			if fc.JWKSMaxAge != "" {
				d, err := time.ParseDuration(fc.JWKSMaxAge)
				if err != nil {
					return fmt.Errorf("--jwks-max-age: %w", err)
				}
				maxAge = d
			}
			retention, err := decision.ParseDuration(fc.DecisionsRetention)
			if err != nil || retention == 0 || fc.DecisionsMaxRows < 1 {
				return fmt.Errorf("--decisions-retention %q and --decisions-max-rows %d must be positive", fc.DecisionsRetention, fc.DecisionsMaxRows)
			}
			masterKey, err := masterKey(env, fc.MasterKeyFile)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
			cfg := server.Config{
				Addr: fc.Addr, DataDir: fc.DataDir, StoreURL: fc.Store, Account: fc.AccountID, Region: fc.Region,
				CAFile: fc.CAFile, TLSCert: fc.TLSCert, TLSKey: fc.TLSKey, JWKSMaxAge: maxAge,
				StoreMaxConns: fc.StoreMaxConns, StoreTimeout: fc.StoreTimeout, RunnerMaxTTL: fc.RunnerMaxTTL,
				RootAccessKeyID: env.Getenv("KEYLESS_ROOT_ACCESS_KEY_ID"),
				RootSecretKey:   env.Getenv("KEYLESS_ROOT_SECRET_ACCESS_KEY"),
				MasterKey:       masterKey, AllowPrivateJWKS: fc.AllowPrivateJWKS, MaxIssuers: fc.MaxIssuers,
				Log: log, Stdout: env.Stdout,
				DecisionsRetention: retention, DecisionsMaxRows: fc.DecisionsMaxRows,
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			srv, err := server.New(ctx, cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			return srv.Run(ctx, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "JSON file with any of these flags as keys")
	f.StringVar(&fc.Addr, "addr", "127.0.0.1:8787", "listen address")
	f.StringVar(&fc.DataDir, "data-dir", "", "data directory (SQLite store, generated root credentials)")
	f.StringVar(&fc.Store, "store", "", "store URL: postgres://… for PostgreSQL (env KEYLESS_STORE); default SQLite in --data-dir")
	f.IntVar(&fc.StoreMaxConns, "store-max-conns", 0,
		"most open store connections per replica (env KEYLESS_STORE_MAX_CONNS; default 10 on PostgreSQL, 4 SQLite readers)")
	f.DurationVar(&fc.StoreTimeout, "store-timeout", 0,
		"bound on every store call, waiting for a connection or lock included; past it the call fails with ServiceUnavailable (env KEYLESS_STORE_TIMEOUT; default 5s)")
	f.StringVar(&fc.AccountID, "account-id", "000000000000", "the 12-digit AWS account id this server acts as")
	f.StringVar(&fc.Region, "region", "us-east-1", "region this server acts as (recorded in RoleLastUsed; admin API calls must be signed for it)")
	f.StringVar(&fc.MasterKeyFile, "master-key-file", "",
		"file holding the master key that seals the store's secrets (32 bytes, base64; env KEYLESS_MASTER_KEY holds the key itself); required with PostgreSQL, the same on every replica; default for SQLite: --data-dir/master.key, generated once")
	f.BoolVar(&fc.AllowPrivateJWKS, "allow-private-jwks", false,
		"let providers' jwks_uri point at loopback, link-local or private addresses (by default only a provider itself on such an address may)")
	f.IntVar(&fc.MaxIssuers, "max-issuers", 1000, "most hosted issuers this server's store may hold")
	f.StringVar(&fc.CAFile, "ca-file", "", "PEM file of extra CAs trusted when fetching identity providers' keys")
	f.StringVar(&fc.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	f.StringVar(&fc.TLSKey, "tls-key", "", "private key for --tls-cert (PEM)")
	f.StringVar(&fc.LogLevel, "log-level", "info", "debug|info|warn|error")
	f.DurationVar(&fc.RunnerMaxTTL, "runner-max-ttl", 720*time.Hour,
		"longest lifetime of runner credentials (keyless issuer runner-credentials), and their default")
	f.StringVar(&fc.JWKSMaxAge, "jwks-max-age", "", "Cache-Control max-age of hosted issuers' JWKS (default 5m)")
	f.StringVar(&fc.DecisionsRetention, "decisions-retention", "30d", "how long the decision log keeps a decision (e.g. 7d, 36h)")
	f.IntVar(&fc.DecisionsMaxRows, "decisions-max-rows", 1_000_000, "most decisions the log keeps; the oldest beyond it are pruned")
	return cmd
}

// storeEnv fills the store pool settings from KEYLESS_STORE_MAX_CONNS and
// KEYLESS_STORE_TIMEOUT when neither a flag nor the config file set them.
func storeEnv(env Env, fc *fileConfig) error {
	if v := env.Getenv("KEYLESS_STORE_MAX_CONNS"); v != "" && fc.StoreMaxConns == 0 {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("KEYLESS_STORE_MAX_CONNS: %w", err)
		}
		fc.StoreMaxConns = n
	}
	if v := env.Getenv("KEYLESS_STORE_TIMEOUT"); v != "" && fc.StoreTimeout == 0 {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("KEYLESS_STORE_TIMEOUT: %w", err)
		}
		fc.StoreTimeout = d
	}
	if fc.StoreMaxConns < 0 || fc.StoreTimeout < 0 {
		return fmt.Errorf("--store-max-conns and --store-timeout must not be negative")
	}
	return nil
}

func mergeConfigFile(cmd *cobra.Command, path string, fc *fileConfig) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	for k, v := range m {
		fl := cmd.Flags().Lookup(k)
		if fl == nil || k == "config" {
			return fmt.Errorf("--config %s: unknown key %q", path, k)
		}
		if fl.Changed {
			continue // the command line wins
		}
		if err := fl.Value.Set(v); err != nil {
			return fmt.Errorf("--config %s: %s: %w", path, k, err)
		}
	}
	fc.Addr = strings.TrimSpace(fc.Addr)
	return nil
}

// masterKey reads the master key from --master-key-file, else from
// KEYLESS_MASTER_KEY; nil when neither is given.
func masterKey(env Env, file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--master-key-file: %w", err)
		}
		k, err := server.ParseMasterKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("--master-key-file %s: %w", file, err)
		}
		return k, nil
	}
	if v := env.Getenv("KEYLESS_MASTER_KEY"); v != "" {
		k, err := server.ParseMasterKey(v)
		if err != nil {
			return nil, fmt.Errorf("KEYLESS_MASTER_KEY: %w", err)
		}
		return k, nil
	}
	return nil, nil
}
