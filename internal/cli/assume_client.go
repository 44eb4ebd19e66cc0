package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
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
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS credentials: %w", err)
	}
	return cfg.Credentials, nil
}

// newClient builds a client; withCreds loads the credential chain (IAM calls).
func (f *awsFlags) newClient(ctx context.Context, env Env, withCreds bool) (*client.Client, error) {
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
