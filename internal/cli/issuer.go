package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/issuer"
)

func newIssuerCmd(env Env) *cobra.Command {
	var af adminFlags
	var output string
	cmd := &cobra.Command{
		Use:     "issuer",
		Example: "  keyless issuer create --profile circleci --org-id \"$ORG\"\n  keyless issuer list -o json",
		Short:   "Manage CI OIDC issuers hosted by a keyless server",
		Long: `Manage the CI OIDC issuers a keyless server hosts. Tokens they mint are trusted by
that keyless server (which resolves their keys in process, even for
https://oidc.circleci.com/org/<org> URLs) and, for an issuer published on your own
HTTPS host (issuer publish), by real AWS.`,
	}
	af.register(cmd)
	outputFlag(cmd, cmd.PersistentFlags(), &output, "text", "json")

	var cr issuer.CreateRequest
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an issuer (circleci, github, gitlab or generic profile)",
		Example: `  keyless issuer create --profile circleci --org-id 9f2c…
  keyless issuer create --profile generic --issuer-url https://ci-oidc.example.com --alg ES256`,
		Args: cobra.NoArgs,
		RunE: af.run(env, func(cmd *cobra.Command, _ []string, c *adminClient) error {
			var v issuer.IssuerView
			if err := c.do(cmd.Context(), http.MethodPost, "/_keyless/issuers", cr, &v); err != nil {
				return err
			}
			return printIssuer(env.Stdout, v, output == "json")
		}),
	}
	create.Flags().StringVar(&cr.Profile, "profile", "circleci", "circleci | github | gitlab | generic")
	enumCompletion(create, "profile", "circleci", "github", "gitlab", "generic")
	create.Flags().StringVar(&cr.OrgID, "org-id", "", "organization id (CircleCI); generated when empty")
	create.Flags().StringVar(&cr.ID, "id", "", "issuer id (default: the org id, or generated)")
	create.Flags().StringVar(&cr.URL, "issuer-url", "", "issuer URL (iss); default from the profile")
	create.Flags().StringVar(&cr.Alg, "alg", "RS256", "signing algorithm: RS256 | ES256")
	create.Flags().StringSliceVar(&cr.Audience, "audience", nil, "default audience of minted tokens (default from the profile)")
	deprecatedAlias(create.Flags(), "aud", "audience")

	list := &cobra.Command{
		Use: "list", Example: "  keyless issuer list\n  keyless issuer list -o json", Short: "List issuers", Args: cobra.NoArgs,
		RunE: af.run(env, func(cmd *cobra.Command, _ []string, c *adminClient) error {
			var out struct {
				Issuers []issuer.IssuerView `json:"issuers"`
			}
			if err := c.do(cmd.Context(), http.MethodGet, "/_keyless/issuers", nil, &out); err != nil {
				return err
			}
			if output == "json" {
				return writeJSONOut(env.Stdout, out)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPROFILE\tALG\tURL")
			for _, v := range out.Issuers {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.ID, v.Profile, v.Alg, v.URL)
			}
			return tw.Flush()
		}),
	}
	show := &cobra.Command{
		Use: "show ID", Example: "  keyless issuer show gh -o json", Short: "Show an issuer and its keys", Args: cobra.ExactArgs(1),
		RunE: af.run(env, func(cmd *cobra.Command, args []string, c *adminClient) error {
			var v issuer.IssuerView
			if err := c.do(cmd.Context(), http.MethodGet, "/_keyless/issuers/"+url.PathEscape(args[0]), nil, &v); err != nil {
				return err
			}
			return printIssuer(env.Stdout, v, output == "json")
		}),
	}
	del := &cobra.Command{
		Use: "delete ID", Example: "  keyless issuer delete gh", Short: "Delete an issuer and its keys", Args: cobra.ExactArgs(1),
		RunE: af.run(env, func(cmd *cobra.Command, args []string, c *adminClient) error {
			if err := c.do(cmd.Context(), http.MethodDelete, "/_keyless/issuers/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "deleted issuer %s\n", args[0])
			return nil
		}),
	}
	rotate := &cobra.Command{
		Use: "rotate ID", Example: "  keyless issuer rotate gh", Short: "Publish a new signing key now; it starts signing once caches have seen it", Args: cobra.ExactArgs(1),
		RunE: af.run(env, func(cmd *cobra.Command, args []string, c *adminClient) error {
			var v issuer.IssuerView
			if err := c.do(cmd.Context(), http.MethodPost, "/_keyless/issuers/"+url.PathEscape(args[0])+"/rotate", nil, &v); err != nil {
				return err
			}
			return printIssuer(env.Stdout, v, output == "json")
		}),
	}
	var runnerTTL time.Duration
	var runnerOut string
	runner := &cobra.Command{
		Use:   "runner-credentials ID",
		Short: "Issue credentials that may only mint tokens of this issuer (for a CI system to hold)",
		Long: `Issue temporary credentials whose only permission is keyless:MintToken on one issuer,
so a CI system can mint job tokens (keyless token --issuer ID) without holding root
credentials. They expire after --ttl (at most the server's --runner-max-ttl, and never
after the session that creates them), die with the role whose session created them,
and can be revoked: keyless issuer revoke-runner-credentials.`,
		Example: `  eval "$(keyless issuer runner-credentials $ORG --ttl 24h)"   # exports AWS_* for keyless token`,
		Args:    cobra.ExactArgs(1),
		RunE: af.run(env, func(cmd *cobra.Command, args []string, c *adminClient) error {
			var out struct {
				Version                                                int
				AccessKeyId, SecretAccessKey, SessionToken, Expiration string
			}
			path := "/_keyless/issuers/" + url.PathEscape(args[0]) + "/runner-credentials"
			body := map[string]string{}
			if runnerTTL != 0 {
				body["ttl"] = runnerTTL.String()
			}
			if err := c.do(cmd.Context(), http.MethodPost, path, body, &out); err != nil {
				return err
			}
			switch runnerOut {
			case "json":
				return writeJSONOut(env.Stdout, out)
			case "env":
				fmt.Fprintf(env.Stdout, "export AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_SESSION_TOKEN=%s\n# expires %s\n",
					out.AccessKeyId, out.SecretAccessKey, out.SessionToken, out.Expiration)
				return nil
			}
			return fmt.Errorf("--output must be env or json")
		}),
	}
	runner.Flags().DurationVar(&runnerTTL, "ttl", 0, "lifetime, from 15m to the server's --runner-max-ttl (0: that maximum, 720h unless the server says otherwise)")
	var revokeKey string
	var revokeAll bool
	revoke := &cobra.Command{
		Use:   "revoke-runner-credentials ID (--access-key-id ASIA… | --all)",
		Short: "Revoke runner credentials of an issuer: one set, or all issued so far",
		Example: `  keyless issuer revoke-runner-credentials ci --access-key-id "$ACCESS_KEY_ID"
  keyless issuer revoke-runner-credentials ci --all`,
		Args: cobra.ExactArgs(1),
		RunE: af.run(env, func(cmd *cobra.Command, args []string, c *adminClient) error {
			if (revokeKey == "") == !revokeAll {
				return fmt.Errorf("give either --access-key-id or --all")
			}
			body := map[string]any{"all": revokeAll}
			if revokeKey != "" {
				body = map[string]any{"access_key_id": revokeKey}
			}
			var out map[string]any
			path := "/_keyless/issuers/" + url.PathEscape(args[0]) + "/runner-credentials/revoke"
			if err := c.do(cmd.Context(), http.MethodPost, path, body, &out); err != nil {
				return err
			}
			if revokeAll {
				fmt.Fprintf(env.Stdout, "revoked every runner credential of issuer %s issued until now\n", args[0])
			} else {
				fmt.Fprintf(env.Stdout, "revoked runner credentials %s of issuer %s\n", revokeKey, args[0])
			}
			return nil
		}),
	}
	revoke.Flags().StringVar(&revokeKey, "access-key-id", "", "the access key id (ASIA…) of the credentials to revoke")
	revoke.Flags().BoolVar(&revokeAll, "all", false, "revoke every runner credential of the issuer issued until now")
	runner.Flags().StringVar(&runnerOut, "output", "env", "env | json (credential_process format)")
	enumCompletion(runner, "output", "env", "json")
	var outDir string
	publish := &cobra.Command{
		Use:     "publish ID --out DIR",
		Example: "  keyless issuer publish ci --out ./site",
		Short:   "Write the issuer's discovery document and JWKS for a static HTTPS host",
		Long: `Write <path>/.well-known/openid-configuration and the JWKS of an issuer into DIR,
laid out as its issuer URL expects, so any static HTTPS host (a bucket, a CDN, a web
server) can serve them. Real AWS then trusts tokens this issuer mints. Publish again
after every rotation.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if outDir == "" {
				return fmt.Errorf("--out is required")
			}
			c, err := af.client(cmd.Context(), env)
			if err != nil {
				return err
			}
			var v issuer.IssuerView
			if err := c.do(cmd.Context(), http.MethodGet, "/_keyless/issuers/"+url.PathEscape(args[0]), nil, &v); err != nil {
				return err
			}
			return publishIssuer(cmd, c, v, outDir, env.Stdout, env.Stderr)
		},
	}
	publish.Flags().StringVar(&outDir, "out", "", "output directory")
	cmd.AddCommand(create, list, show, del, rotate, runner, revoke, publish)
	return cmd
}

// vendorHosts are issuer hosts only their CI vendor can serve: publishing
// an issuer with such a URL makes files no host of yours can put there.
var vendorHosts = map[string]string{
	"oidc.circleci.com":                   "CircleCI",
	"token.actions.githubusercontent.com": "GitHub",
	"gitlab.com":                          "GitLab",
}

func publishIssuer(cmd *cobra.Command, c *adminClient, v issuer.IssuerView, outDir string, stdout, stderr io.Writer) error {
	u, err := url.Parse(v.URL)
	if err != nil {
		return fmt.Errorf("issuer url: %w", err)
	}
	if vendor, ok := vendorHosts[strings.ToLower(u.Hostname())]; ok {
		fmt.Fprintf(stderr, "keyless: warning: only %s can host %s: real AWS fetches that issuer's keys from %s, never from a host of yours, "+
			"so it will not trust these tokens. To publish, create an issuer on your own HTTPS domain: "+
			"keyless issuer create --profile %s --issuer-url https://ci-oidc.example.com\n", vendor, v.URL, vendor, v.Profile)
	}
	ju, err := url.Parse(v.JWKSURI)
	if err != nil {
		return fmt.Errorf("jwks uri: %w", err)
	}
	base := "/_keyless/issuers/" + url.PathEscape(v.ID) + "/.well-known/"
	files := map[string]string{
		path.Join("/", u.Path, ".well-known/openid-configuration"): base + "openid-configuration",
		ju.Path: base + path.Base(ju.Path),
	}
	for rel, src := range files {
		req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, c.endpoint+src, nil)
		if err != nil {
			return err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: HTTP %d", src, resp.StatusCode)
		}
		dst := filepath.Join(outDir, filepath.FromSlash(strings.TrimPrefix(rel, "/")))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, body, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (serve it at %s://%s%s)\n", dst, u.Scheme, u.Host, rel)
	}
	return nil
}

func printIssuer(w io.Writer, v issuer.IssuerView, asJSON bool) error {
	if asJSON {
		return writeJSONOut(w, v)
	}
	fmt.Fprintf(w, "issuer   %s\nprofile  %s\nurl      %s\njwks     %s\nalg      %s\naudience %s\n",
		v.ID, v.Profile, v.URL, v.JWKSURI, v.Alg, strings.Join(v.Audience, ", "))
	for _, k := range v.Keys {
		fmt.Fprintf(w, "key      %s %s %s (signs from %s)\n", k.KID, k.Alg, k.Status, k.SignFrom.Format(time.RFC3339))
	}
	return nil
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
