package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/store/sqlstore/pgtest"
)

// TestQuickRun runs the whole benchmark with tiny durations: every
// scenario must complete requests without errors, and the JSON, table and
// SVG must be well formed.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and drives load for a few seconds")
	}
	moto, err := exec.LookPath("moto_server")
	if err != nil {
		t.Logf("moto_server not installed: the moto scenario is skipped (%v)", err)
		moto = ""
	}
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		t.Logf("aws CLI not installed: the CI-step scenario runs keyless assume alone (%v)", err)
		awsCLI = ""
	}
	// The CI-step scenario runs keyless as a client process.
	keyless := filepath.Join(t.TempDir(), "keyless")
	if out, err := exec.Command("go", "build", "-o", keyless, "github.com/keylessci/keyless/cmd/keyless").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var progress bytes.Buffer
	rep, err := Run(context.Background(), Config{Quick: true, Concurrency: 4, Duration: 200 * time.Millisecond,
		Roles: 30, Providers: 110, JWKSKeys: 20, Rounds: 2, Moto: moto, Keyless: keyless, AWSCLI: awsCLI, StepRuns: 4,
		Machine: "test", Progress: &progress,
		Usage: func(int) (Usage, error) { return Usage{CPU: time.Second, RSS: 1 << 20}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, s := range []string{
		"AssumeRoleWithWebIdentity RS256/keyless", "AssumeRoleWithWebIdentity RS256/floor",
		"AssumeRoleWithWebIdentity ES256/keyless", "AssumeRoleWithWebIdentity ES256/floor",
		"GetCallerIdentity (SigV4, session credentials)/keyless", "GetCallerIdentity (SigV4, session credentials)/floor",
		"IAM GetRole (root, SigV4)/keyless", "Issuer mint RS256/keyless", "Issuer mint ES256/keyless",
		"AssumeRoleWithWebIdentity RS256, remote issuer, JWKS 1 key/keyless",
		"AssumeRoleWithWebIdentity RS256, remote issuer, JWKS 20 keys/keyless",
		"AssumeRoleWithWebIdentity RS256, 1 role (before scale)/keyless",
		"AssumeRoleWithWebIdentity RS256, 30 roles + 110 providers: one role/keyless",
		"AssumeRoleWithWebIdentity RS256, 30 roles + 110 providers: cycling all roles/keyless",
	} {
		want[s] = true
	}
	if moto != "" {
		want["AssumeRoleWithWebIdentity RS256/moto"] = true
	}
	want[ScenarioCIStep+"/keyless assume"] = true
	if awsCLI != "" {
		want[ScenarioCIStep+"/aws CLI"] = true
	}
	for _, r := range rep.Results {
		key := r.Scenario + "/" + r.Target
		if awsCLI == "" && key == ScenarioCIStep+"/aws CLI" {
			continue // recorded as not run
		}
		t.Run(key, func(t *testing.T) {
			if !want[key] {
				t.Errorf("unexpected result %s", key)
			}
			delete(want, key)
			if r.Requests == 0 || r.Errors != 0 {
				t.Errorf("%d requests, %d errors (first: %s; note: %s)", r.Requests, r.Errors, r.FirstErr, r.Note)
			}
			if r.ReqPerSec <= 0 || r.P50ms <= 0 || r.P99ms < r.P50ms {
				t.Errorf("stats %+v", r.Stats)
			}
		})
	}
	for k := range want {
		t.Errorf("missing result %s", k)
	}
	// 4 providers exist before the scale run; IAM's quota is 100.
	if !strings.Contains(rep.Note, "of the scale run's 110 providers were written to the store directly") {
		t.Errorf("note does not report the providers past the quota: %s", rep.Note)
	}
	if len(rep.ColdStartMs) != 1 || rep.ColdStartMedianMs <= 0 {
		t.Errorf("cold start %v", rep.ColdStartMs)
	}
	if len(rep.Checks) < 6 {
		t.Errorf("only %d target checks: %+v", len(rep.Checks), rep.Checks)
	}
	if !strings.Contains(progress.String(), "req/s") {
		t.Errorf("no progress output: %q", progress.String())
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Results) != len(rep.Results) {
		t.Errorf("JSON does not round-trip: %v", err)
	}
	var svg bytes.Buffer
	if err := rep.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&svg)
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Errorf("SVG is not well-formed XML: %v", err)
			}
			break
		}
	}
	if os.Getenv("BENCH_KEEP") != "" {
		_ = rep.WriteTable(os.Stdout)
	}
}

// TestQuickRunPostgresReplicas runs the benchmark as --replicas 2 --store
// postgres://… does: two in-process servers on one PostgreSQL database
// (which needs the same master key on both), every scenario without error.
func TestQuickRunPostgresReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster and two servers; skipped with -short")
	}
	url := pgtest.Start(t)
	rep, err := Run(context.Background(), Config{Quick: true, Concurrency: 4, Duration: 200 * time.Millisecond,
		Roles: 20, Providers: 10, JWKSKeys: 5, Rounds: 1, Replicas: 2, StoreURL: url, Machine: "test", StepRuns: 1,
		Usage: func(int) (Usage, error) { return Usage{CPU: time.Second, RSS: 1 << 20}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rep.Results {
		if r.Requests == 0 {
			continue // the CI-step scenario, with no client executable given
		}
		n++
		if r.Errors != 0 {
			t.Errorf("%s/%s: %d errors (first: %s)", r.Scenario, r.Target, r.Errors, r.FirstErr)
		}
	}
	if n < 10 || rep.Replicas != 2 {
		t.Errorf("%d scenarios ran on %d replicas", n, rep.Replicas)
	}
}
