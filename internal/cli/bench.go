package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/bench"
)

func newBenchCmd(env Env) *cobra.Command {
	var (
		cfg        bench.Config
		out, chart string
		cpuProfile string
		from       string
		noMoto     bool
		failOnMiss bool
		decisions  string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark keyless (token exchange, SigV4, IAM, minting) against moto_server and a bare floor",
		Long: `bench starts keyless in this process with an embedded store in a temporary data
directory (or targets --endpoint), creates issuers, providers and roles through the
public APIs, and drives each scenario at fixed concurrency for a fixed duration
with a Go load generator on loopback: AssumeRoleWithWebIdentity (RS256, ES256,
remote issuers with 1 and 100 JWKS keys, 10,000 roles + 1,000 providers),
GetCallerIdentity, IAM GetRole and issuer minting; the same exchange against
moto_server when it is installed, and against a bare "floor" server doing only the
unavoidable work; and the client as a CI step runs it (keyless assume, and the aws
CLI when it is installed, a new process per exchange). It reports req/s, p50/p99, errors, CPU and RSS, checks the
targets of docs/performance.md, and writes JSON (--out) and an SVG chart (--chart).

Each scenario runs --duration per target (10s; about 5 minutes in all, with the
10,000-role scale run's setup; --quick under 30 seconds). Progress goes to stderr:
one status line rewritten in place on a terminal, whole lines (counts every 10s)
anywhere else, such as a CI log. The exit status is 1 when a checked target is
missed, after the table and files are written (--fail-on-miss=false: always 0).`,
		Example: `  keyless bench --out results.json --chart results.svg
  keyless bench --quick
  keyless bench --decisions off --out without-decision-log.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from != "" {
				data, err := os.ReadFile(from)
				if err != nil {
					return err
				}
				rep := &bench.Report{}
				if err := json.Unmarshal(data, rep); err != nil {
					return fmt.Errorf("%s: %w", from, err)
				}
				if err := writeReport(env, rep, "", chart); err != nil {
					return err
				}
				return missed(rep, failOnMiss)
			}
			if cfg.Endpoint != "" {
				id, secret := env.Getenv("KEYLESS_ROOT_ACCESS_KEY_ID"), env.Getenv("KEYLESS_ROOT_SECRET_ACCESS_KEY")
				if id == "" || secret == "" {
					return errors.New("--endpoint needs the server's root credentials in KEYLESS_ROOT_ACCESS_KEY_ID/KEYLESS_ROOT_SECRET_ACCESS_KEY")
				}
				cfg.Root = aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
			}
			if err := oneOf("--decisions", decisions, "on", "off"); err != nil {
				return err
			}
			cfg.DecisionsOff = decisions == "off"
			if cfg.DecisionsOff && cfg.Endpoint != "" {
				return errors.New("--decisions off applies to in-process servers; start the --endpoint server without it instead")
			}
			if cfg.Replicas > 1 && cfg.Endpoint != "" {
				return errors.New("--replicas starts servers in process; it does not go with --endpoint")
			}
			if !noMoto {
				if p, err := exec.LookPath("moto_server"); err == nil {
					cfg.Moto = p
				} else {
					fmt.Fprintln(env.Stderr, "keyless bench: moto_server not found on PATH; skipping moto")
				}
			}
			// The CI-step scenario runs this binary as the client, beside
			// the aws CLI when it is installed.
			if exe, err := os.Executable(); err == nil {
				cfg.Keyless = exe
			}
			if p, err := exec.LookPath("aws"); err == nil {
				cfg.AWSCLI = p
			} else {
				fmt.Fprintln(env.Stderr, "keyless bench: aws not found on PATH; the CI-step scenario runs keyless assume alone")
			}
			cfg.Usage = procUsage
			cfg.Machine = machine()
			cfg.Progress = env.Stderr
			cfg.ProgressLines = !isTerminal(env.Stderr)
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := writeReport(env, rep, out, chart); err != nil {
				return err
			}
			return missed(rep, failOnMiss)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Concurrency, "concurrency", 32, "requests in flight per scenario")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "duration of each scenario (--quick: 300ms unless set)")
	f.BoolVar(&cfg.Quick, "quick", false, "short run: small scale runs, one cold start")
	f.StringVar(&cfg.Endpoint, "endpoint-url", "", "benchmark an external keyless server (root credentials from KEYLESS_ROOT_*)")
	deprecatedAlias(f, "endpoint", "endpoint-url")
	f.IntVar(&cfg.EndpointPID, "endpoint-pid", 0, "process id of the --endpoint server, to report its CPU and RSS")
	f.IntVar(&cfg.Replicas, "replicas", 1, "in-process servers sharing one store, targeted round-robin")
	f.StringVar(&cfg.StoreURL, "store", "", "store URL for the in-process servers (default SQLite in a temporary dir)")
	f.IntVar(&cfg.Roles, "roles", 0, "roles in the scale run (default 10000, --quick 200)")
	f.IntVar(&cfg.Providers, "providers", 0, "providers in the scale run (default 1000, --quick 20)")
	f.BoolVar(&noMoto, "no-moto", false, "do not run moto_server")
	f.BoolVar(&failOnMiss, "fail-on-miss", true, "exit 1 when a checked target is missed")
	f.StringVar(&decisions, "decisions", "on", "the in-process servers' decision log: on | off (run both to measure its cost)")
	enumCompletion(cmd, "decisions", "on", "off")
	f.StringVar(&out, "out", "", "write the results as JSON to this file")
	f.StringVar(&chart, "chart", "", "write an SVG bar chart to this file")
	f.StringVar(&from, "from", "", "do not run: print the table and write --chart from a saved --out JSON")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (servers, floor and load generator) to this file")
	cmd.PreRun = func(cmd *cobra.Command, _ []string) {
		if cfg.Quick && !cmd.Flags().Changed("duration") {
			cfg.Duration = 0 // the quick default
		}
	}
	return cmd
}

// missed is the exit status of a run: 1 naming the missed targets, when
// asked to fail on them.
func missed(rep *bench.Report, fail bool) error {
	var names []string
	for _, c := range rep.Checks {
		if !c.Met {
			names = append(names, c.Target+" (got "+c.Got+")")
		}
	}
	if !fail || len(names) == 0 {
		return nil
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("%d target(s) missed: %s (--fail-on-miss=false to exit 0)", len(names), strings.Join(names, "; "))}
}

// writeReport prints the table and writes the JSON and chart files asked for.
func writeReport(env Env, rep *bench.Report, out, chart string) error {
	if err := rep.WriteTable(env.Stdout); err != nil {
		return err
	}
	for _, f := range []struct {
		path  string
		write func(io.Writer) error
	}{{out, rep.WriteJSON}, {chart, rep.WriteSVG}} {
		if f.path == "" {
			continue
		}
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return err
		}
		if err := os.WriteFile(f.path, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}

// procUsage reads a process's CPU time (utime+stime) and RSS from /proc.
func procUsage(pid int) (bench.Usage, error) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return bench.Usage{}, err
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return bench.Usage{}, errors.New("unparsable /proc stat")
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 22 {
		return bench.Usage{}, errors.New("short /proc stat")
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(fields[12], 10, 64) // field 15
	rssPages, _ := strconv.ParseInt(fields[21], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return bench.Usage{
		CPU: time.Duration(utime+stime) * time.Second / ticks,
		RSS: rssPages * int64(os.Getpagesize()),
	}, nil
}

// machine describes this machine: CPU model, cores, memory, kernel.
func machine() string {
	model := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if k, _, ok := strings.Cut(string(b), "\n"); ok {
			if n, err := strconv.ParseInt(strings.Fields(k)[1], 10, 64); err == nil {
				mem = fmt.Sprintf(", %.1f GiB RAM", float64(n)/(1<<20))
			}
		}
	}
	if model == "" {
		model = "unknown CPU"
	}
	return fmt.Sprintf("%s, %d CPUs%s, %s/%s", model, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH)
}
