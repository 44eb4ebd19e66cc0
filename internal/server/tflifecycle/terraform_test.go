package tflifecycle_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// tfProvider locates the hashicorp/aws provider in a filesystem mirror:
// $KEYLESS_TF_PROVIDER_MIRROR, else the usual mirror directories. It
// returns the mirror directory and the provider version, or skips the test
// (saying why) when terraform or the provider is not installed. Terraform
// never reaches the network: the CLI config the tests write names only this
// mirror, and no direct installation.
func tfProvider(t *testing.T) (mirror, version string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the terraform lifecycle tests are skipped")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not installed on this machine (not in PATH)")
	}
	dirs := []string{os.Getenv("KEYLESS_TF_PROVIDER_MIRROR"), "/opt/tf-plugins", "/usr/local/share/terraform/plugins",
		"/usr/share/terraform/plugins"}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".terraform.d", "plugins"))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		pattern := filepath.Join(d, "registry.terraform.io", "hashicorp", "aws", "*", runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-aws*")
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return d, filepath.Base(filepath.Dir(filepath.Dir(m[len(m)-1])))
		}
	}
	t.Skipf("the hashicorp/aws provider is not in a filesystem mirror (looked in %q)", dirs)
	return "", ""
}

// tfDir is a Terraform working directory wired to a keyless server.
type tfDir struct {
	t   *testing.T
	dir string
	env []string
}

// newTFDir writes a CLI config naming only the filesystem mirror, and
// returns a working directory whose commands run with root credentials.
func newTFDir(t *testing.T, mirror string) *tfDir {
	t.Helper()
	dir := t.TempDir()
	cli := filepath.Join(dir, "cli.tfrc")
	conf := fmt.Sprintf(`disable_checkpoint = true
provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
`, mirror)
	if err := os.WriteFile(cli, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "TF_") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+cli, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"AWS_ACCESS_KEY_ID=AKIAKEYLESSTEST00001", "AWS_SECRET_ACCESS_KEY=keylessTestRootSecretKey0000000000000000",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true")
	return &tfDir{t: t, dir: work, env: env}
}

func (d *tfDir) write(name, content string) {
	d.t.Helper()
	if err := os.WriteFile(filepath.Join(d.dir, name), []byte(content), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// run runs terraform and returns its output and exit code; it fails the
// test only when terraform cannot run or exceeds a generous ceiling.
func (d *tfDir) run(args ...string) (string, int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "terraform", append(args, "-no-color")...)
	cmd.Dir, cmd.Env = d.dir, d.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d.t.Logf("terraform %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		d.t.Fatalf("terraform %s: no answer within 5 minutes\n%s", strings.Join(args, " "), out.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		d.t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), 0
}

// must runs terraform and fails the test unless it exits 0.
func (d *tfDir) must(args ...string) string {
	d.t.Helper()
	out, code := d.run(args...)
	if code != 0 {
		d.t.Fatalf("terraform %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// noChanges runs plan -detailed-exitcode and fails unless it is 0 (no changes).
func (d *tfDir) noChanges(vars ...string) {
	d.t.Helper()
	out, code := d.run(append([]string{"plan", "-input=false", "-detailed-exitcode"}, vars...)...)
	if code != 0 {
		d.t.Fatalf("plan after apply: exit %d, want 0 (no changes)\n%s", code, out)
	}
}

// tfProviderBlock configures the aws provider against keyless with root
// credentials, without skipping any check keyless can answer: the provider
// validates the credentials and learns the account with sts
// GetCallerIdentity. Only the EC2 instance metadata lookup is off: it is
// not keyless's to answer and would leave the machine.
func tfProviderBlock(version, endpoint string) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = %q }
  }
}

provider "aws" {
  region                  = "us-east-1"
  skip_metadata_api_check = true
  endpoints {
    iam = %q
    sts = %q
  }
}
`, version, endpoint, endpoint)
}

// tfLeft lists what Terraform created that is still in the account: roles
// and managed policies whose names start with "tf", and the example.com
// provider.
func tfLeft(t *testing.T, c *iam.Client) []string {
	t.Helper()
	ctx := context.Background()
	var left []string
	roles, err := c.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles.Roles {
		if strings.HasPrefix(aws.ToString(r.RoleName), "tf") {
			left = append(left, "role "+aws.ToString(r.RoleName))
		}
	}
	pols, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pols.Policies {
		if strings.HasPrefix(aws.ToString(p.PolicyName), "tf") {
			left = append(left, "policy "+aws.ToString(p.PolicyName))
		}
	}
	provs, err := c.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range provs.OpenIDConnectProviderList {
		if strings.Contains(aws.ToString(p.Arn), "example.com") {
			left = append(left, "provider "+aws.ToString(p.Arn))
		}
	}
	return left
}
