package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/keylessci/keyless/internal/server"
)

// TestServeConfigPrecedence: a flag beats the environment, which beats the
// config file, which beats the defaults (server.Defaults); the file takes
// numbers as JSON numbers and durations as strings.
func TestServeConfigPrecedence(t *testing.T) {
	d := server.Defaults()
	tests := []struct {
		name  string
		file  string // JSON; "" for no --config
		env   map[string]string
		flags []string
		check func(t *testing.T, c serveConfig)
	}{
		{name: "defaults", check: func(t *testing.T, c serveConfig) {
			if c.Addr != d.Addr || c.AccountID != d.Account || c.Region != d.Region || c.MaxIssuers != d.MaxIssuers ||
				time.Duration(c.RunnerMaxTTL) != d.RunnerMaxTTL || time.Duration(c.JWKSMaxAge) != d.JWKSMaxAge || c.LogFormat != "" {
				t.Errorf("defaults %+v, want server.Defaults %+v", c, d)
			}
		}},
		{name: "file over defaults", file: `{"addr":"127.0.0.1:9001","max-issuers":5,"store-max-conns":3,"store-timeout":"2s",
			"allow-private-jwks":true,"jwks-max-age":"1m","runner-max-ttl":"2h","log-format":"json",
			"decisions-retention":"7d","decisions-max-rows":10}`,
			check: func(t *testing.T, c serveConfig) {
				if time.Duration(c.DecisionsRetention) != 7*24*time.Hour || c.DecisionsMaxRows != 10 {
					t.Errorf("decision log settings not applied: %+v", c)
				}
				if c.Addr != "127.0.0.1:9001" || c.MaxIssuers != 5 || c.StoreMaxConns != 3 || time.Duration(c.StoreTimeout) != 2*time.Second ||
					!c.AllowPrivateJWKS || time.Duration(c.JWKSMaxAge) != time.Minute || time.Duration(c.RunnerMaxTTL) != 2*time.Hour || c.LogFormat != "json" {
					t.Errorf("file not applied: %+v", c)
				}
			}},
		{name: "env over file", file: `{"store":"postgres://file/db","store-max-conns":3,"store-timeout":"2s"}`,
			env: map[string]string{"KEYLESS_STORE": "postgres://env/db", "KEYLESS_STORE_MAX_CONNS": "7", "KEYLESS_STORE_TIMEOUT": "9s"},
			check: func(t *testing.T, c serveConfig) {
				if c.Store != "postgres://env/db" || c.StoreMaxConns != 7 || time.Duration(c.StoreTimeout) != 9*time.Second {
					t.Errorf("env did not win over the file: %+v", c)
				}
			}},
		{name: "flag over env and file", file: `{"store":"postgres://file/db","store-max-conns":3,"addr":"127.0.0.1:9001"}`,
			env:   map[string]string{"KEYLESS_STORE": "postgres://env/db", "KEYLESS_STORE_MAX_CONNS": "7"},
			flags: []string{"--store", "postgres://flag/db", "--store-max-conns", "11", "--addr", "127.0.0.1:9002"},
			check: func(t *testing.T, c serveConfig) {
				if c.Store != "postgres://flag/db" || c.StoreMaxConns != 11 || c.Addr != "127.0.0.1:9002" {
					t.Errorf("flags did not win: %+v", c)
				}
			}},
		{name: "flag equal to the default still wins", file: `{"max-issuers":5,"runner-max-ttl":"2h"}`,
			flags: []string{"--max-issuers", "1000", "--runner-max-ttl", "720h"},
			check: func(t *testing.T, c serveConfig) {
				if c.MaxIssuers != 1000 || time.Duration(c.RunnerMaxTTL) != 720*time.Hour {
					t.Errorf("a flag given with the default's value lost to the file: %+v", c)
				}
			}},
		{name: "file keeps what env and flags leave", file: `{"region":"eu-west-1","account-id":"123456789012"}`,
			env: map[string]string{"KEYLESS_STORE_TIMEOUT": "9s"}, flags: []string{"--log-level", "debug"},
			check: func(t *testing.T, c serveConfig) {
				if c.Region != "eu-west-1" || c.AccountID != "123456789012" || c.LogLevel != "debug" || time.Duration(c.StoreTimeout) != 9*time.Second {
					t.Errorf("layers mixed wrongly: %+v", c)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadTestConfig(t, tt.file, tt.env, tt.flags...)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// loadTestConfig parses flags as `keyless serve` does and layers file and
// env under them.
func loadTestConfig(t *testing.T, file string, env map[string]string, flags ...string) (serveConfig, error) {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	var given serveConfig
	bindServeFlags(fs, &given)
	if err := fs.Parse(flags); err != nil {
		t.Fatal(err)
	}
	path := ""
	if file != "" {
		path = filepath.Join(t.TempDir(), "keyless.json")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return loadServeConfig(fs, path, func(k string) string { return env[k] })
}

func TestServeConfigErrors(t *testing.T) {
	tests := []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{name: "unknown key", file: `{"maxissuers":5}`, want: `unknown key "maxissuers"`},
		{name: "string for a number", file: `{"max-issuers":"5"}`, want: `key "max-issuers" takes a number, not a JSON string`},
		{name: "number for a duration", file: `{"store-timeout":5}`, want: `a duration is a string such as "90s"`},
		{name: "bad duration", file: `{"runner-max-ttl":"a month"}`, want: `"a month" is not a duration`},
		{name: "string for a boolean", file: `{"allow-private-jwks":"yes"}`, want: `key "allow-private-jwks" takes a boolean`},
		{name: "not JSON", file: `addr = "x"`, want: "invalid character"},
		{name: "bad env number", env: map[string]string{"KEYLESS_STORE_MAX_CONNS": "many"}, want: `KEYLESS_STORE_MAX_CONNS="many"`},
		{name: "bad env duration", env: map[string]string{"KEYLESS_STORE_TIMEOUT": "5"}, want: `KEYLESS_STORE_TIMEOUT="5": "5" is not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadTestConfig(t, tt.file, tt.env)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestServeStartupErrors runs `keyless serve` in process with settings it
// must refuse: the message names this command's flags and variables (the
// server's own errors name none), and nothing is written first.
func TestServeStartupErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{name: "no data dir", args: []string{"--addr", "127.0.0.1:0"}, want: []string{"--data-dir, --store: a data directory or a store URL is required"}},
		{name: "half the root credentials", env: map[string]string{"KEYLESS_ROOT_ACCESS_KEY_ID": "AKIAAAAAAAAAAAAAAAAA"},
			want: []string{"KEYLESS_ROOT_ACCESS_KEY_ID, KEYLESS_ROOT_SECRET_ACCESS_KEY: the root access key id and secret go together"}},
		{name: "bad account", args: []string{"--account-id", "12"}, want: []string{`--account-id: account id "12" is not 12 digits`}},
		{name: "half TLS", args: []string{"--tls-cert", "c.pem"}, want: []string{"--tls-cert, --tls-key:"}},
		{name: "bad log format", args: []string{"--log-format", "xml"}, want: []string{`--log-format "xml": want text or json`}},
		{name: "no decisions kept", args: []string{"--decisions-max-rows", "0"}, want: []string{"--decisions-max-rows 0 must be positive"}},
		{name: "busy port", args: []string{"--addr", busy.Addr().String()},
			want: []string{"cannot listen on " + busy.Addr().String(), "address already in use", "--addr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := tt.args
			if tt.name != "no data dir" {
				args = append([]string{"--data-dir", data}, args...)
			}
			r := serveInProcess(t, context.Background(), tt.env, args...)
			if r.code == 0 {
				t.Fatal("serve succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not say %q", r.stderr, w)
				}
			}
			if r.stdout != "" {
				t.Errorf("printed before failing: %q", r.stdout)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the data dir was created before failing: %v", err)
			}
		})
	}
}

// TestServeReopen: the reopen story of a data dir. Credentials given by
// KEYLESS_ROOT_* are recorded in DIR/root-credentials; a start without
// them uses the stored ones; other credentials, a missing or another
// master key are refused with a message that says what to do, and never
// shows a secret.
func TestServeReopen(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	a := map[string]string{"KEYLESS_ROOT_ACCESS_KEY_ID": "AKIAREOPENAAAAAAAAAA", "KEYLESS_ROOT_SECRET_ACCESS_KEY": "secret-of-a-secret-of-a-000000000000000"}
	b := map[string]string{"KEYLESS_ROOT_ACCESS_KEY_ID": "AKIAREOPENBBBBBBBBBB", "KEYLESS_ROOT_SECRET_ACCESS_KEY": "secret-of-b-secret-of-b-000000000000000"}
	aOtherSecret := map[string]string{"KEYLESS_ROOT_ACCESS_KEY_ID": a["KEYLESS_ROOT_ACCESS_KEY_ID"], "KEYLESS_ROOT_SECRET_ACCESS_KEY": b["KEYLESS_ROOT_SECRET_ACCESS_KEY"]}
	credsFile := filepath.Join(data, "root-credentials")
	serve := func(t *testing.T, env map[string]string) serveRun {
		t.Helper()
		return runServeUntilHealthy(t, env, "--data-dir", data, "--log-format", "json")
	}

	r := serve(t, a)
	if r.code != 0 {
		t.Fatalf("first start: %d %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "root credentials are in "+credsFile) {
		t.Errorf("first start says %q", r.stdout)
	}
	got, err := os.ReadFile(credsFile)
	if err != nil || !strings.Contains(string(got), a["KEYLESS_ROOT_ACCESS_KEY_ID"]) || !strings.Contains(string(got), a["KEYLESS_ROOT_SECRET_ACCESS_KEY"]) {
		t.Fatalf("the given credentials are not recorded in %s: %q %v", credsFile, got, err)
	}
	if fi, _ := os.Stat(credsFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v", credsFile, fi.Mode())
	}

	t.Run("without the variables the stored ones serve", func(t *testing.T) {
		if r := serve(t, nil); r.code != 0 || !strings.Contains(r.stdout, "root credentials are in "+credsFile) {
			t.Fatalf("%d %q %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("the same ones again serve", func(t *testing.T) {
		if r := serve(t, a); r.code != 0 {
			t.Fatalf("%d %s", r.code, r.stderr)
		}
	})
	refusals := []struct {
		name  string
		env   map[string]string
		setup func(t *testing.T)
		want  []string
	}{
		{name: "other credentials", env: b, want: []string{"root credentials are AKIAREOPENAAAAAAAAAA", "not the AKIAREOPENBBBBBBBBBB given",
			"unset KEYLESS_ROOT_ACCESS_KEY_ID and KEYLESS_ROOT_SECRET_ACCESS_KEY", "they are in " + credsFile, "fresh --data-dir"}},
		{name: "another secret for the same key", env: aOtherSecret, want: []string{"the secret given for AKIAREOPENAAAAAAAAAA is not the one",
			"they are in " + credsFile, "fresh --data-dir"}},
		{name: "another master key", env: map[string]string{"KEYLESS_MASTER_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
			want: []string{"--master-key-file or KEYLESS_MASTER_KEY", "sealed under another master key", "fresh --data-dir"}},
		{name: "master key missing", setup: func(t *testing.T) {
			mk := filepath.Join(data, "master.key")
			kept := filepath.Join(t.TempDir(), "master.key")
			if err := os.Rename(mk, kept); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := os.Rename(kept, mk); err != nil {
					t.Error(err)
				}
			})
		}, want: []string{filepath.Join(data, "master.key") + " is missing", "Put the original master.key back",
			"--master-key-file or KEYLESS_MASTER_KEY", "fresh --data-dir"}},
	}
	for _, tt := range refusals {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(t)
			}
			r := serveInProcess(t, context.Background(), tt.env, "--addr", "127.0.0.1:0", "--data-dir", data)
			if r.code == 0 {
				t.Fatal("served")
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("refusal %q does not say %q", r.stderr, w)
				}
			}
			for _, secret := range []string{a["KEYLESS_ROOT_SECRET_ACCESS_KEY"], b["KEYLESS_ROOT_SECRET_ACCESS_KEY"]} {
				if strings.Contains(r.stderr+r.stdout, secret) {
					t.Errorf("the refusal shows a secret: %q", r.stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(data, "master.key")); tt.name == "master key missing" && !os.IsNotExist(err) {
				t.Errorf("a new master.key was generated over a sealed store: %v", err)
			}
		})
	}
	t.Run("the data dir still opens after the refusals", func(t *testing.T) {
		if r := serve(t, nil); r.code != 0 {
			t.Fatalf("%d %s", r.code, r.stderr)
		}
	})
}

// TestServeLogFormat: --log-format text and json; the default is JSON when
// stderr is not a terminal (here a buffer).
func TestServeLogFormat(t *testing.T) {
	tests := []struct {
		name string
		args []string
		json bool
	}{
		{name: "text", args: []string{"--log-format", "text"}},
		{name: "json", args: []string{"--log-format", "json"}, json: true},
		{name: "default off a terminal", json: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runServeUntilHealthy(t, nil, append([]string{"--data-dir", t.TempDir()}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("%d %s", r.code, r.stderr)
			}
			line, _, _ := strings.Cut(r.stderr, "\n")
			var rec map[string]any
			isJSON := json.Unmarshal([]byte(line), &rec) == nil
			if isJSON != tt.json || !strings.Contains(line, "keyless serving") {
				t.Errorf("first log line %q: JSON %v, want %v", line, isJSON, tt.json)
			}
			if !tt.json && !strings.HasPrefix(line, "time=") {
				t.Errorf("text line %q", line)
			}
		})
	}
}

// serveRun is what one in-process `keyless serve` did.
type serveRun struct {
	code           int
	stdout, stderr string
}

// syncBuffer is written by the server's goroutines while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveInProcess runs `keyless serve args…` in process until it returns (ctx
// ending stops it).
func serveInProcess(t *testing.T, ctx context.Context, env map[string]string, args ...string) serveRun {
	t.Helper()
	var stdout, stderr syncBuffer
	code := Main(ctx, Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return env[k] }}, append([]string{"serve"}, args...))
	return serveRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// runServeUntilHealthy starts `keyless serve args…` on a free port, waits
// until its health check answers, stops it and returns what it did; a
// server that fails to start returns at once.
func runServeUntilHealthy(t *testing.T, env map[string]string, args ...string) serveRun {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan serveRun, 1)
	go func() { done <- serveInProcess(t, ctx, env, append([]string{"--addr", addr}, args...)...) }()
	deadline := time.After(2 * time.Minute) // a generous ceiling on a loaded machine
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-done:
			return r
		case <-deadline:
			t.Fatalf("keyless serve %v did not become healthy", args)
		case <-tick.C:
		}
		resp, err := http.Get("http://" + addr + "/_keyless/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				cancel()
				return <-done
			}
		}
	}
}

// TestServeKeepsGivenSecretsOffDisk: with the master key kept outside the
// data dir, credentials given in KEYLESS_ROOT_* are not written there, and
// a start with other ones is still refused with the fixes.
func TestServeKeepsGivenSecretsOffDisk(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"KEYLESS_MASTER_KEY": "S2V5bGVzcyB0ZXN0IG1hc3RlciBrZXkgMzIgYnl0ZXM=",
		"KEYLESS_ROOT_ACCESS_KEY_ID": "AKIAOFFDISKAAAAAAAAA", "KEYLESS_ROOT_SECRET_ACCESS_KEY": "secret-kept-off-disk-000000000000000000"}
	if r := runServeUntilHealthy(t, env, "--data-dir", data); r.code != 0 {
		t.Fatalf("%d %s", r.code, r.stderr)
	}
	for _, name := range []string{"root-credentials", "master.key"} {
		if _, err := os.Stat(filepath.Join(data, name)); !os.IsNotExist(err) {
			t.Errorf("%s written to the data dir: %v", name, err)
		}
	}
	other := map[string]string{"KEYLESS_MASTER_KEY": env["KEYLESS_MASTER_KEY"],
		"KEYLESS_ROOT_ACCESS_KEY_ID": "AKIAOFFDISKBBBBBBBBB", "KEYLESS_ROOT_SECRET_ACCESS_KEY": "another-secret-kept-off-disk-0000000000"}
	r := serveInProcess(t, context.Background(), other, "--addr", "127.0.0.1:0", "--data-dir", data)
	if r.code == 0 || !strings.Contains(r.stderr, "root credentials are AKIAOFFDISKAAAAAAAAA") ||
		!strings.Contains(r.stderr, "given to it") || strings.Contains(r.stderr, env["KEYLESS_ROOT_SECRET_ACCESS_KEY"]) {
		t.Fatalf("refusal %d %q", r.code, r.stderr)
	}
}
