package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/client"
)

type assumeOpts struct {
	aws            awsFlags
	src            client.TokenSources
	roleARN        string
	roleARNEnv     string
	sessionName    string
	duration       time.Duration
	chainRoleARN   string
	chainDuration  time.Duration
	output         string
	bashEnv        bool
	profile        string
	webIdentity    bool
	tokenFileOut   string
	verify         bool
	allowedAccount []string

	// seconds and chainSeconds are the durations given, as sent to STS (0:
	// not given, STS's default of one hour).
	seconds, chainSeconds int32
}

func newAssumeCmd(env Env) *cobra.Command {
	var o assumeOpts
	cmd := &cobra.Command{
		Use:   "assume",
		Short: "Exchange the CI job's OIDC token for AWS credentials",
		Long: `Exchange the job's OIDC token for temporary AWS credentials with
AssumeRoleWithWebIdentity, retrying transient identity-provider failures, and
hand them over as export lines, JSON, a credential_process answer, a named
profile or GitHub step outputs. Secrets never go to stderr.

Token, in order: --web-identity-token, --web-identity-token-file,
CIRCLE_OIDC_TOKEN_V2, CIRCLE_OIDC_TOKEN, GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL
and _TOKEN, with --audience), --token-env NAME (GitLab id_tokens),
AWS_WEB_IDENTITY_TOKEN_FILE.
Role, in order: --role-arn, the variable named by --role-arn-env, AWS_ROLE_ARN,
AWS_IAM_ROLE_ARN.`,
		Example: `  eval "$(keyless assume --role-arn arn:aws:iam::123456789012:role/deploy)"
  keyless assume --bash-env                      # CircleCI: role from AWS_IAM_ROLE_ARN
  keyless assume --profile deploy --web-identity-profile
  credential_process = /usr/local/bin/keyless assume --role-arn ARN --output credential-process`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("output") && o.profile != "" {
				o.output = "profile"
			}
			var err error
			if cmd.Flags().Changed("duration") || cmd.Flags().Changed("duration-seconds") {
				if o.seconds, err = wholeSeconds("duration", o.duration); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("chain-duration") || cmd.Flags().Changed("chain-duration-seconds") {
				if o.chainSeconds, err = wholeSeconds("chain-duration", o.chainDuration); err != nil {
					return err
				}
			}
			return runAssume(cmd, env, &o)
		},
	}
	o.aws.register(cmd)
	f := cmd.Flags()
	f.StringVar(&o.roleARN, "role-arn", "", "role to assume")
	f.StringVar(&o.roleARNEnv, "role-arn-env", "", "name of the variable holding the role ARN (as the orbs' role-arn parameter)")
	f.StringVar(&o.src.Token, "web-identity-token", "", "the OIDC token itself")
	f.StringVar(&o.src.File, "web-identity-token-file", "", "file holding the OIDC token")
	f.StringVar(&o.src.TokenEnv, "token-env", "", "variable holding the token (GitLab id_tokens)")
	f.StringVar(&o.src.Audience, "audience", "sts.amazonaws.com", "audience requested from GitHub Actions")
	f.StringVar(&o.sessionName, "role-session-name", "", "session name (default from the CI job variables; sanitized to [\\w+=,.@-], 2-64)")
	f.Var(newDurationValue(&o.duration, time.Hour), "duration", "session duration, from 15m up to the role's MaxSessionDuration")
	deprecatedAlias(f, "duration-seconds", "duration")
	f.StringVar(&o.chainRoleARN, "chain-role-arn", "", "then assume this role with the first role's credentials (role chaining)")
	f.Var(newDurationValue(&o.chainDuration, time.Hour), "chain-duration", "chained session duration, at most 1h (AWS's limit for role chaining)")
	deprecatedAlias(f, "chain-duration-seconds", "chain-duration")
	f.StringVar(&o.output, "output", "env", "env | json | credential-process | profile | github-output")
	enumCompletion(cmd, "output", "env", "json", "credential-process", "profile", "github-output")
	f.BoolVar(&o.bashEnv, "bash-env", false, "env output: append the export lines to $BASH_ENV instead of stdout")
	f.StringVar(&o.profile, "profile", "", "profile output: profile name to write into the AWS config/credentials files")
	f.BoolVar(&o.webIdentity, "web-identity-profile", false, "profile output: write a web_identity_token_file profile SDKs refresh by themselves")
	f.StringVar(&o.tokenFileOut, "token-file-out", "", "with --web-identity-profile: where to store the token (default next to the config file)")
	f.BoolVar(&o.verify, "verify", false, "check the credentials with GetCallerIdentity")
	f.StringSliceVar(&o.allowedAccount, "allowed-account-ids", nil, "refuse credentials of any other account (comma-separated)")
	return cmd
}

func runAssume(cmd *cobra.Command, env Env, o *assumeOpts) error {
	ctx := cmd.Context()
	switch o.output {
	case "env", "json", "credential-process", "github-output":
	case "profile":
		if o.profile == "" {
			return errors.New("--output profile writes the credentials into a named AWS profile: say which with --profile NAME (e.g. --profile deploy)")
		}
		if err := client.ValidProfileName(o.profile); err != nil {
			return fmt.Errorf("--profile: %w", err)
		}
	default:
		return fmt.Errorf("--output must be env, json, credential-process, profile or github-output, not %q", o.output)
	}
	if o.webIdentity && o.output != "profile" {
		return errors.New("--web-identity-profile needs --profile NAME")
	}
	if o.webIdentity && o.chainRoleARN != "" {
		return errors.New("--web-identity-profile cannot chain roles: write two profiles (source_profile) instead")
	}
	roleARN, err := resolveRoleARN(env, o)
	if err != nil {
		return err
	}
	c, err := o.aws.newClient(ctx, env, false)
	if err != nil {
		return err
	}
	o.src.Getenv, o.src.ReadFile = env.Getenv, os.ReadFile
	tok, err := c.ResolveToken(ctx, o.src)
	if err != nil {
		return err
	}
	name := o.sessionName
	if name == "" {
		name = env.Getenv("AWS_ROLE_SESSION_NAME")
	}
	if name == "" {
		name = client.DefaultSessionName(env.Getenv)
	} else {
		name = client.SanitizeSessionName(name, client.DefaultSessionName(env.Getenv))
	}
	cr, err := c.Assume(ctx, client.AssumeInput{
		RoleARN: roleARN, Token: tok.Value, SessionName: name, DurationSeconds: o.seconds,
		ChainRoleARN: o.chainRoleARN, ChainDurationSeconds: o.chainSeconds,
	})
	if err != nil {
		return err
	}
	if o.verify {
		id, err := c.Verify(ctx, cr)
		if err != nil {
			return err
		}
		if id.ARN != cr.AssumedRoleARN && cr.AssumedRoleARN != "" {
			return fmt.Errorf("GetCallerIdentity says %s, expected %s", id.ARN, cr.AssumedRoleARN)
		}
	}
	if err := client.CheckAccount(cr, o.allowedAccount); err != nil {
		return err
	}
	return writeAssumeOutput(env, o, roleARN, name, tok, cr)
}

func resolveRoleARN(env Env, o *assumeOpts) (string, error) {
	if o.roleARN != "" {
		return o.roleARN, nil
	}
	if o.roleARNEnv != "" {
		if v := strings.TrimSpace(env.Getenv(o.roleARNEnv)); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("--role-arn-env %s: the variable is empty or unset", o.roleARNEnv)
	}
	for _, n := range []string{"AWS_ROLE_ARN", "AWS_IAM_ROLE_ARN"} {
		if v := strings.TrimSpace(env.Getenv(n)); v != "" {
			return v, nil
		}
	}
	return "", errors.New("no role: pass --role-arn, --role-arn-env NAME, or set AWS_ROLE_ARN or AWS_IAM_ROLE_ARN")
}

func writeAssumeOutput(env Env, o *assumeOpts, roleARN, session string, tok client.Token, cr *client.Credentials) error {
	exp := cr.Expiration.UTC().Format(time.RFC3339)
	summary := func(where string) {
		fmt.Fprintf(env.Stderr, "keyless: assumed %s (token from %s) until %s; %s\n", cr.AssumedRoleARN, tok.Source, exp, where)
	}
	switch o.output {
	case "json":
		return json.NewEncoder(env.Stdout).Encode(cr)
	case "credential-process":
		return json.NewEncoder(env.Stdout).Encode(struct {
			Version         int
			AccessKeyID     string `json:"AccessKeyId"`
			SecretAccessKey string
			SessionToken    string
			Expiration      string
		}{1, cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken, exp})
	case "env":
		var b strings.Builder
		for _, kv := range envVars(o.aws.regionFor(env), cr) {
			fmt.Fprintf(&b, "export %s=%s\n", kv.Key, shellQuote(kv.Value))
		}
		if !o.bashEnv {
			_, err := fmt.Fprint(env.Stdout, b.String())
			return err
		}
		path := env.Getenv("BASH_ENV")
		if path == "" {
			return errors.New("--bash-env: BASH_ENV is not set")
		}
		if err := appendFile(path, b.String()); err != nil {
			return fmt.Errorf("--bash-env: %w", err)
		}
		summary("exports appended to " + path)
		return nil
	case "github-output":
		path := env.Getenv("GITHUB_OUTPUT")
		if path == "" {
			return errors.New("--output github-output: GITHUB_OUTPUT is not set")
		}
		for _, s := range []string{cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken} {
			fmt.Fprintf(env.Stdout, "::add-mask::%s\n", s)
		}
		var b strings.Builder
		for _, kv := range []client.KV{
			{Key: "aws-access-key-id", Value: cr.AccessKeyID}, {Key: "aws-secret-access-key", Value: cr.SecretAccessKey},
			{Key: "aws-session-token", Value: cr.SessionToken}, {Key: "aws-expiration", Value: exp},
			{Key: "aws-account-id", Value: cr.Account}, {Key: "authenticated-arn", Value: cr.AssumedRoleARN},
		} {
			fmt.Fprintf(&b, "%s=%s\n", kv.Key, kv.Value)
		}
		if err := appendFile(path, b.String()); err != nil {
			return fmt.Errorf("write GITHUB_OUTPUT: %w", err)
		}
		summary("step outputs written to " + path)
		return nil
	case "profile":
		return writeProfile(env, o, roleARN, session, tok, cr, summary)
	}
	return nil
}

func envVars(region string, cr *client.Credentials) []client.KV {
	kvs := []client.KV{
		{Key: "AWS_ACCESS_KEY_ID", Value: cr.AccessKeyID},
		{Key: "AWS_SECRET_ACCESS_KEY", Value: cr.SecretAccessKey},
		{Key: "AWS_SESSION_TOKEN", Value: cr.SessionToken},
		{Key: "AWS_CREDENTIAL_EXPIRATION", Value: cr.Expiration.UTC().Format(time.RFC3339)},
	}
	if region != "" {
		kvs = append(kvs, client.KV{Key: "AWS_REGION", Value: region}, client.KV{Key: "AWS_DEFAULT_REGION", Value: region})
	}
	return kvs
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func appendFile(path, data string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sharedFiles returns the AWS config and credentials file paths.
func sharedFiles(env Env) (configFile, credsFile string, err error) {
	configFile, credsFile = env.Getenv("AWS_CONFIG_FILE"), env.Getenv("AWS_SHARED_CREDENTIALS_FILE")
	if configFile != "" && credsFile != "" {
		return configFile, credsFile, nil
	}
	home := env.Getenv("HOME")
	if home == "" {
		return "", "", errors.New("HOME is not set: set AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE")
	}
	if configFile == "" {
		configFile = filepath.Join(home, ".aws", "config")
	}
	if credsFile == "" {
		credsFile = filepath.Join(home, ".aws", "credentials")
	}
	return configFile, credsFile, nil
}

func updateINI(path, section string, kvs []client.KV) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return writeFile0600(path, []byte(client.SetSection(string(old), section, kvs)))
}

func writeProfile(env Env, o *assumeOpts, roleARN, session string, tok client.Token, cr *client.Credentials, summary func(string)) error {
	configFile, credsFile, err := sharedFiles(env)
	if err != nil {
		return err
	}
	var conf []client.KV
	if o.webIdentity {
		tf := o.tokenFileOut
		if tf == "" {
			tf = filepath.Join(filepath.Dir(configFile), "keyless-"+o.profile+".token")
		}
		if tf, err = filepath.Abs(tf); err != nil {
			return err
		}
		if err := writeFile0600(tf, []byte(tok.Value)); err != nil {
			return fmt.Errorf("write token file: %w", err)
		}
		conf = []client.KV{{Key: "role_arn", Value: roleARN}, {Key: "web_identity_token_file", Value: tf},
			{Key: "role_session_name", Value: session}}
		if o.seconds > 0 {
			conf = append(conf, client.KV{Key: "duration_seconds", Value: fmt.Sprint(o.seconds)})
		}
		// Static keys under the same name would shadow the web identity.
		if err := updateINI(credsFile, o.profile, nil); err != nil {
			return fmt.Errorf("update %s: %w", credsFile, err)
		}
	} else {
		if err := updateINI(credsFile, o.profile, []client.KV{
			{Key: "aws_access_key_id", Value: cr.AccessKeyID}, {Key: "aws_secret_access_key", Value: cr.SecretAccessKey},
			{Key: "aws_session_token", Value: cr.SessionToken},
		}); err != nil {
			return fmt.Errorf("update %s: %w", credsFile, err)
		}
	}
	if r := o.aws.regionFor(env); r != "" {
		conf = append(conf, client.KV{Key: "region", Value: r})
	}
	// Endpoints go to a services section, the one place every SDK reads for
	// the STS call of a web identity profile: aws-sdk-go-v2 resolves
	// credentials before a profile-level endpoint_url, so only a service's
	// own endpoint reaches its web identity exchange (docs/client.md).
	var svcs []client.KV
	for _, svc := range []string{"STS", "IAM"} {
		if ep := o.aws.endpointFor(env, svc); ep != "" {
			svcs = append(svcs, client.KV{Key: strings.ToLower(svc), Sub: []client.KV{{Key: "endpoint_url", Value: ep}}})
		}
	}
	svcName := "keyless-" + o.profile
	if len(svcs) > 0 {
		conf = append(conf, client.KV{Key: "services", Value: svcName})
	}
	content, err := os.ReadFile(configFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	updated := client.SetSection(string(content), client.ConfigSection(o.profile), conf)
	updated = client.SetSection(updated, client.ServicesSection(svcName), svcs)
	if err := writeFile0600(configFile, []byte(updated)); err != nil {
		return fmt.Errorf("update %s: %w", configFile, err)
	}
	where := "profile " + o.profile + " written to " + credsFile + " and " + configFile
	if o.webIdentity {
		where = "web identity profile " + o.profile + " written to " + configFile + " (SDKs refresh it themselves while the token file is fresh)"
	}
	summary(where)
	return nil
}
