package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/client"
)

func newSetupCmd(env Env) *cobra.Command {
	var af awsFlags
	var spec client.SetupSpec
	var emit, account string
	var dryRun bool
	var maxSession time.Duration
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Provision the OIDC provider and a least-privilege CI role (or emit them as code)",
		Long: `Create the CI's OIDC identity provider if missing (or add the client id), create
or update a role whose trust policy admits only the named projects, repository
branches or environments, set its MaxSessionDuration and attach --policy-arn.
Running it again changes nothing. --dry-run prints what would change; --emit
writes the same setup as Terraform, CloudFormation or JSON instead.

CircleCI: aud = the org id, sub StringLike org/<org>/project/<project>/* per
--project-id. GitHub: aud sts.amazonaws.com, sub pinned to --repository and --branch
or --environment. GitLab: aud the issuer URL, sub pinned to --repository and --branch.`,
		Example: `  keyless setup --ci circleci --org-id $ORG --project-id $PROJ --role-name circleci-deploy \
      --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess
  keyless setup --ci github --repository acme/app --branch main --role-name gha-deploy --emit terraform`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if spec.MaxSessionDuration, err = wholeSeconds("max-session-duration", maxSession); err != nil {
				return err
			}
			plan, err := client.NewPlan(spec)
			if err != nil {
				return err
			}
			switch emit {
			case "terraform":
				_, err = fmt.Fprint(env.Stdout, plan.Terraform())
				return err
			case "cloudformation":
				_, err = fmt.Fprint(env.Stdout, plan.CloudFormation())
				return err
			case "json":
				_, err = fmt.Fprint(env.Stdout, plan.JSON(account))
				return err
			case "":
			default:
				return fmt.Errorf("--emit must be terraform, cloudformation or json, not %q", emit)
			}
			c, err := af.newClient(cmd.Context(), env, true)
			if err != nil {
				return err
			}
			changes, err := c.Apply(cmd.Context(), plan, dryRun)
			verb := ""
			if dryRun {
				verb = "would "
			}
			for _, ch := range changes {
				fmt.Fprintf(env.Stdout, "%s%s %s\n", verb, ch.Action, ch.Target)
			}
			if err != nil {
				return err
			}
			if len(changes) == 0 {
				fmt.Fprintf(env.Stdout, "no changes: provider %s and role %s are up to date\n", plan.IssuerURL, spec.RoleName)
			}
			return nil
		},
	}
	af.register(cmd)
	f := cmd.Flags()
	f.StringVar(&spec.CI, "ci", "circleci", "circleci | github | gitlab")
	f.StringVar(&spec.OrgID, "org-id", "", "CircleCI organization id")
	f.StringSliceVar(&spec.ProjectIDs, "project-id", nil, "CircleCI project id allowed to assume the role; repeatable")
	f.StringVar(&spec.Repo, "repository", "", "GitHub owner/repo or GitLab group/project")
	deprecatedAlias(f, "repo", "repository")
	f.StringSliceVar(&spec.Branches, "branch", nil, "branch allowed (GitHub, GitLab); repeatable")
	f.StringSliceVar(&spec.Environments, "environment", nil, "GitHub environment allowed; repeatable")
	f.StringVar(&spec.IssuerURL, "issuer-url", "", "issuer URL (default: the CI's)")
	f.StringVar(&spec.Audience, "audience", "", "client id / aud (default: the CI's)")
	f.StringVar(&spec.RoleName, "role-name", "", "role to create or update")
	f.StringArrayVar(&spec.PolicyARNs, "policy-arn", nil, "managed policy to attach; repeatable")
	f.Var(newDurationValue(&maxSession, time.Hour), "max-session-duration", "role MaxSessionDuration, 1h up to 12h (a bare number is seconds)")
	f.StringSliceVar(&spec.Thumbprints, "thumbprint", nil, "provider certificate thumbprint (optional for most issuers)")
	f.BoolVar(&dryRun, "dry-run", false, "print what would change without changing anything")
	f.StringVar(&emit, "emit", "", "terraform | cloudformation | json: print the setup as code instead of applying it")
	enumCompletion(cmd, "emit", "terraform", "cloudformation", "json")
	enumCompletion(cmd, "ci", "circleci", "github", "gitlab")
	f.StringVar(&account, "account-id", "", "--emit json: account for the provider ARN (default ACCOUNT_ID)")
	return cmd
}
