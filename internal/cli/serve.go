package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/server"
)

func newServeCmd(env Env) *cobra.Command {
	var given serveConfig // what the command line said; loadServeConfig layers it
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the keyless server: AWS-compatible IAM/STS, hosted CI issuers, admin API",
		Long: `Run the keyless server: AWS-compatible IAM/STS, hosted CI issuers, admin API.

Settings come from flags, then environment variables (KEYLESS_STORE,
KEYLESS_STORE_MAX_CONNS, KEYLESS_STORE_TIMEOUT), then the --config file (JSON
with the flags' names as keys, numbers as numbers, durations as "5m"), then
the defaults shown below: a flag beats the environment, which beats the file.

Root credentials come from KEYLESS_ROOT_ACCESS_KEY_ID and
KEYLESS_ROOT_SECRET_ACCESS_KEY, or are generated on the first start; either
way a SQLite data dir keeps them in DIR/root-credentials, and a later start
without the variables uses them.`,
		Example: `  keyless serve --data-dir ./data
  keyless serve --addr 127.0.0.1:8443 --data-dir ./data --tls-cert cert.pem --tls-key key.pem
  keyless serve --config keyless.json --log-format json
  KEYLESS_STORE=postgres://keyless@db/keyless keyless serve --addr 0.0.0.0:8787 --master-key-file /run/secrets/master.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, err := loadServeConfig(cmd.Flags(), configFile, env.Getenv)
			if err != nil {
				return err
			}
			return runServe(cmd.Context(), env, sc)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "JSON file with any of these flags' names as keys")
	bindServeFlags(f, &given)
	enumCompletion(cmd, "log-format", "text", "json")
	enumCompletion(cmd, "log-level", "debug", "info", "warn", "error")
	return cmd
}

// runServe starts the server of sc and runs it until ctx ends or a signal
// stops it. The listen address is taken first: a busy port fails before
// anything is written to the data dir or any credential is generated.
func runServe(ctx context.Context, env Env, sc serveConfig) error {
	log, err := newServeLogger(env.Stderr, sc.LogFormat, sc.LogLevel)
	if err != nil {
		return err
	}
	if sc.DecisionsRetention <= 0 || sc.DecisionsMaxRows < 1 {
		return fmt.Errorf("--decisions-retention %s and --decisions-max-rows %d must be positive", &sc.DecisionsRetention, sc.DecisionsMaxRows)
	}
	memLimit, err := parseMemoryLimit(sc.MemoryLimit)
	if err != nil {
		return err
	}
	cfg, err := sc.serverConfig(env)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return serveError(err)
	}
	cfg.Log, cfg.Stdout = log, env.Stdout
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w (is another keyless serve, or another program, using it? stop it or choose another --addr)",
			cfg.Addr, errors.Unwrap(err))
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		ln.Close()
		return serveError(err)
	}
	defer srv.Close()
	memLimit.apply(ctx, env.Getenv)
	return srv.Run(ctx, ln)
}

// serveError renders the server's configuration errors with this command's
// flags and environment variables.
func serveError(err error) error {
	var ce *server.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	return errors.New(ce.Render(func(field string) string {
		if name, ok := serveFieldNames[field]; ok {
			return name
		}
		return field
	}))
}

// serveFieldNames spells server.Config's fields as `keyless serve` takes them.
var serveFieldNames = map[string]string{
	"Addr":               "--addr",
	"DataDir":            "--data-dir",
	"StoreURL":           "--store",
	"Account":            "--account-id",
	"Region":             "--region",
	"CAFile":             "--ca-file",
	"TLSCert":            "--tls-cert",
	"TLSKey":             "--tls-key",
	"RootAccessKeyID":    "KEYLESS_ROOT_ACCESS_KEY_ID",
	"RootSecretKey":      "KEYLESS_ROOT_SECRET_ACCESS_KEY",
	"MasterKey":          "--master-key-file or KEYLESS_MASTER_KEY",
	"StoreMaxConns":      "--store-max-conns",
	"StoreTimeout":       "--store-timeout",
	"MaxIssuers":         "--max-issuers",
	"JWKSMaxAge":         "--jwks-max-age",
	"RunnerMaxTTL":       "--runner-max-ttl",
	"DecisionsRetention": "--decisions-retention",
	"DecisionsMaxRows":   "--decisions-max-rows",
}

// newServeLogger returns the server's logger on w: format "text" or
// "json", or "" for text when w is a terminal and JSON otherwise.
func newServeLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
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
