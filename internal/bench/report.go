package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// find returns the first result of scenario (prefix match) and target.
func (rep *Report) find(scenario, target string) (Result, bool) {
	for _, r := range rep.Results {
		if strings.HasPrefix(r.Scenario, scenario) && r.Target == target && r.Requests > 0 {
			return r, true
		}
	}
	return Result{}, false
}

// evaluate checks the targets against this run's results.
func evaluate(rep *Report) []TargetCheck {
	var out []TargetCheck
	ratio := func(what, scenario, base string, min float64) {
		k, ok1 := rep.find(scenario, "keyless")
		b, ok2 := rep.find(scenario, base)
		if !ok1 || !ok2 || b.ReqPerSec == 0 {
			return
		}
		x := k.ReqPerSec / b.ReqPerSec
		out = append(out, TargetCheck{Target: fmt.Sprintf("%s ≥ %g× %s", what, min, base),
			Got: fmt.Sprintf("%.2f× (%.0f vs %.0f req/s)", x, k.ReqPerSec, b.ReqPerSec), Met: x >= min})
	}
	for _, alg := range []string{"RS256", "ES256"} {
		sc := "AssumeRoleWithWebIdentity " + alg
		ratio(sc, sc, "floor", 0.85)
		k, ok1 := rep.find(sc, "keyless")
		f, ok2 := rep.find(sc, "floor")
		if ok1 && ok2 && f.P99ms > 0 {
			out = append(out, TargetCheck{Target: fmt.Sprintf("%s: zero errors, p99 ≤ 1.3× the floor's at concurrency %d", sc, rep.Concurrency),
				Got: fmt.Sprintf("%d errors, p99 %.2f ms vs %.2f ms (%.2f×)", k.Errors, k.P99ms, f.P99ms, k.P99ms/f.P99ms),
				Met: k.Errors == 0 && k.P99ms <= 1.3*f.P99ms})
		}
	}
	ratio("AssumeRoleWithWebIdentity RS256", "AssumeRoleWithWebIdentity RS256", "moto", 20)
	ratio("GetCallerIdentity", "GetCallerIdentity", "floor", 0.95)
	var one, many Result
	ok1, ok2 := false, false
	for _, r := range rep.Results {
		switch {
		case strings.HasSuffix(r.Scenario, ": one role") && r.Requests > 0:
			one, ok1 = r, true
		case strings.HasSuffix(r.Scenario, ": cycling all roles") && r.Requests > 0:
			many, ok2 = r, true
		}
	}
	if ok1 && ok2 && one.ReqPerSec > 0 {
		x := many.ReqPerSec / one.ReqPerSec
		out = append(out, TargetCheck{Target: "scale: throughput within 10% of one role",
			Got: fmt.Sprintf("%.2f× (%.0f vs %.0f req/s)", x, many.ReqPerSec, one.ReqPerSec), Met: x >= 0.9})
		if many.RSSMiB > 0 {
			got := fmt.Sprintf("%.1f MiB RSS of the server process", many.RSSMiB)
			if rep.InProcess {
				got = fmt.Sprintf("%.1f MiB RSS of the whole process (load generator and floor included), %.1f MiB once freed memory is returned to the OS; live Go heap %.1f MiB",
					many.RSSMiB, many.ReleasedRSSMiB, many.HeapMiB)
			}
			out = append(out, TargetCheck{Target: "scale: RSS ≤ 100 MiB", Got: got, Met: many.RSSMiB <= 100})
		}
	}
	if rep.ColdStartMedianMs > 0 {
		out = append(out, TargetCheck{Target: "cold start to healthy ≤ 50 ms (empty data dir)", Got: fmt.Sprintf("%.1f ms median", rep.ColdStartMedianMs),
			Met: rep.ColdStartMedianMs <= 50})
	}
	if rep.ColdStartScaleMedianMs > 0 {
		out = append(out, TargetCheck{Target: fmt.Sprintf("cold start to healthy ≤ 50 ms (data dir with %d roles)", rep.ColdStartScaleRoles),
			Got: fmt.Sprintf("%.1f ms median", rep.ColdStartScaleMedianMs), Met: rep.ColdStartScaleMedianMs <= 50})
	}
	if k, ok := rep.find(ScenarioCIStep, "keyless assume"); ok {
		got := fmt.Sprintf("%.1f ms median, %d errors", k.P50ms, k.Errors)
		if a, ok := rep.find(ScenarioCIStep, "aws CLI"); ok {
			got += fmt.Sprintf(" (aws CLI: %.0f ms)", a.P50ms)
		}
		out = append(out, TargetCheck{Target: "CI step: keyless assume from process start to credentials < 50 ms", Got: got,
			Met: k.Errors == 0 && k.P50ms < 50})
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteTable writes a Markdown table of the results and the checks.
func (rep *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| scenario | target | req/s | p50 ms | p99 ms | errors | CPU µs/req | RSS MiB | RSS released MiB | heap MiB |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Results {
		if r.Requests == 0 {
			fmt.Fprintf(&b, "| %s | %s | – | – | – | – | – | – | – | – |\n", r.Scenario, r.Target)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.2f | %.2f | %d | %s | %s | %s | %s |\n", r.Scenario, r.Target, r.ReqPerSec, r.P50ms, r.P99ms, r.Errors,
			opt(r.CPUPerReq, "%.0f"), opt(r.RSSMiB, "%.0f"), opt(r.ReleasedRSSMiB, "%.0f"), opt(r.HeapMiB, "%.0f"))
	}
	fmt.Fprintf(&b, "\nCold start (server.New → health 200, empty data dir): median %.1f ms of %v\n\n", rep.ColdStartMedianMs, rep.ColdStartMs)
	if rep.ColdStartScaleMedianMs > 0 {
		fmt.Fprintf(&b, "Cold start on the scale run's data dir (%d roles): median %.1f ms of %v\n\n", rep.ColdStartScaleRoles, rep.ColdStartScaleMedianMs, rep.ColdStartScaleMs)
	}
	if rep.DecisionLog != "" {
		fmt.Fprintf(&b, "Decision log: %s\n\n", rep.DecisionLog)
	}
	b.WriteString("| target | this run | met |\n|---|---|---|\n")
	for _, c := range rep.Checks {
		met := "no"
		if c.Met {
			met = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Target, c.Got, met)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func opt(v float64, format string) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf(format, v)
}
