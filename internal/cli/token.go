package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
)

func newTokenCmd(env Env) *cobra.Command {
	var af adminFlags
	var p ciclaims.Params
	var issuerID, format string
	var ttl time.Duration
	var claims []string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a CI job token from a hosted issuer and print it",
		Long: `Mint a job token exactly like the CI would hand it to a job, and print only the
token (or, with -o env, CIRCLE_OIDC_TOKEN= and CIRCLE_OIDC_TOKEN_V2= lines).`,
		Example: `  keyless token --org-id $ORG --project-id $PROJ --user-id $USER --v2 \
      --vcs-origin github.com/acme/app --vcs-ref refs/heads/main
  keyless token --issuer gh --repository acme/app --ref refs/heads/main --claim environment=prod
  keyless token --issuer gh --repository acme/app --subject-format id --repository-owner-id 123456 --repository-id 456789`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if issuerID == "" {
				issuerID = p.OrgID
			}
			if issuerID == "" {
				return fmt.Errorf("--issuer or --org-id is required")
			}
			if len(claims) > 0 {
				p.Extra = map[string]string{}
				for _, c := range claims {
					k, v, err := ciclaims.ParseClaim(c)
					if err != nil {
						return fmt.Errorf("--claim %q: %w", c, err)
					}
					p.Extra[k] = v
				}
			}
			c, err := af.client(cmd.Context(), env)
			if err != nil {
				return err
			}
			mint := func(v2 bool) (string, error) {
				req := issuer.MintRequest{Params: p, TTL: ttl}
				req.V2 = v2
				var out struct {
					Token string `json:"token"`
				}
				err := c.do(cmd.Context(), http.MethodPost, "/_keyless/issuers/"+url.PathEscape(issuerID)+"/token", req, &out)
				return out.Token, err
			}
			switch format {
			case "token":
				t, err := mint(p.V2)
				if err != nil {
					return err
				}
				fmt.Fprintln(env.Stdout, t)
			case "env":
				v1, err := mint(false)
				if err != nil {
					return err
				}
				v2, err := mint(true)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "CIRCLE_OIDC_TOKEN=%s\nCIRCLE_OIDC_TOKEN_V2=%s\n", v1, v2)
			default:
				return fmt.Errorf("--format must be token or env")
			}
			return nil
		},
	}
	af.register(cmd)
	f := cmd.Flags()
	f.StringVar(&issuerID, "issuer", "", "issuer id (default: --org-id)")
	f.StringVarP(&format, "output", "o", "token", "token | env")
	deprecatedAlias(f, "format", "output")
	enumCompletion(cmd, "output", "token", "env")
	f.DurationVar(&ttl, "ttl", time.Hour, "token lifetime (at most 5h)")
	f.StringArrayVar(&claims, "claim", nil, "extra claim k=v (JSON-typed when it parses as JSON); repeatable")
	f.StringSliceVar(&p.Audience, "audience", nil, "audience (default: the profile's, e.g. the org id)")
	deprecatedAlias(f, "aud", "audience")
	f.StringVar(&p.OrgID, "org-id", "", "CircleCI organization id")
	f.StringVar(&p.ProjectID, "project-id", "", "CircleCI project id (GitLab: numeric project id)")
	f.StringVar(&p.UserID, "user-id", "", "CircleCI user id")
	f.StringVar(&p.VCSOrigin, "vcs-origin", "", "CircleCI vcs-origin, e.g. github.com/acme/app")
	f.StringVar(&p.VCSRef, "vcs-ref", "", "CircleCI vcs-ref, e.g. refs/heads/main")
	f.StringSliceVar(&p.ContextIDs, "context-id", nil, "CircleCI context id; repeatable")
	f.BoolVar(&p.V2, "v2", false, "CircleCI v2 subject (with vcs-origin and vcs-ref)")
	f.BoolVar(&p.SSHRerun, "ssh-rerun", false, "CircleCI ssh-rerun claim")
	f.StringVar(&p.Repository, "repository", "", "GitHub owner/repo")
	f.StringVar(&p.SubjectFormat, "subject-format", "name", "GitHub sub: name (repo:OWNER/REPO:…) | id (immutable repo:OWNER@OWNER_ID/REPO@REPO_ID:…)")
	f.StringVar(&p.RepositoryID, "repository-id", "", "GitHub repository id (default: derived from owner/repo, see docs/github-actions.md)")
	f.StringVar(&p.RepositoryOwnerID, "repository-owner-id", "", "GitHub owner id (default: derived from the owner name)")
	f.StringVar(&p.Ref, "ref", "", "GitHub ref (refs/heads/main) or GitLab ref (main)")
	f.StringVar(&p.RefType, "ref-type", "", "branch | tag")
	f.StringVar(&p.Environment, "environment", "", "GitHub/GitLab environment")
	f.StringVar(&p.EventName, "event-name", "", "GitHub event name (pull_request gives the pull_request sub)")
	f.StringVar(&p.Actor, "actor", "", "GitHub actor")
	f.StringVar(&p.Workflow, "workflow", "", "GitHub workflow name")
	f.StringVar(&p.ProjectPath, "project-path", "", "GitLab group/project")
	f.StringVar(&p.PipelineSource, "pipeline-source", "", "GitLab pipeline source")
	return cmd
}
