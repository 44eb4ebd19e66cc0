package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/client"
)

func newExplainCmd(env Env) *cobra.Command {
	var af awsFlags
	var in client.ExplainInput
	var policyFile, tokenFile string
	var output string
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Explain why a token may or may not assume a role (exit 0 allow, 1 deny, 2 error)",
		Long: `Evaluate a web identity token against a role's trust policy exactly as the
keyless server (and AWS) does, and say why: the provider registered for the
token's iss, the audience in its client id list, expiry, the signature when the
issuer's keys are reachable, then the trust policy statement by statement and
condition by condition, the closest miss and a concrete fix.

The role is read with GetRole (IAM credentials from the standard chain), or
given with --trust-policy-file. Exit status: 0 allow, 1 deny, 2 error.`,
		Example: `  keyless explain --role-arn arn:aws:iam::123456789012:role/deploy --web-identity-token "$CIRCLE_OIDC_TOKEN_V2"
  keyless explain --role-arn ARN --trust-policy-file trust.json --web-identity-token-file token.jwt -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fail := func(err error) error { return &ExitError{Code: 2, Err: err} }
			if in.RoleARN == "" {
				return fail(errors.New("--role-arn is required (with --trust-policy-file it only names the account and role)"))
			}
			if tokenFile != "" {
				b, err := os.ReadFile(tokenFile)
				if err != nil {
					return fail(fmt.Errorf("read --web-identity-token-file: %w", err))
				}
				in.Token = strings.TrimSpace(string(b))
			}
			if in.Token == "" {
				return fail(errors.New("--web-identity-token or --web-identity-token-file is required"))
			}
			if policyFile != "" {
				b, err := os.ReadFile(policyFile)
				if err != nil {
					return fail(fmt.Errorf("read --trust-policy-file: %w", err))
				}
				in.TrustPolicy = string(b)
			}
			c, err := af.newClient(cmd.Context(), env, true)
			if err != nil {
				return fail(err)
			}
			rep, err := c.Explain(cmd.Context(), in)
			if err != nil {
				return fail(err)
			}
			if output == "json" {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return fail(err)
				}
			} else {
				fmt.Fprint(env.Stdout, explainText(rep))
			}
			if rep.Verdict != "allow" {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	af.register(cmd)
	f := cmd.Flags()
	f.StringVar(&in.RoleARN, "role-arn", "", "role the token should assume")
	f.StringVar(&policyFile, "trust-policy-file", "", "evaluate this trust policy instead of reading the role")
	f.StringVar(&in.Token, "web-identity-token", "", "the OIDC token")
	f.StringVar(&tokenFile, "web-identity-token-file", "", "file holding the OIDC token")
	f.StringVar(&in.SessionName, "role-session-name", "", "session name to evaluate with (sts:RoleSessionName)")
	outputFlag(cmd, f, &output, "text", "json")
	return cmd
}

func explainText(r *client.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "verdict: %s\n", strings.ToUpper(r.Verdict))
	fmt.Fprintf(&b, "token: iss %s\n       sub %s\n       aud %s\n", r.Issuer, r.Subject, strings.Join(r.Aud, ", "))
	b.WriteString("checks:\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "  %-7s %-18s %s\n", c.Status, c.Name, c.Detail)
	}
	for _, t := range r.Traces {
		b.WriteString("\n")
		b.WriteString(t.Text())
	}
	if len(r.Fix) > 0 {
		b.WriteString("\nfix:\n")
		for _, f := range r.Fix {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
	}
	return b.String()
}
