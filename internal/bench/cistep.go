package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// ScenarioCIStep is the client as a CI step runs it: a new process that
// exchanges the job's token and writes the credentials, timed from process
// start to exit.
const ScenarioCIStep = "CI step: process start to credentials written (AssumeRoleWithWebIdentity RS256)"

// ciStep runs keyless assume and the aws CLI, one process after another,
// against endpoint with one of the RS256 org's job tokens. Each run must
// exit 0 with the credentials on stdout; a failed run counts as an error.
func (r *runner) ciStep(ctx context.Context, w *World, endpoint string) {
	home, err := os.MkdirTemp("", "keyless-bench-step-")
	if err != nil {
		r.report.Results = append(r.report.Results, Result{Scenario: ScenarioCIStep, Target: "keyless", Note: "not run: " + err.Error()})
		return
	}
	defer os.RemoveAll(home)
	// A clean environment: no credentials, config or CI token variables
	// of this shell, nothing written outside the temporary home.
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + home + "/config", "AWS_SHARED_CREDENTIALS_FILE=" + home + "/credentials"}
	token := w.RS.Tokens[0]
	clients := []struct {
		target, exe string
		args        []string
		runs        int
	}{
		{"keyless assume", r.cfg.Keyless, []string{"assume", "--endpoint-url", endpoint, "--region", region,
			"--role-arn", w.RS.RoleARN, "--role-session-name", "bench", "--web-identity-token", token, "--output", "json"}, r.cfg.StepRuns},
		{"aws CLI", r.cfg.AWSCLI, []string{"sts", "assume-role-with-web-identity", "--endpoint-url", endpoint, "--region", region,
			"--role-arn", w.RS.RoleARN, "--role-session-name", "bench", "--web-identity-token", token, "--output", "json"}, max(1, r.cfg.StepRuns/4)},
	}
	for _, c := range clients {
		if c.exe == "" {
			r.report.Results = append(r.report.Results, Result{Scenario: ScenarioCIStep, Target: c.target, Note: "not run: no executable"})
			continue
		}
		r.status("[%d] %s — %s", r.n+1, ScenarioCIStep, c.target)
		var st Stats
		var lat []time.Duration
		start := time.Now()
		for range c.runs {
			t0 := time.Now()
			err := runStep(ctx, c.exe, c.args, env)
			lat = append(lat, time.Since(t0))
			st.Requests++
			if err != nil {
				st.Errors++
				if st.FirstErr == "" {
					st.FirstErr = err.Error()
				}
			}
		}
		st.Elapsed = time.Since(start)
		slices.Sort(lat)
		st.finish(lat)
		r.n++
		res := Result{Scenario: ScenarioCIStep, Target: c.target, Stats: st, Note: fmt.Sprintf("%d runs, one process each", c.runs)}
		r.report.Results = append(r.report.Results, res)
		r.result("[%d] %-90.90s %8.1f ms p50 %8.1f ms p99 %d err", r.n, ScenarioCIStep+" — "+c.target, st.P50ms, st.P99ms, st.Errors)
	}
}

// runStep runs one client process and checks it printed credentials.
func runStep(ctx context.Context, exe string, args, env []string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", exe, err, strings.TrimSpace(errb.String()))
	}
	if !bytes.Contains(out.Bytes(), []byte(`"SessionToken"`)) {
		return fmt.Errorf("%s printed no credentials: %.200s", exe, out.String())
	}
	return nil
}
