package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/decision"
)

// decisionList is the answer of GET /_keyless/decisions.
type decisionList struct {
	Decisions  []decision.Record `json:"decisions"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

// decisionFilter holds the filter flags list, tail and export share.
type decisionFilter struct {
	role, provider, verdict, subject, since, until string
}

func (f *decisionFilter) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.role, "role", "", "only decisions on this role (name or ARN)")
	fs.StringVar(&f.provider, "provider", "", "only decisions with this OIDC provider (URL or ARN)")
	fs.StringVar(&f.verdict, "decision", "", "only this verdict: allow | deny")
	enumCompletion(cmd, "decision", "allow", "deny")
	fs.StringVar(&f.subject, "subject", "", "only decisions on tokens with this sub")
	fs.StringVar(&f.since, "since", "", "only decisions since this time (RFC 3339) or this long ago (90m, 36h, 7d)")
	fs.StringVar(&f.until, "until", "", "only decisions before this time (RFC 3339) or this long ago")
}

// check validates the filter's --decision and the command's --output.
func (f *decisionFilter) check(output string, outputs ...string) error {
	if err := oneOf("--output", output, outputs...); err != nil {
		return err
	}
	if f.verdict != "" {
		return oneOf("--decision", f.verdict, "allow", "deny")
	}
	return nil
}

func oneOf(flag, v string, values ...string) error {
	if slices.Contains(values, v) {
		return nil
	}
	return fmt.Errorf("%s %q: want one of %s", flag, v, strings.Join(values, ", "))
}

// query renders the filter as API query parameters; since overrides --since.
func (f *decisionFilter) query(since string) url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"role": f.role, "provider": f.provider, "decision": f.verdict,
		"subject": f.subject, "since": since, "until": f.until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

func newDecisionsCmd(env Env) *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{
		Use:   "decisions",
		Short: "Read a keyless server's decision log: every STS decision and denied signed call, with why",
		Long: `Read the decision log of a keyless server: every AssumeRoleWithWebIdentity and
AssumeRole decision (allowed or denied) and every denied signed call, with the
token's claims, the policy trace, the closest miss and a suggested fix. The caller
of a denied request is never told why; this log is where the reason is.

Calls are SigV4-signed like "keyless issuer" (root credentials, or credentials
allowed keyless:ListDecisions / keyless:GetDecision).`,
		Example: `  keyless decisions list --decision deny --since 1h
  keyless decisions show 0c5e8f2a9b1d4e6f7a80
  keyless decisions tail --role deploy`,
	}
	af.register(cmd)
	cmd.AddCommand(newDecisionsListCmd(env, &af), newDecisionsShowCmd(env, &af), newDecisionsTailCmd(env, &af),
		newDecisionsExportCmd(env, &af))
	return cmd
}

func newDecisionsListCmd(env Env, af *adminFlags) *cobra.Command {
	var f decisionFilter
	var output, cursor string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List decisions, newest first",
		Example: `  keyless decisions list --role deploy --decision deny
  keyless decisions list --since 24h -o json
  keyless decisions list --subject 'repo:acme/app:ref:refs/heads/main' -o jsonl`,
		Args: cobra.NoArgs,
		RunE: af.run(env, func(cmd *cobra.Command, _ []string, c *adminClient) error {
			if err := f.check(output, "text", "json", "jsonl"); err != nil {
				return err
			}
			if limit < 1 || limit > 1000 {
				return fmt.Errorf("--limit must be from 1 to 1000")
			}
			q := f.query(f.since)
			q.Set("limit", strconv.Itoa(limit))
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var out decisionList
			if err := c.do(cmd.Context(), http.MethodGet, "/_keyless/decisions?"+q.Encode(), nil, &out); err != nil {
				return err
			}
			switch output {
			case "json":
				if out.Decisions == nil {
					out.Decisions = []decision.Record{}
				}
				return writeJSONOut(env.Stdout, out)
			case "jsonl":
				return writeJSONLines(env.Stdout, out.Decisions)
			}
			if err := writeDecisionTable(env.Stdout, out.Decisions, true); err != nil {
				return err
			}
			if out.NextCursor != "" {
				fmt.Fprintf(env.Stderr, "more: --cursor %s\n", out.NextCursor)
			}
			return nil
		}),
	}
	f.register(cmd)
	cmd.Flags().IntVar(&limit, "limit", 50, "most decisions to list (1-1000)")
	cmd.Flags().StringVar(&cursor, "cursor", "", "continue after the previous page (printed on stderr as \"more: --cursor …\")")
	outputFlag(cmd, cmd.Flags(), &output, "text", "json", "jsonl")
	return cmd
}

func newDecisionsShowCmd(env Env, af *adminFlags) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "Show one decision with its claims, trace, closest miss and fix",
		Example: "  keyless decisions show 0c5e8f2a9b1d4e6f7a80\n  keyless decisions show 0c5e8f2a9b1d4e6f7a80 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: af.run(env, func(cmd *cobra.Command, args []string, c *adminClient) error {
			if err := oneOf("--output", output, "text", "json"); err != nil {
				return err
			}
			var r decision.Record
			if err := c.do(cmd.Context(), http.MethodGet, "/_keyless/decisions/"+url.PathEscape(args[0]), nil, &r); err != nil {
				return err
			}
			if output == "json" {
				return writeJSONOut(env.Stdout, r)
			}
			return writeDecision(env.Stdout, r)
		}),
	}
	outputFlag(cmd, cmd.Flags(), &output, "text", "json")
	return cmd
}

func newDecisionsExportCmd(env Env, af *adminFlags) *cobra.Command {
	var f decisionFilter
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every matching decision as JSON lines, newest first",
		Example: `  keyless decisions export --since 30d > decisions.jsonl
  keyless decisions export --decision deny --role deploy`,
		Args: cobra.NoArgs,
		RunE: af.run(env, func(cmd *cobra.Command, _ []string, c *adminClient) error {
			if err := f.check("jsonl", "jsonl"); err != nil {
				return err
			}
			return pageDecisions(cmd.Context(), c, f.query(f.since), func(rs []decision.Record) error {
				return writeJSONLines(env.Stdout, rs)
			})
		}),
	}
	f.register(cmd)
	return cmd
}

// pageDecisions calls fn with every page of the decisions q selects.
func pageDecisions(ctx context.Context, c *adminClient, q url.Values, fn func([]decision.Record) error) error {
	q.Set("limit", "1000")
	for {
		var out decisionList
		if err := c.do(ctx, http.MethodGet, "/_keyless/decisions?"+q.Encode(), nil, &out); err != nil {
			return err
		}
		if err := fn(out.Decisions); err != nil {
			return err
		}
		if out.NextCursor == "" {
			return nil
		}
		q.Set("cursor", out.NextCursor)
	}
}

// tailOverlap is how far back each tail poll looks again: a replica writes
// its batch up to a flush interval after the decision, so a decision may
// appear after newer ones. Decisions seen already are not printed again.
const tailOverlap = 2 * time.Minute

func newDecisionsTailCmd(env Env, af *adminFlags) *cobra.Command {
	var f decisionFilter
	var output string
	var interval time.Duration
	var count int
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the latest decisions, then new ones as they are recorded",
		Example: `  keyless decisions tail
  keyless decisions tail --role deploy --decision deny -o jsonl
  keyless decisions tail --since 10m --count 1`,
		Args: cobra.NoArgs,
		RunE: af.run(env, func(cmd *cobra.Command, _ []string, c *adminClient) error {
			if err := f.check(output, "text", "json", "jsonl"); err != nil {
				return err
			}
			if interval <= 0 {
				return fmt.Errorf("--interval must be positive")
			}
			t := &tailer{c: c, f: &f, seen: map[string]time.Time{}, left: count}
			print := func(rs []decision.Record) error {
				switch output {
				case "json", "jsonl":
					return writeJSONLines(env.Stdout, rs)
				}
				return writeDecisionTable(env.Stdout, rs, false)
			}
			ctx := cmd.Context()
			for first := true; ; first = false {
				rs, err := t.poll(ctx, first)
				if err != nil {
					return err
				}
				if err := print(rs); err != nil {
					return err
				}
				if t.done() {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(interval):
				}
			}
		}),
	}
	f.register(cmd)
	cmd.Flags().DurationVar(&interval, "interval", 2*time.Second, "how often to ask the server for new decisions")
	cmd.Flags().IntVar(&count, "count", 0, "stop after printing this many decisions (0: follow until interrupted)")
	outputFlag(cmd, cmd.Flags(), &output, "text", "json", "jsonl")
	return cmd
}

// tailer follows the log: each poll returns the decisions not printed
// before, oldest first.
type tailer struct {
	c    *adminClient
	f    *decisionFilter
	seen map[string]time.Time // printed (or skipped) ids and their times
	// newest is the newest decision time seen; zero while the filtered
	// log was empty, when every decision that appears is new.
	newest time.Time
	left   int // decisions still to print with --count; 0: no limit
	count  bool
}

func (t *tailer) done() bool { return t.count && t.left <= 0 }

func (t *tailer) poll(ctx context.Context, first bool) ([]decision.Record, error) {
	if first {
		t.count = t.left > 0
	}
	since := t.f.since
	if !t.newest.IsZero() {
		from := t.newest.Add(-tailOverlap)
		if user, err := decision.ParseTime(t.f.since, time.Now()); err != nil || user.IsZero() || from.After(user) {
			since = from.Format(time.RFC3339Nano)
		}
	}
	var got []decision.Record
	if first && t.f.since == "" {
		// Only the last ten, like tail(1); the rest of the overlap
		// window is marked seen below without being printed.
		q := t.f.query("")
		q.Set("limit", "10")
		var out decisionList
		if err := t.c.do(ctx, http.MethodGet, "/_keyless/decisions?"+q.Encode(), nil, &out); err != nil {
			return nil, err
		}
		got = out.Decisions
		if len(got) > 0 {
			newest := got[0].Time
			err := pageDecisions(ctx, t.c, t.f.query(newest.Add(-tailOverlap).Format(time.RFC3339Nano)), func(rs []decision.Record) error {
				for _, r := range rs {
					t.seen[r.ID] = r.Time
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			for _, r := range got {
				delete(t.seen, r.ID) // the ten are printed below
			}
		}
	} else if err := pageDecisions(ctx, t.c, t.f.query(since), func(rs []decision.Record) error {
		got = append(got, rs...)
		return nil
	}); err != nil {
		return nil, err
	}
	var fresh []decision.Record
	for _, r := range got {
		if _, ok := t.seen[r.ID]; ok {
			continue
		}
		t.seen[r.ID] = r.Time
		fresh = append(fresh, r)
		if r.Time.After(t.newest) {
			t.newest = r.Time
		}
	}
	for id, at := range t.seen {
		if at.Before(t.newest.Add(-2 * tailOverlap)) {
			delete(t.seen, id)
		}
	}
	slices.SortFunc(fresh, func(a, b decision.Record) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if t.count {
		if len(fresh) > t.left {
			fresh = fresh[:t.left]
		}
		t.left -= len(fresh)
	}
	return fresh, nil
}

func writeJSONLines(w io.Writer, rs []decision.Record) error {
	enc := json.NewEncoder(w)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// printable renders attacker-controlled text (claims, user agents) safely
// for a terminal: control and other non-graphic characters are escaped.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsGraphic(r) }) < 0 {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return printable(s)
}

func writeDecisionTable(w io.Writer, rs []decision.Record, header bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "TIME\tDECISION\tACTION\tROLE\tSUBJECT\tCODE\tID")
	}
	for _, r := range rs {
		role := r.RoleARN
		if i := strings.LastIndex(role, "/"); i >= 0 {
			role = role[i+1:]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Time.UTC().Format(time.RFC3339), r.Decision, printable(r.Action),
			orDash(role), orDash(r.Subject), orDash(r.ErrorCode), r.ID)
	}
	return tw.Flush()
}

func writeDecision(w io.Writer, r decision.Record) error {
	verdict := r.Decision
	if r.ErrorCode != "" {
		verdict += " (" + r.ErrorCode + ")"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	for _, kv := range [][2]string{
		{"id", r.ID}, {"time", r.Time.UTC().Format(time.RFC3339Nano)}, {"request id", r.RequestID},
		{"decision", verdict}, {"action", r.Action}, {"role", r.RoleARN}, {"provider", r.Provider},
		{"subject", r.Subject}, {"principal", r.Principal}, {"source ip", r.SourceIP}, {"user agent", r.UserAgent},
		{"latency", r.Latency.String()}, {"reason", r.Reason}, {"closest miss", r.ClosestMiss}, {"fix", r.Fix},
	} {
		if kv[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[0], printable(kv[1]))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Claims) > 0 {
		fmt.Fprintln(w, "claims:")
		for _, k := range slices.Sorted(maps.Keys(r.Claims)) {
			v, err := json.Marshal(r.Claims[k])
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "  %s: %s\n", printable(k), printable(string(v)))
		}
	}
	if r.Trace != nil {
		fmt.Fprintln(w, "trace:")
		for _, line := range strings.Split(strings.TrimRight(r.Trace.Text(), "\n"), "\n") {
			fmt.Fprintln(w, "  "+printable(line))
		}
	}
	return nil
}
