// Package bench is keyless's load benchmark (`keyless bench`): it starts
// keyless in process with an embedded store (or targets an external
// server), creates issuers, providers and roles through the public APIs,
// and drives fixed-concurrency, fixed-duration load with a Go load
// generator against AssumeRoleWithWebIdentity (RS256, ES256, remote
// issuers with 1 and 100 JWKS keys, 10,000 roles), GetCallerIdentity,
// IAM GetRole and issuer minting — side by side with moto_server and with
// bare "floor" servers that do only the unavoidable work. It reports
// req/s, p50/p99 latency, errors, CPU time and RSS as JSON and an SVG
// chart.
//
// It does not read files or the environment: process usage (CPU, RSS) is
// measured by a function the caller injects (cli reads /proc). It does
// not assert performance: the targets are reported as met or not.
package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/store"
)

// Usage is one process's resource use so far.
type Usage struct {
	CPU time.Duration // user + system
	RSS int64         // resident set, bytes
}

// Config configures a benchmark run. Zero values take the defaults noted.
type Config struct {
	// Endpoint targets an external keyless server (root credentials in
	// Root); empty starts Replicas servers in process.
	Endpoint string
	Root     aws.Credentials
	// EndpointPID, when set, is the external server's process id: its CPU
	// and RSS are reported.
	EndpointPID int
	// Replicas in-process servers share one store (StoreURL, or SQLite in
	// a temporary data dir) and are targeted round-robin. Default 1.
	Replicas int
	StoreURL string
	// DecisionsOff runs the in-process servers without the decision log,
	// so two runs (on, off) measure what the log costs an exchange.
	DecisionsOff bool

	Concurrency int           // default 32
	Duration    time.Duration // per scenario; default 10s (Quick: 300ms)
	Quick       bool          // small scale runs, one cold start
	Roles       int           // scale run; default 10,000 (Quick: 200)
	Providers   int           // scale run; default 1,000 (Quick: 20)
	JWKSKeys    int           // the large remote JWKS; default 100
	ColdStarts  int           // default 5 (Quick: 1)
	// Rounds: compared targets alternate in this many slices of Duration.
	// Default 5 (Quick: 1).
	Rounds int

	// Moto is the moto_server executable; empty skips moto.
	Moto string
	// Keyless is the keyless executable the CI-step scenario runs as a
	// client (keyless assume); AWSCLI is the aws CLI it runs beside it.
	// Empty skips that client, with a note.
	Keyless, AWSCLI string
	// StepRuns is how many processes each client of the CI-step scenario
	// starts (default 20, Quick: 3); the aws CLI, ten times slower, runs a
	// quarter of them.
	StepRuns int
	// Usage reports a process's CPU and RSS (pid); nil reports none.
	Usage func(pid int) (Usage, error)
	// Machine describes the machine in the report.
	Machine string
	// Progress receives a progress line while scenarios run; nil is quiet.
	Progress io.Writer
	// ProgressLines says Progress is not a terminal (a CI log, a file): it
	// then gets whole lines and no carriage returns, and a running
	// scenario's counts at most every ProgressEvery (default 10s).
	ProgressLines bool
	ProgressEvery time.Duration
}

func (c *Config) setDefaults() {
	if c.Replicas < 1 {
		c.Replicas = 1
	}
	if c.Concurrency < 1 {
		c.Concurrency = 32
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
		if c.Quick {
			c.Duration = 300 * time.Millisecond
		}
	}
	pick := func(v *int, full, quick int) {
		if *v <= 0 {
			*v = full
			if c.Quick {
				*v = quick
			}
		}
	}
	pick(&c.Roles, 10000, 200)
	pick(&c.Providers, 1000, 20)
	pick(&c.JWKSKeys, 100, 100)
	pick(&c.ColdStarts, 5, 1)
	pick(&c.Rounds, 5, 1)
	pick(&c.StepRuns, 20, 3)
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 10 * time.Second
	}
}

// status shows what the run is doing now: on a terminal it overwrites the
// previous status; elsewhere it is a line of its own.
func (r *runner) status(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.cfg.ProgressLines {
		fmt.Fprintln(r.cfg.Progress, msg)
		return
	}
	fmt.Fprintf(r.cfg.Progress, "\r%-100s", msg)
}

// result prints a finished line, replacing the status on a terminal.
func (r *runner) result(format string, args ...any) {
	if !r.cfg.ProgressLines {
		fmt.Fprint(r.cfg.Progress, "\r")
	}
	fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
}

// ticker returns a Load progress callback for label: every call on a
// terminal, at most every ProgressEvery elsewhere.
func (r *runner) ticker(label string) func(el time.Duration, done, errs uint64) {
	var last time.Duration
	return func(el time.Duration, done, errs uint64) {
		if r.cfg.ProgressLines {
			if el-last < r.cfg.ProgressEvery {
				return
			}
			last = el
		}
		r.status("%-96.96s %5.1fs %8d req %6d err", label, el.Seconds(), done, errs)
	}
}

// Result is one scenario against one target.
type Result struct {
	Scenario string `json:"scenario"`
	Target   string `json:"target"` // keyless | floor | moto
	Stats
	CPUSeconds float64 `json:"cpu_seconds,omitempty"` // of the server process during the run
	CPUPerReq  float64 `json:"cpu_us_per_req,omitempty"`
	RSSMiB     float64 `json:"rss_mib,omitempty"` // of the server process after the run
	// HeapMiB is the live Go heap after a GC, and ReleasedRSSMiB the RSS
	// once freed memory is returned to the OS (debug.FreeOSMemory), for
	// in-process targets.
	HeapMiB        float64 `json:"heap_mib,omitempty"`
	ReleasedRSSMiB float64 `json:"released_rss_mib,omitempty"`
	Note           string  `json:"note,omitempty"`
}

// TargetCheck is one target of issue 6, evaluated on this run.
type TargetCheck struct {
	Target string `json:"target"`
	Got    string `json:"got"`
	Met    bool   `json:"met"`
}

// Report is the whole run.
type Report struct {
	Machine     string    `json:"machine"`
	GoVersion   string    `json:"go_version"`
	NumCPU      int       `json:"num_cpu"`
	Started     time.Time `json:"started"`
	Concurrency int       `json:"concurrency"`
	DurationSec float64   `json:"duration_sec"`
	Replicas    int       `json:"replicas"`
	InProcess   bool      `json:"in_process"`
	// DecisionLog is "on" or "off" for in-process servers ("" for --endpoint).
	DecisionLog string   `json:"decision_log,omitempty"`
	Note        string   `json:"note"`
	Results     []Result `json:"results"`
	// ColdStartMs are server.New + listening + health 200 on an empty data dir.
	ColdStartMs       []float64 `json:"cold_start_ms"`
	ColdStartMedianMs float64   `json:"cold_start_median_ms"`
	// ColdStartScaleMs are the same on the data dir of the scale run, with
	// ColdStartScaleRoles roles (in-process SQLite runs only).
	ColdStartScaleMs       []float64          `json:"cold_start_scale_ms,omitempty"`
	ColdStartScaleMedianMs float64            `json:"cold_start_scale_median_ms,omitempty"`
	ColdStartScaleRoles    int                `json:"cold_start_scale_roles,omitempty"`
	SetupSeconds           map[string]float64 `json:"setup_seconds"`
	Checks                 []TargetCheck      `json:"checks"`
}

type runner struct {
	cfg     Config
	hc      *http.Client
	report  *Report
	n       int
	selfPID int
	// direct writes a provider to the store of an in-process server,
	// past IAM's quota; nil for an external server.
	direct func(context.Context, store.Provider) error
	// dataDir is the in-process server's data dir (one server on SQLite).
	dataDir string
}

// Run runs every scenario and returns the report. A failure to set up a
// side target (moto) is recorded as a note, not an error; a failure of
// keyless's own setup is an error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	r := &runner{cfg: cfg, hc: NewClient(cfg.Concurrency), selfPID: os.Getpid(),
		report: &Report{Machine: cfg.Machine, GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(), Started: time.Now().UTC(),
			Concurrency: cfg.Concurrency, DurationSec: cfg.Duration.Seconds(), Replicas: cfg.Replicas, InProcess: cfg.Endpoint == "",
			SetupSeconds: map[string]float64{}}}
	defer r.hc.CloseIdleConnections()
	if cfg.Endpoint == "" {
		r.report.DecisionLog = "on"
		if cfg.DecisionsOff {
			r.report.DecisionLog = "off"
		}
	}
	r.report.Note = "load generator, keyless and the floor share this process and its cores; CPU and RSS of in-process targets are the whole process's"

	if err := r.coldStarts(ctx); err != nil {
		return nil, err
	}
	endpoints, pid, stop, err := r.keyless(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	t0 := time.Now()
	w, err := Setup(ctx, r.hc, endpoints[0], r.root(), 16)
	if err != nil {
		return nil, fmt.Errorf("set up keyless: %w", err)
	}
	if len(endpoints) > 1 {
		time.Sleep(time.Second) // let the other replicas see the writes (cache poll)
	}
	r.report.SetupSeconds["issuers, providers, roles, 32 tokens"] = time.Since(t0).Seconds()
	if err := r.core(ctx, w, endpoints, pid); err != nil {
		return nil, err
	}
	r.ciStep(ctx, w, endpoints[0])
	if err := r.remote(ctx, w, endpoints, pid); err != nil {
		return nil, err
	}
	if err := r.scale(ctx, w, endpoints, pid); err != nil {
		return nil, err
	}
	if !r.cfg.ProgressLines {
		fmt.Fprintf(r.cfg.Progress, "\r%-100s\r", "")
	}
	r.report.Checks = evaluate(r.report)
	return r.report, nil
}

func (r *runner) root() aws.Credentials {
	if r.cfg.Endpoint != "" {
		return r.cfg.Root
	}
	return inProcessRoot
}

// core runs the main scenarios on keyless and the floor.
func (r *runner) core(ctx context.Context, w *World, eps []string, pid int) error {
	var sets []*jose.JSONWebKeySet
	for _, o := range []Org{w.RS, w.ES} {
		set, err := fetchJWKS(ctx, r.hc, eps[0], o.JWKSURI)
		if err != nil {
			return fmt.Errorf("floor keys: %w", err)
		}
		sets = append(sets, set)
	}
	fl, err := StartFloor(sets, map[string]string{w.Temp.AccessKeyID: w.Temp.SecretAccessKey})
	if err != nil {
		return err
	}
	defer fl.Close()
	floorEP := []string{fl.URL}
	ok := wantXML("SessionToken")
	motoArm, stopMoto := r.moto(ctx, w)
	defer stopMoto()
	for _, o := range []struct {
		org Org
		alg string
	}{{w.RS, "RS256"}, {w.ES, "ES256"}} {
		name := "AssumeRoleWithWebIdentity " + o.alg
		roles := []string{o.org.RoleARN}
		arms := []arm{{target: "floor", eps: floorEP, req: webIdentity(roles, o.org.Tokens), check: ok, pid: r.selfPID},
			{target: "keyless", eps: eps, req: webIdentity(roles, o.org.Tokens), check: ok, pid: pid}}
		if o.alg == "RS256" && motoArm != nil {
			arms = append(arms, *motoArm)
		}
		r.compare(ctx, name, arms...)
	}

	gci := "Action=GetCallerIdentity&Version=2011-06-15"
	set, err := signFor(ctx, eps, w.Temp, http.MethodPost, "/", "sts", formType, []byte(gci))
	if err != nil {
		return err
	}
	fset, err := signFor(ctx, floorEP, w.Temp, http.MethodPost, "/", "sts", formType, []byte(gci))
	if err != nil {
		return err
	}
	r.compare(ctx, "GetCallerIdentity (SigV4, session credentials)",
		arm{target: "floor", eps: floorEP, req: fset.request(), check: wantXML("Account"), pid: r.selfPID, note: "SigV4 verify only"},
		arm{target: "keyless", eps: eps, req: set.request(), check: wantXML("Account"), pid: pid})

	getRole := "Action=GetRole&Version=2010-05-08&RoleName=" + w.RS.RoleName
	set, err = signFor(ctx, eps, r.root(), http.MethodPost, "/", "iam", formType, []byte(getRole))
	if err != nil {
		return err
	}
	r.scenario(ctx, "IAM GetRole (root, SigV4)", "keyless", eps, set.request(), wantXML("RoleName"), pid, "")

	for _, o := range []struct {
		org Org
		alg string
	}{{w.RS, "RS256"}, {w.ES, "ES256"}} {
		body := fmt.Sprintf(`{"org_id":%q,"project_id":%q,"user_id":%q,"v2":true,"vcs_origin":"github.com/acme/app","vcs_ref":"refs/heads/main"}`,
			o.org.ID, o.org.Project, newUUID())
		set, err := signFor(ctx, eps, r.root(), http.MethodPost, "/_keyless/issuers/"+o.org.ID+"/token", "keyless", "application/json", []byte(body))
		if err != nil {
			return err
		}
		r.scenario(ctx, "Issuer mint "+o.alg, "keyless", eps, set.request(), nil, pid, "admin API, SigV4-signed")
	}
	return nil
}

// remote runs exchanges of tokens from self-hosted-style issuers reached
// over HTTPS, with small and large JWKS documents.
func (r *runner) remote(ctx context.Context, w *World, eps []string, pid int) error {
	for _, n := range []int{1, r.cfg.JWKSKeys} {
		rem, err := StartRemote(fmt.Sprintf("jwks%d", n), n)
		if err != nil {
			return err
		}
		defer rem.Close()
		if err := rem.Register(ctx, r.hc, eps[0], w.Root, fmt.Sprintf("bench-remote-%d", n), 16); err != nil {
			return err
		}
		if len(eps) > 1 {
			time.Sleep(time.Second)
		}
		plural := "s"
		if n == 1 {
			plural = ""
		}
		r.scenario(ctx, fmt.Sprintf("AssumeRoleWithWebIdentity RS256, remote issuer, JWKS %d key%s", n, plural), "keyless", eps,
			webIdentity([]string{rem.RoleARN}, rem.Tokens), wantXML("SessionToken"), pid, "HTTPS discovery+JWKS, thumbprint-pinned, cached")
	}
	return nil
}

// moto starts moto_server and sets it up for the RS256 exchange; it
// returns the arm to compare and a stop function, or no arm (with a
// result noting why) when moto is not run.
func (r *runner) moto(ctx context.Context, w *World) (*arm, func()) {
	const name = "AssumeRoleWithWebIdentity RS256"
	if r.cfg.Moto == "" {
		return nil, func() {}
	}
	r.status("starting moto_server")
	m, err := StartMoto(ctx, r.cfg.Moto)
	if err != nil {
		r.report.Results = append(r.report.Results, Result{Scenario: name, Target: "moto", Note: "not run: " + err.Error()})
		return nil, func() {}
	}
	if err := m.Setup(ctx, r.hc, w.RS); err != nil {
		m.Close()
		r.report.Results = append(r.report.Results, Result{Scenario: name, Target: "moto", Note: "not run: " + err.Error()})
		return nil, func() {}
	}
	return &arm{target: "moto", eps: []string{m.URL}, req: webIdentity([]string{m.RoleARN}, w.RS.Tokens), check: wantXML("SessionToken"),
		pid: m.PID(), note: "moto_server (does not verify the token)"}, m.Close
}

// scale adds many roles and providers and reruns the RS256 exchange
// across all the new roles.
func (r *runner) scale(ctx context.Context, w *World, eps []string, pid int) error {
	name := "AssumeRoleWithWebIdentity RS256"
	r.scenario(ctx, name+", 1 role (before scale)", "keyless", eps, webIdentity([]string{w.RS.RoleARN}, w.RS.Tokens), wantXML("SessionToken"), pid, "")
	r.status("creating %d roles and %d providers", r.cfg.Roles, r.cfg.Providers)
	t0 := time.Now()
	arns, viaAPI, viaStore, err := Scale(ctx, r.hc, w, r.cfg.Roles, r.cfg.Providers, 8, r.direct)
	if err != nil {
		return fmt.Errorf("scale setup: %w", err)
	}
	r.report.SetupSeconds[fmt.Sprintf("%d roles + %d providers (IAM API, 8 parallel)", r.cfg.Roles, viaAPI)] = time.Since(t0).Seconds()
	if viaAPI+viaStore < r.cfg.Providers {
		r.report.Note += fmt.Sprintf("; IAM enforces AWS's quota of 100 OIDC providers per account: the scale run has %d providers, not %d", viaAPI+viaStore, r.cfg.Providers)
	}
	if viaStore > 0 {
		r.report.Note += fmt.Sprintf("; IAM enforces AWS's quota of 100 OIDC providers per account, so %d of the scale run's %d providers were written to the store directly",
			viaStore, r.cfg.Providers)
	}
	if len(eps) > 1 {
		time.Sleep(time.Second)
	}
	// One warm-up pass over every role: the run measures the steady state
	// (every role compiled and cached), as a long-running server sees it.
	t0 = time.Now()
	warm := Load{Client: r.hc, Endpoints: eps, Concurrency: r.cfg.Concurrency, Duration: 10 * time.Minute, Max: uint64(len(arns)),
		Request: webIdentity(arns, w.RS.Tokens), Check: wantXML("SessionToken")}.Run(ctx)
	if warm.Errors > 0 {
		return fmt.Errorf("scale warm-up: %d errors, first: %s", warm.Errors, warm.FirstErr)
	}
	r.report.SetupSeconds[fmt.Sprintf("warm-up: one exchange per role (%d)", len(arns))] = time.Since(t0).Seconds()
	ok := wantXML("SessionToken")
	world := fmt.Sprintf("%s, %d roles + %d providers", name, r.cfg.Roles, viaAPI+viaStore)
	r.compare(ctx, world,
		arm{target: "keyless", scenario: world + ": one role",
			eps: eps, req: webIdentity([]string{w.RS.RoleARN}, w.RS.Tokens), check: ok, pid: pid},
		arm{target: "keyless", scenario: world + ": cycling all roles",
			eps: eps, req: webIdentity(arns, w.RS.Tokens), check: ok, pid: pid})
	return r.coldStartsAtScale(ctx, len(arns))
}

func (r *runner) usage(pid int) (Usage, bool) {
	if r.cfg.Usage == nil || pid == 0 {
		return Usage{}, false
	}
	u, err := r.cfg.Usage(pid)
	return u, err == nil
}

// arm is one target of a scenario.
type arm struct {
	target string
	// scenario, when set, overrides the compared scenario's name.
	scenario string
	eps      []string
	req      Request
	check    Check
	pid      int
	note     string
}

func (r *runner) scenario(ctx context.Context, name, target string, eps []string, req Request, check Check, pid int, note string) {
	r.compare(ctx, name, arm{target: target, eps: eps, req: req, check: check, pid: pid, note: note})
}

// compare runs the arms of one scenario. Several arms alternate in
// Rounds slices of Duration each, so background load on a shared machine
// falls on all of them alike and their ratio stays meaningful.
func (r *runner) compare(ctx context.Context, name string, arms ...arm) {
	rounds := r.cfg.Rounds
	if len(arms) == 1 {
		rounds = 1
	}
	type acc struct {
		runs []Stats
		cpu  time.Duration
		ok   bool
		rss  int64
	}
	accs := make([]acc, len(arms))
	for i := range accs {
		accs[i].ok = true
	}
	r.n++
	for round := range rounds {
		for i, a := range arms {
			label := fmt.Sprintf("[%d] %s — %s (%d/%d)", r.n, name, a.target, round+1, rounds)
			runtime.GC()
			before, okBefore := r.usage(a.pid)
			st := Load{Client: r.hc, Endpoints: a.eps, Concurrency: r.cfg.Concurrency, Duration: r.cfg.Duration / time.Duration(rounds),
				Request: a.req, Check: a.check,
				Progress: r.ticker(label)}.Run(ctx)
			accs[i].runs = append(accs[i].runs, st)
			after, okAfter := r.usage(a.pid)
			if okBefore && okAfter {
				accs[i].cpu += after.CPU - before.CPU
				accs[i].rss = after.RSS
			} else {
				accs[i].ok = false
			}
		}
	}
	for i, a := range arms {
		st := merge(accs[i].runs)
		sc := name
		if a.scenario != "" {
			sc = a.scenario
		}
		res := Result{Scenario: sc, Target: a.target, Stats: st, Note: a.note}
		if accs[i].ok && a.pid != 0 && r.cfg.Usage != nil {
			res.CPUSeconds = accs[i].cpu.Seconds()
			if st.Requests > 0 {
				res.CPUPerReq = float64(accs[i].cpu.Microseconds()) / float64(st.Requests)
			}
			res.RSSMiB = float64(accs[i].rss) / (1 << 20)
		}
		if a.pid == r.selfPID {
			debug.FreeOSMemory()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			res.HeapMiB = float64(m.HeapAlloc) / (1 << 20)
			if u, ok := r.usage(a.pid); ok {
				res.ReleasedRSSMiB = float64(u.RSS) / (1 << 20)
			}
		}
		r.result("%-96.96s %8.0f req/s p50 %6.2fms p99 %6.2fms %d err",
			fmt.Sprintf("[%d] %s — %s", r.n, res.Scenario, a.target), st.ReqPerSec, st.P50ms, st.P99ms, st.Errors)
		r.report.Results = append(r.report.Results, res)
	}
}
