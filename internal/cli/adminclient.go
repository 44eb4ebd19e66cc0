package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
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

func (f *adminFlags) client(ctx context.Context, env Env) (*adminClient, error) {
	ep := f.endpoint
	if ep == "" {
		ep = env.Getenv("KEYLESS_ENDPOINT")
	}
	if ep == "" {
		ep = DefaultEndpoint
	}
	// The admin API accepts only signatures scoped to service "keyless" in
	// the server's region, which is not the caller's AWS region.
	region := f.region
	if region == "" {
		region = env.Getenv("KEYLESS_REGION")
	}
	if region == "" {
		region = "us-east-1"
	}
	c := &adminClient{endpoint: strings.TrimRight(ep, "/"), region: region, http: &http.Client{Timeout: 30 * time.Second}}
	if id, secret := env.Getenv("KEYLESS_ROOT_ACCESS_KEY_ID"), env.Getenv("KEYLESS_ROOT_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		c.creds = credentials.NewStaticCredentialsProvider(id, secret, "")
		return c, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
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
		return fmt.Errorf("no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (the server's root credentials)")
	}
	cr, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieve AWS credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, cr, req, hex.EncodeToString(sum[:]), "keyless", c.region, time.Now()); err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", c.endpoint, err)
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
