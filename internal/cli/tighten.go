package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/audit"
	"github.com/keylessci/keyless/internal/decision"
)

// tightenReport is `keyless tighten -o json`.
type tightenReport struct {
	Role    string `json:"role"`
	RoleARN string `json:"roleArn"`
	Since   string `json:"since"`
	audit.Tightened
	Diff    string `json:"diff"`
	Applied bool   `json:"applied"`
}

func newTightenCmd(env Env) *cobra.Command {
	var af awsFlags
	var since, output string
	var apply bool
	cmd := &cobra.Command{
		Use:   "tighten ROLE",
		Short: "Propose the narrowest trust policy that admits exactly the identities that really assumed ROLE",
		Long: `Read the allowed AssumeRoleWithWebIdentity decisions of ROLE from a keyless
server's decision log and propose the least-privilege trust policy that admits
exactly the identities observed: each web-identity statement keeps its other
conditions and admits only the subjects seen through it (CircleCI jobs of one
project run by several users become org/ORG/project/PROJECT/user/*; GitHub,
GitLab and other subjects stay exact); a statement no exchange went through is
removed. Before printing, the proposal is verified with the policy evaluator:
every observed token is still admitted, no neighbouring identity (another
project, repository, branch or organization) that today's policy denies is
admitted; and audit reports its findings at high or above before and after.

--apply writes the proposal with UpdateAssumeRolePolicy and reads it back. It
refuses when the proposal still has a finding at high or above.

The server comes from --endpoint-url (else AWS_ENDPOINT_URL_IAM /
AWS_ENDPOINT_URL); calls are signed with the standard AWS credential chain
(root credentials, or an identity allowed iam:GetRole,
iam:UpdateAssumeRolePolicy and keyless:ListDecisions).`,
		Example: `  keyless tighten deploy --endpoint-url http://127.0.0.1:8787
  keyless tighten deploy --since 7d -o json
  keyless tighten deploy --apply`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fail := func(err error) error { return &ExitError{Code: 2, Err: err} }
			if err := oneOf("--output", output, "text", "json"); err != nil {
				return fail(err)
			}
			endpoint := af.endpointFor(env, "IAM")
			if endpoint == "" {
				return fail(errors.New("tighten reads the decision log of a keyless server: give its --endpoint-url (or AWS_ENDPOINT_URL_IAM)"))
			}
			name := args[0]
			if i := strings.LastIndex(name, ":role/"); i >= 0 {
				name = name[strings.LastIndex(name, "/")+1:]
			}
			ctx := cmd.Context()
			c, err := af.newClient(ctx, env, true)
			if err != nil {
				return fail(err)
			}
			roleARN, doc, err := c.RoleTrust(ctx, name)
			if err != nil {
				return err
			}
			// The decision log is read with the same credentials as IAM.
			creds, err := af.credentials(ctx, env)
			if err != nil {
				return fail(err)
			}
			admin := newAdminClient(endpoint, af.regionFor(env), creds)
			// By name: IAM role names are unique in an account, whatever the path
			// in the ARN a job asked for.
			q := url.Values{"role": {name}, "decision": {"allow"}, "since": {since}}
			var obs []audit.Observation
			err = pageDecisions(ctx, admin, q, func(rs []decision.Record) error {
				for _, r := range rs {
					if r.Action == "sts:AssumeRoleWithWebIdentity" && r.Decision == "allow" && r.Provider != "" {
						obs = append(obs, audit.Observation{ProviderARN: r.Provider, Claims: r.Claims})
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("read the decision log: %w", err)
			}
			t, err := audit.Tighten(audit.Role{Name: name, ARN: roleARN, Source: roleARN, TrustPolicy: doc, Line: 1}, obs)
			if errors.Is(err, audit.ErrNothingObserved) {
				return &ExitError{Code: 1, Err: fmt.Errorf("%s: %d allowed exchanges since %s, none re-evaluable: %w", name, len(obs), since, err)}
			}
			if err != nil {
				return &ExitError{Code: 1, Err: err}
			}
			rep := tightenReport{Role: name, RoleARN: roleARN, Since: since, Tightened: t,
				Diff: unifiedDiff("current", "proposed", t.Current, t.Proposed)}
			if apply && t.Changed {
				if len(t.After) > 0 {
					_ = writeTighten(env, output, rep)
					return &ExitError{Code: 1, Err: fmt.Errorf("not applied: the proposal still has %d finding(s) at high or above", len(t.After))}
				}
				// Refuse to overwrite a change made since the proposal was built.
				if _, now, err := c.RoleTrust(ctx, name); err != nil {
					return err
				} else if now != doc {
					return &ExitError{Code: 1, Err: fmt.Errorf("not applied: the trust policy of %s changed while tighten ran; run it again", name)}
				}
				if err := c.UpdateTrust(ctx, name, t.Proposed); err != nil {
					return err
				}
				rep.Applied = true
			}
			return writeTighten(env, output, rep)
		},
	}
	af.register(cmd)
	f := cmd.Flags()
	f.StringVar(&since, "since", "30d", "how far back to read decisions: a duration (90m, 36h, 30d) or an RFC 3339 time")
	f.BoolVar(&apply, "apply", false, "update the role's trust policy with the proposal (UpdateAssumeRolePolicy)")
	outputFlag(cmd, f, &output, "text", "json")
	return cmd
}

func writeTighten(env Env, output string, rep tightenReport) error {
	if output == "json" {
		return writeJSONOut(env.Stdout, rep)
	}
	return writeTightenText(env.Stdout, rep)
}

func writeTightenText(w io.Writer, rep tightenReport) error {
	t := rep.Tightened
	fmt.Fprintf(w, "Role %s (%s): %d allowed exchanges since %s, %d distinct identities.\n",
		rep.Role, rep.RoleARN, t.Observed, rep.Since, t.Identities)
	if n := len(t.Unreproduced); n > 0 {
		fmt.Fprintf(w, "Left out: %d exchanges today's policy no longer admits from their claims alone.\n", n)
	}
	for _, s := range t.Statements {
		switch s.Change {
		case audit.ChangeRestricted:
			fmt.Fprintf(w, "statement %d, provider %s: restricted to %d subject value(s) (%d observed):\n", s.Statement, printable(s.Provider), len(s.Subjects), s.Observed)
			for _, v := range s.Subjects {
				fmt.Fprintf(w, "  %s\n", printable(v))
			}
		case audit.ChangeRemoved:
			fmt.Fprintf(w, "statement %d: removed (no exchange went through it)\n", s.Statement)
		case audit.ChangeKept:
			fmt.Fprintf(w, "statement %d: kept as it is (a Deny, or principals other than OIDC providers)\n", s.Statement)
		}
	}
	fmt.Fprintf(w, "Verified: every observed token is still admitted; of %d neighbouring identities, %d admitted today are denied by the proposal and none denied today is admitted.\n",
		t.Checked, t.Narrowed)
	fmt.Fprintf(w, "Audit findings at high or above: %d today, %d with the proposal.\n", len(t.Before), len(t.After))
	for _, f := range t.After {
		fmt.Fprintf(w, "  %s %s: %s\n", f.Severity, f.Rule, printable(f.Message))
	}
	if !t.Changed {
		fmt.Fprintln(w, "No change proposed: each statement the exchanges went through already admits just what was observed, or is one tighten leaves as it is (listed above).")
		return nil
	}
	fmt.Fprint(w, "\n", rep.Diff, "\n")
	if rep.Applied {
		fmt.Fprintf(w, "Applied: the trust policy of %s is now the proposal (read back).\n", rep.Role)
	} else {
		fmt.Fprintln(w, "Not applied: run again with --apply to update the role.")
	}
	return nil
}
