package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

func newHealthCmd(env Env) *cobra.Command {
	var endpoint string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that a keyless server answers; with --wait, wait until it does",
		Long: `health asks the server's GET /_keyless/health. It exits 0 when the server is
ready and 1 otherwise. With --wait it retries until the server is ready or the
duration has passed: use it after starting "keyless serve &" in a script.`,
		Example: `  keyless serve --data-dir "$DATA" 2> "$DATA/serve.log" &
  keyless health --wait 30s
  keyless health --endpoint-url http://127.0.0.1:8443`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ep, err := resolveEndpoint(endpoint, env)
			if err != nil {
				return err
			}
			if err := waitHealthy(cmd.Context(), ep, wait); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "keyless at %s is ready\n", ep)
			return nil
		},
	}
	cmd.Flags().StringVar(&endpoint, "endpoint-url", "", "keyless server URL (env KEYLESS_ENDPOINT, default "+DefaultEndpoint+")")
	cmd.Flags().DurationVar(&wait, "wait", 0, "keep trying this long before giving up (0: ask once)")
	return cmd
}

// waitHealthy asks endpoint's health URL until it answers 200 or wait has
// passed.
func waitHealthy(ctx context.Context, endpoint string, wait time.Duration) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(wait)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/_keyless/health", nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("health answered HTTP %d", resp.StatusCode)
		}
		if !time.Now().Before(deadline) {
			return unreachable(endpoint, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
