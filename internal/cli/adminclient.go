package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/spf13/cobra"
)

// DefaultEndpoint is where issuer and token commands find a local server.
const DefaultEndpoint = "http://127.0.0.1:8787"

// adminClient calls a keyless server's admin API, SigV4-signed with the
// standard AWS credential chain (KEYLESS_ROOT_* take precedence).
type adminClient struct {
	endpoint string
	creds    aws.CredentialsProvider
	region   string
	http     *http.Client
}

type adminFlags struct{ endpoint, region string }

func (f *adminFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.endpoint, "endpoint-url", "", "keyless server URL (env KEYLESS_ENDPOINT, default "+DefaultEndpoint+")")
	cmd.PersistentFlags().StringVar(&f.region, "region", "", "the server's region (its serve --region), which admin calls are signed for (env KEYLESS_REGION, default us-east-1)")
}

// run returns a command body that first builds the admin client.
func (f *adminFlags) run(env Env, body func(cmd *cobra.Command, args []string, c *adminClient) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := f.client(cmd.Context(), env)
		if err != nil {
			return err
		}
		return body(cmd, args, c)
	}
}

// resolveEndpoint is the keyless server URL: the flag, else
// KEYLESS_ENDPOINT, else DefaultEndpoint. A URL without http:// or
// https:// is refused with the spelling to use.
func resolveEndpoint(flag string, env Env) (string, error) {
	ep, from := flag, "--endpoint-url"
	if ep == "" {
		ep, from = env.Getenv("KEYLESS_ENDPOINT"), "KEYLESS_ENDPOINT"
	}
	if ep == "" {
		return DefaultEndpoint, nil
	}
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s %q is not a URL: give the scheme too, e.g. http://%s", from, ep, strings.TrimPrefix(strings.TrimPrefix(ep, "//"), "://"))
	}
	return strings.TrimRight(ep, "/"), nil
}

// unreachable explains a failure to reach the keyless server at endpoint.
func unreachable(endpoint string, err error) error {
	return fmt.Errorf("cannot reach a keyless server at %s (%v): is `keyless serve` running there? Set --endpoint-url or KEYLESS_ENDPOINT if it listens elsewhere", endpoint, err)
}

// noCredentials is the next step when no credentials sign admin calls.
const noCredentials = "no credentials to sign with: set KEYLESS_ROOT_ACCESS_KEY_ID and KEYLESS_ROOT_SECRET_ACCESS_KEY to the server's root credentials, or point AWS_SHARED_CREDENTIALS_FILE at <data-dir>/root-credentials with AWS_PROFILE=keyless"

// newAdminClient is a client of the admin API at endpoint, signing for
// region (default us-east-1) with creds.
func newAdminClient(endpoint, region string, creds aws.CredentialsProvider) *adminClient {
	if region == "" {
		region = "us-east-1"
	}
	return &adminClient{endpoint: strings.TrimRight(endpoint, "/"), region: region, creds: creds,
		http: &http.Client{Timeout: 30 * time.Second}}
}

func (f *adminFlags) client(ctx context.Context, env Env) (*adminClient, error) {
	ep, err := resolveEndpoint(f.endpoint, env)
	if err != nil {
		return nil, err
	}
	// The admin API accepts only signatures scoped to service "keyless" in
	// the server's region, which is not the caller's AWS region.
	region := f.region
	if region == "" {
		region = env.Getenv("KEYLESS_REGION")
	}
	c := newAdminClient(ep, region, nil)
	if id, secret := env.Getenv("KEYLESS_ROOT_ACCESS_KEY_ID"), env.Getenv("KEYLESS_ROOT_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		c.creds = credentials.NewStaticCredentialsProvider(id, secret, "")
		return c, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	if err != nil {
		return nil, fmt.Errorf("load AWS credentials: %w", err)
	}
	c.creds = cfg.Credentials
	return c, nil
}

// do sends a signed JSON request and decodes a JSON answer into out.
func (c *adminClient) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.creds == nil {
		return errors.New(noCredentials)
	}
	cr, err := c.creds.Retrieve(ctx)
	if err != nil {
		// The SDK's chain error lists every provider it tried, IMDS
		// included; what the user needs is which ones keyless reads.
		return errors.New(noCredentials)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, cr, req, hex.EncodeToString(sum[:]), "keyless", c.region, time.Now()); err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return unreachable(c.endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Code, Message string }
		if json.Unmarshal(data, &e) == nil && e.Code != "" {
			return fmt.Errorf("%s %s: %s: %s", method, path, e.Code, e.Message)
		}
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}
