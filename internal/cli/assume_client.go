package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"
	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/client"
)

// awsFlags are the connection flags of assume, setup and explain.
type awsFlags struct {
	endpoint    string
	region      string
	maxAttempts int
}

func (f *awsFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "endpoint-url", "", "STS/IAM endpoint (default: AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL_IAM / AWS_ENDPOINT_URL, else AWS)")
	fl.StringVar(&f.region, "region", "", "AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)")
	fl.IntVar(&f.maxAttempts, "max-attempts", 5, "attempts for a call failing with a transient error (IdP unreachable, throttling, 5xx, network)")
}

// endpoint resolves a service endpoint as the AWS SDKs do.
func (f *awsFlags) endpointFor(env Env, service string) string {
	if f.endpoint != "" {
		return f.endpoint
	}
	if env.Getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") == "true" {
		return ""
	}
	if v := env.Getenv("AWS_ENDPOINT_URL_" + service); v != "" {
		return v
	}
	return env.Getenv("AWS_ENDPOINT_URL")
}

func (f *awsFlags) regionFor(env Env) string {
	for _, v := range []string{f.region, env.Getenv("AWS_REGION"), env.Getenv("AWS_DEFAULT_REGION")} {
		if v != "" {
			return v
		}
	}
	return ""
}

// credentials is the standard AWS chain: env keys, else the shared
// config/credentials files (AWS_PROFILE, AWS_CONFIG_FILE,
// AWS_SHARED_CREDENTIALS_FILE) and the rest of the SDK's default chain.
func (f *awsFlags) credentials(ctx context.Context, env Env) (aws.CredentialsProvider, error) {
	if id, secret := env.Getenv("AWS_ACCESS_KEY_ID"), env.Getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		return credentials.NewStaticCredentialsProvider(id, secret, env.Getenv("AWS_SESSION_TOKEN")), nil
	}
	var opts []func(*config.LoadOptions) error
	if p := env.Getenv("AWS_PROFILE"); p != "" {
		opts = append(opts, config.WithSharedConfigProfile(p))
	}
	if p := env.Getenv("AWS_CONFIG_FILE"); p != "" {
		opts = append(opts, config.WithSharedConfigFiles([]string{p}))
	}
	if p := env.Getenv("AWS_SHARED_CREDENTIALS_FILE"); p != "" {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{p}))
	}
	// The SDK's own log lines (IMDS fallbacks) would only be noise here:
	// a missing credential is reported once, with what to set.
	opts = append(opts, config.WithLogger(logging.Nop{}))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS credentials: %w", err)
	}
	if cfg.Credentials == nil {
		return nil, &noAWSCredentials{}
	}
	return aws.NewCredentialsCache(hintedCredentials{cfg.Credentials}), nil
}

// noAWSCredentials: the whole chain was tried and the last resort, the EC2
// instance metadata service, had nothing either.
type noAWSCredentials struct{ cause error }

func (e *noAWSCredentials) Error() string {
	return "no AWS credentials found (environment, shared files and instance metadata tried). Against keyless: " +
		"point AWS_SHARED_CREDENTIALS_FILE at <data-dir>/root-credentials with AWS_PROFILE=keyless, or set " +
		"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the server's KEYLESS_ROOT_ACCESS_KEY_ID and KEYLESS_ROOT_SECRET_ACCESS_KEY"
}

func (e *noAWSCredentials) Unwrap() error { return e.cause }

// hintedCredentials reports a chain that fell through to instance metadata
// and found nothing there as noAWSCredentials; any other failure (an
// expired SSO session, a bad profile) keeps its own message.
type hintedCredentials struct{ p aws.CredentialsProvider }

func (h hintedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := h.p.Retrieve(ctx)
	if err != nil && strings.Contains(err.Error(), "EC2 IMDS") {
		return c, &noAWSCredentials{cause: err}
	}
	return c, err
}

// checkEndpoint refuses an endpoint without http:// or https://, naming
// where it came from and the spelling to use.
func (f *awsFlags) checkEndpoint(env Env, service string) error {
	ep, from := f.endpoint, "--endpoint-url"
	if ep == "" {
		for _, k := range []string{"AWS_ENDPOINT_URL_" + service, "AWS_ENDPOINT_URL"} {
			if ep, from = env.Getenv(k), k; ep != "" {
				break
			}
		}
	}
	if ep == "" || f.endpointFor(env, service) == "" {
		return nil
	}
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q is not a URL: give the scheme too, e.g. http://%s", from, ep, strings.TrimPrefix(strings.TrimPrefix(ep, "//"), "://"))
	}
	return nil
}

// newClient builds a client; withCreds loads the credential chain (IAM calls).
func (f *awsFlags) newClient(ctx context.Context, env Env, withCreds bool) (*client.Client, error) {
	for _, s := range []string{"STS", "IAM"} {
		if err := f.checkEndpoint(env, s); err != nil {
			return nil, err
		}
	}
	cfg := client.Config{
		STSEndpoint: f.endpointFor(env, "STS"),
		IAMEndpoint: f.endpointFor(env, "IAM"),
		Region:      f.regionFor(env),
		MaxAttempts: f.maxAttempts,
		OnRetry: func(n int, err error, d time.Duration) {
			fmt.Fprintf(env.Stderr, "keyless: attempt %d failed (%v); retrying in %s\n", n, err, d.Round(time.Millisecond))
		},
	}
	if withCreds {
		p, err := f.credentials(ctx, env)
		if err != nil {
			return nil, err
		}
		cfg.Credentials = p
	}
	return client.New(cfg)
}

// writeFile0600 writes data to path with mode 0600, creating the directory.
func writeFile0600(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	return os.Chmod(path, 0o600)
}
