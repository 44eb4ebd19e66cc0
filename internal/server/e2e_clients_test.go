package server_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/testkit"
)

// clientEnv is the environment for the aws CLI and boto3: root
// credentials, no user config, the server as endpoint.
func clientEnv(url string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "AWS_ACCESS_KEY_ID="+servertest.RootAccessKeyID, "AWS_SECRET_ACCESS_KEY="+servertest.RootSecretKey,
		"AWS_DEFAULT_REGION=eu-west-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ENDPOINT_URL="+url, "AWS_MAX_ATTEMPTS=1")
}

func TestAWSCLI(t *testing.T) {
	testkit.External(t, "the aws CLI")
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("the aws CLI is not installed on this machine")
	}
	f := newFixture(t)
	run := func(args ...string) (string, error) {
		cmd := exec.Command("aws", append([]string{"--endpoint-url", f.srv.URL}, args...)...)
		cmd.Env = clientEnv(f.srv.URL)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("iam", "get-role", "--role-name", "circleci-deploy", "--output", "json")
	if err != nil {
		t.Fatalf("get-role: %v\n%s", err, out)
	}
	var gr struct {
		Role struct {
			Arn                      string
			MaxSessionDuration       int
			AssumeRolePolicyDocument map[string]any // botocore URL-decodes and parses it
		}
	}
	if err := json.Unmarshal([]byte(out), &gr); err != nil {
		t.Fatalf("get-role output: %v\n%s", err, out)
	}
	if gr.Role.Arn != f.roleARN || gr.Role.MaxSessionDuration != 3600 || gr.Role.AssumeRolePolicyDocument["Version"] != "2012-10-17" {
		t.Errorf("get-role = %+v", gr.Role)
	}
	out, err = run("iam", "get-role", "--role-name", "nope")
	if err == nil || !strings.Contains(out, "(NoSuchEntity)") {
		t.Errorf("get-role nope: %v %s", err, out)
	}
	out, err = run("iam", "create-open-id-connect-provider", "--url", "https://"+f.providerURL, "--client-id-list", "x")
	if err == nil || !strings.Contains(out, "(EntityAlreadyExists)") {
		t.Errorf("duplicate provider: %v %s", err, out)
	}
	tok := f.mint(t, ciclaims.Params{})
	out, err = run("sts", "assume-role-with-web-identity", "--role-arn", f.roleARN, "--role-session-name", "cli",
		"--web-identity-token", tok, "--query", "AssumedRoleUser.Arn", "--output", "text")
	if err != nil || strings.TrimSpace(out) != "arn:aws:sts::123456789012:assumed-role/circleci-deploy/cli" {
		t.Errorf("assume-role-with-web-identity: %v %s", err, out)
	}
	out, err = run("sts", "assume-role-with-web-identity", "--role-arn", f.roleARN, "--role-session-name", "cli",
		"--web-identity-token", f.mint(t, ciclaims.Params{ProjectID: "other"}))
	if err == nil || !strings.Contains(out, "(AccessDenied)") || !strings.Contains(out, "Not authorized to perform sts:AssumeRoleWithWebIdentity") {
		t.Errorf("denied exchange: %v %s", err, out)
	}
}

func TestBoto3Errors(t *testing.T) {
	testkit.External(t, "python3 and boto3")
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("python3 with boto3 is not installed on this machine")
	}
	f := newFixture(t)
	f.clock.SetOffset(-2 * time.Hour)
	expired := f.mint(t, ciclaims.Params{})
	f.clock.SetOffset(0)
	cases := map[string]string{
		"ok":      f.mint(t, ciclaims.Params{}),
		"denied":  f.mint(t, ciclaims.Params{ProjectID: "other"}),
		"expired": expired,
		"garbage": "aaaa.bbbb.cccc",
	}
	in, _ := json.Marshal(map[string]any{"url": f.srv.URL, "role": f.roleARN, "tokens": cases})
	script := `
import json, sys, boto3, botocore
cfg = json.load(sys.stdin)
sts = boto3.client("sts", endpoint_url=cfg["url"], region_name="us-east-1",
                   config=botocore.config.Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 0}))
out = {}
for name, tok in cfg["tokens"].items():
    try:
        r = sts.assume_role_with_web_identity(RoleArn=cfg["role"], RoleSessionName="boto", WebIdentityToken=tok)
        out[name] = "OK " + r["AssumedRoleUser"]["Arn"] + " " + type(r["Credentials"]["Expiration"]).__name__
    except sts.exceptions.ExpiredTokenException as e:
        out[name] = "modeled ExpiredTokenException"
    except sts.exceptions.InvalidIdentityTokenException as e:
        out[name] = "modeled InvalidIdentityTokenException"
    except botocore.exceptions.ClientError as e:
        out[name] = "ClientError " + e.response["Error"]["Code"] + " " + str(e.response["ResponseMetadata"]["HTTPStatusCode"])
print(json.dumps(out))
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Stdin = strings.NewReader(string(in))
	cmd.Env = clientEnv(f.srv.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	var got map[string]string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("python output: %v\n%s", err, out)
	}
	want := map[string]string{
		"ok":      "OK arn:aws:sts::123456789012:assumed-role/circleci-deploy/boto datetime",
		"denied":  "ClientError AccessDenied 403",
		"expired": "modeled ExpiredTokenException",
		"garbage": "modeled InvalidIdentityTokenException",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
}
