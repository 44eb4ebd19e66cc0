// Package client is the client side of keyless: it exchanges a CI job's
// OIDC token for AWS credentials (assume), provisions an OIDC provider and a
// least-privilege role (setup), and explains why an exchange is denied
// (explain), and reads the roles `keyless audit` analyses (IAM ListRoles,
// trust policy files, CloudFormation templates, Terraform plans). It talks to
// real AWS by default and to a keyless server when an
// endpoint is given, through aws-sdk-go-v2.
//
// It owns the AWS calls, the retry policy, token discovery, session-name
// rules, trust-policy generation and the Terraform/CloudFormation renderings.
// It does not read the environment or files itself (package cli passes
// Getenv/ReadFile and endpoint values in), and it does not format command
// output.
package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keylessci/keyless/internal/oidc"
)

// Config configures a Client. The zero value talks to real AWS with no
// credentials (enough for AssumeRoleWithWebIdentity, which is unsigned).
type Config struct {
	// STSEndpoint and IAMEndpoint override the AWS endpoints ("" = AWS).
	STSEndpoint, IAMEndpoint string
	// Region is the signing region; default us-east-1.
	Region string
	// Credentials sign IAM calls; nil leaves calls unsigned.
	Credentials aws.CredentialsProvider
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client

	// MaxAttempts bounds tries of a retryable call; default 5, minimum 1.
	MaxAttempts int
	// BaseDelay and MaxDelay shape the full-jitter exponential backoff:
	// attempt n waits rand[0,1) × min(MaxDelay, BaseDelay × 2^(n-1)).
	// Defaults 200 ms and 10 s.
	BaseDelay, MaxDelay time.Duration
	// Sleep waits d or until ctx ends; default a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0,1); default math/rand/v2.
	Rand func() float64
	// OnRetry, when set, is told about each retried failure.
	OnRetry func(attempt int, err error, delay time.Duration)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ClockSkew is explain's tolerance on exp/nbf/iat; default
	// oidc.DefaultClockSkew, the server's.
	ClockSkew time.Duration
}

// Client calls STS and IAM.
type Client struct {
	cfg Config
	sts *sts.Client
	iam *iam.Client
}

// New applies defaults and builds the SDK clients.
func New(cfg Config) (*Client, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.MaxAttempts < 1 {
		return nil, fmt.Errorf("max attempts must be at least 1, got %d", cfg.MaxAttempts)
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = 200 * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 10 * time.Second
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = oidc.DefaultClockSkew
	}
	awsCfg := aws.Config{
		Region:      cfg.Region,
		Credentials: cfg.Credentials,
		HTTPClient:  cfg.HTTPClient,
		// Retries are ours (full jitter, AWS-federation-aware), not the SDK's.
		Retryer: func() aws.Retryer { return aws.NopRetryer{} },
	}
	c := &Client{cfg: cfg}
	c.sts = sts.NewFromConfig(awsCfg, func(o *sts.Options) {
		if cfg.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.STSEndpoint)
		}
	})
	c.iam = iam.NewFromConfig(awsCfg, func(o *iam.Options) {
		// IAM throttles bursts of writes; the SDK's standard retryer covers
		// throttling and 5xx for the setup and explain calls.
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = cfg.MaxAttempts })
		if cfg.IAMEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.IAMEndpoint)
		}
	})
	return c, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errNoCredentials explains an IAM call attempted without credentials.
var errNoCredentials = errors.New("no AWS credentials for IAM: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE")
