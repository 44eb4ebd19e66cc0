package server_test

// End-to-end proofs that clients nobody here wrote accept what keyless's
// issuers and STS produce: boto3/botocore (explicit calls and its own
// web-identity credential provider), aws-sdk-go-v2's default credential
// chain, and a self-hosted issuer published to a static HTTPS host that
// another keyless server fetches and pins by thumbprint, as AWS does.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithy "github.com/aws/smithy-go"

	"github.com/keylessci/keyless/internal/cli"
	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/testkit"
)

// e2eKeyless runs a keyless CLI command against s with its root credentials
// and returns what it printed.
func e2eKeyless(t *testing.T, s *servertest.Server, args ...string) string {
	t.Helper()
	return keylessCLI(t, s.URL, args...)
}

// keylessCLI runs a keyless CLI command in process against endpoint with
// the root credentials and returns what it printed.
func keylessCLI(t *testing.T, endpoint string, args ...string) string {
	t.Helper()
	env := map[string]string{
		"KEYLESS_ENDPOINT":               endpoint,
		"KEYLESS_ROOT_ACCESS_KEY_ID":     servertest.RootAccessKeyID,
		"KEYLESS_ROOT_SECRET_ACCESS_KEY": servertest.RootSecretKey,
	}
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return env[k] }}, args)
	if code != 0 {
		t.Fatalf("keyless %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.String()
}

// e2eCircleSeed is the seed's setup on a test server: a hosted CircleCI issuer
// for a new org, https://oidc.circleci.com/org/<org> as a provider, and a
// role whose trust policy admits one project.
type e2eCircleSeed struct {
	s                   *servertest.Server
	org, project, other string
	roleARN             string
}

func newE2ECircleSeed(t *testing.T) *e2eCircleSeed {
	t.Helper()
	c := &e2eCircleSeed{s: servertest.Start(t), org: testkit.UUID(), project: testkit.UUID(), other: testkit.UUID()}
	e2eKeyless(t, c.s, "issuer", "create", "--profile", "circleci", "--org-id", c.org)
	ctx := context.Background()
	cl := iamClient(c.s.URL, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	p, err := cl.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://oidc.circleci.com/org/" + c.org), ClientIDList: []string{c.org},
		ThumbprintList: []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"},
	})
	if err != nil {
		t.Fatalf("create provider: %v", err)
	}
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringLike":{"oidc.circleci.com/org/%s:sub":["org/%s/project/%s/*"]}}}]}`,
		aws.ToString(p.OpenIDConnectProviderArn), c.org, c.org, c.project)
	r, err := cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("circleci-deploy"), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatalf("create role: %v", err)
	}
	c.roleARN = aws.ToString(r.Role.Arn)
	return c
}

// token mints a v2 job token of project, as a CircleCI job receives it.
func (c *e2eCircleSeed) token(t *testing.T, project string) string {
	t.Helper()
	return strings.TrimSpace(e2eKeyless(t, c.s, "token", "--org-id", c.org, "--project-id", project, "--user-id", testkit.UUID(),
		"--v2", "--vcs-origin", "github.com/acme/app", "--vcs-ref", "refs/heads/main"))
}

func (c *e2eCircleSeed) assumedARN(session string) string {
	return "arn:aws:sts::" + servertest.Account + ":assumed-role/circleci-deploy/" + session
}

// e2ePython runs script with python3 and boto3, with no AWS settings from the
// environment except those in env, and returns its stdout.
func e2ePython(t *testing.T, script string, env map[string]string) string {
	t.Helper()
	testkit.External(t, "python3 and boto3")
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed; the boto3 proofs need it")
	}
	if out, err := exec.Command("python3", "-c", "import boto3").CombinedOutput(); err != nil {
		t.Skipf("boto3 is not installed for python3: %s", out)
	}
	cmd := exec.Command("python3", "-c", script)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	cmd.Env = append(cmd.Env, "HOME="+t.TempDir(), "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none,
		"AWS_EC2_METADATA_DISABLED=true")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

const e2eBoto3Exchange = `
import json, os, boto3
from botocore.exceptions import ClientError
url, role = os.environ["KEYLESS_URL"], os.environ["ROLE_ARN"]
sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1")
out = {}
r = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="boto3",
    WebIdentityToken=os.environ["GOOD_TOKEN"], DurationSeconds=900)
c = r["Credentials"]
out["assumed"] = r["AssumedRoleUser"]["Arn"]
out["subject"] = r["SubjectFromWebIdentityToken"]
out["audience"] = r["Audience"]
out["provider"] = r["Provider"]
out["expiration_tz"] = c["Expiration"].tzinfo is not None
who = boto3.client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id=c["AccessKeyId"],
    aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"]).get_caller_identity()
out["caller"] = who["Arn"]
out["account"] = who["Account"]
try:
    sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="boto3", WebIdentityToken=os.environ["BAD_TOKEN"])
    out["denied"] = None
except ClientError as e:
    out["denied"] = e.response["Error"]["Code"]
    out["denied_status"] = e.response["ResponseMetadata"]["HTTPStatusCode"]
print(json.dumps(out))
`

func TestIssuerBoto3ExchangesHostedCircleCIToken(t *testing.T) {
	c := newE2ECircleSeed(t)
	good, bad := c.token(t, c.project), c.token(t, c.other)
	goodTok, err := oidc.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	out := e2ePython(t, e2eBoto3Exchange, map[string]string{"KEYLESS_URL": c.s.URL, "ROLE_ARN": c.roleARN,
		"GOOD_TOKEN": good, "BAD_TOKEN": bad})
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	want := map[string]any{
		"assumed":       c.assumedARN("boto3"),
		"caller":        c.assumedARN("boto3"),
		"account":       servertest.Account,
		"subject":       goodTok.Subject,
		"audience":      c.org,
		"provider":      "arn:aws:iam::" + servertest.Account + ":oidc-provider/oidc.circleci.com/org/" + c.org,
		"denied":        "AccessDenied",
		"denied_status": float64(403),
		"expiration_tz": true,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestIssuerBotocoreWebIdentityCredentialProvider(t *testing.T) {
	c := newE2ECircleSeed(t)
	script := `
import json, boto3
from botocore.exceptions import ClientError
s = boto3.session.Session()
try:
    who = s.client("sts").get_caller_identity()
    print(json.dumps({"caller": who["Arn"], "method": s.get_credentials().method}))
except ClientError as e:
    print(json.dumps({"error": e.response["Error"]["Code"]}))
`
	tests := []struct {
		name, project, want string
	}{
		{name: "allowed project", project: c.project, want: `{"caller": "` + c.assumedARN("botocore-provider") + `", "method": "assume-role-with-web-identity"}`},
		{name: "other project", project: c.other, want: `{"error": "AccessDenied"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokFile := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(tokFile, []byte(c.token(t, tt.project)), 0o600); err != nil {
				t.Fatal(err)
			}
			out := e2ePython(t, script, map[string]string{
				"AWS_WEB_IDENTITY_TOKEN_FILE": tokFile, "AWS_ROLE_ARN": c.roleARN,
				"AWS_ROLE_SESSION_NAME": "botocore-provider", "AWS_ENDPOINT_URL_STS": c.s.URL,
				"AWS_DEFAULT_REGION": "us-east-1",
			})
			if got := strings.TrimSpace(out); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// e2eClearAWSEnv isolates the default credential chain from the machine's.
func e2eClearAWSEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestIssuerGoSDKDefaultChainWebIdentity drives aws-sdk-go-v2's default
// credential chain (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN) against
// keyless. The chain's own STS client is built before the SDK resolves
// AWS_ENDPOINT_URL, so only AWS_ENDPOINT_URL_STS, or a client handed in with
// WithWebIdentityRoleCredentialOptions, points it at keyless.
func TestIssuerGoSDKDefaultChainWebIdentity(t *testing.T) {
	c := newE2ECircleSeed(t)
	viaOptions := func(o *stscreds.WebIdentityRoleOptions) {
		o.Client = sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(c.s.URL)})
	}
	tests := []struct {
		name, project string
		env           map[string]string
		opts          []func(*config.LoadOptions) error
		wantARN       string
		wantCode      string
	}{
		{name: "AWS_ENDPOINT_URL_STS/allowed project", project: c.project,
			env: map[string]string{"AWS_ENDPOINT_URL_STS": c.s.URL}, wantARN: c.assumedARN("go-sdk")},
		{name: "AWS_ENDPOINT_URL_STS/other project", project: c.other,
			env: map[string]string{"AWS_ENDPOINT_URL_STS": c.s.URL}, wantCode: "AccessDenied"},
		{name: "WithWebIdentityRoleCredentialOptions/allowed project", project: c.project,
			env:  map[string]string{"AWS_ENDPOINT_URL": c.s.URL},
			opts: []func(*config.LoadOptions) error{config.WithWebIdentityRoleCredentialOptions(viaOptions)}, wantARN: c.assumedARN("go-sdk")},
		{name: "WithWebIdentityRoleCredentialOptions/other project", project: c.other,
			env:  map[string]string{"AWS_ENDPOINT_URL": c.s.URL},
			opts: []func(*config.LoadOptions) error{config.WithWebIdentityRoleCredentialOptions(viaOptions)}, wantCode: "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e2eClearAWSEnv(t)
			tokFile := filepath.Join(t.TempDir(), "token")
			if err := os.WriteFile(tokFile, []byte(c.token(t, tt.project)), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokFile)
			t.Setenv("AWS_ROLE_ARN", c.roleARN)
			t.Setenv("AWS_ROLE_SESSION_NAME", "go-sdk")
			t.Setenv("AWS_REGION", "us-east-1")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ctx := context.Background()
			cfg, err := config.LoadDefaultConfig(ctx, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			if tt.wantCode != "" {
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != tt.wantCode {
					t.Fatalf("err = %v, want %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(out.Arn); got != tt.wantARN {
				t.Errorf("caller %s, want %s", got, tt.wantARN)
			}
		})
	}
}

// TestIssuerSelfHostedIssuerFetchedByThumbprint publishes a generic issuer of one
// keyless server to a static HTTPS host (self-signed, like a host whose CA
// the verifier does not know), and proves another keyless server, which
// does not host the issuer, fetches its keys from there only once the
// provider pins the host's certificate thumbprint, with the port in the
// provider URL and in the condition keys.
func TestIssuerSelfHostedIssuerFetchedByThumbprint(t *testing.T) {
	ctx := context.Background()
	site := t.TempDir()
	var fetches atomic.Int32
	files := http.FileServer(http.Dir(site))
	host := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		files.ServeHTTP(w, r)
	}))
	host.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below is expected
	host.StartTLS()
	defer host.Close()
	hostPort := strings.TrimPrefix(host.URL, "https://")

	ci := servertest.Start(t) // the CI side: hosts the issuer, mints
	e2eKeyless(t, ci, "issuer", "create", "--profile", "generic", "--id", "selfhosted",
		"--issuer-url", host.URL, "--aud", "sts.amazonaws.com")
	e2eKeyless(t, ci, "issuer", "publish", "selfhosted", "--out", site)
	disc, err := os.ReadFile(filepath.Join(site, ".well-known", "openid-configuration"))
	if err != nil {
		t.Fatalf("publish wrote no discovery document: %v", err)
	}
	var d struct{ Issuer, JWKSURI string }
	if err := json.Unmarshal(disc, &struct {
		Issuer  *string `json:"issuer"`
		JWKSURI *string `json:"jwks_uri"`
	}{&d.Issuer, &d.JWKSURI}); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != host.URL || !strings.HasPrefix(d.JWKSURI, host.URL+"/") {
		t.Fatalf("published discovery: issuer %q jwks_uri %q, want both on %s", d.Issuer, d.JWKSURI, host.URL)
	}

	cloud := servertest.Start(t) // the AWS side: knows nothing of the issuer
	cl := iamClient(cloud.URL, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	p, err := cl.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(host.URL), ClientIDList: []string{"sts.amazonaws.com"},
		ThumbprintList: []string{strings.Repeat("0", 40)},
	})
	if err != nil {
		t.Fatalf("create provider: %v", err)
	}
	provARN := aws.ToString(p.OpenIDConnectProviderArn)
	if want := "arn:aws:iam::" + servertest.Account + ":oidc-provider/" + hostPort; provARN != want {
		t.Errorf("provider ARN %s, want %s", provARN, want)
	}
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
		"Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity",
		"Condition":{"StringEquals":{"%s:sub":"ci/acme/app/deploy","%s:aud":"sts.amazonaws.com"}}}]}`,
		provARN, hostPort, hostPort)
	r, err := cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("selfhosted-deploy"), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatalf("create role: %v", err)
	}
	roleARN := aws.ToString(r.Role.Arn)
	mint := func(sub string) string {
		return strings.TrimSpace(e2eKeyless(t, ci, "token", "--issuer", "selfhosted", "--claim", "sub="+sub))
	}
	assume := func(tok string) (*sts.AssumeRoleWithWebIdentityOutput, error) {
		return anonSTS(cloud.URL).AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
			RoleArn: aws.String(roleARN), RoleSessionName: aws.String("selfhosted"), WebIdentityToken: aws.String(tok)})
	}
	good := mint("ci/acme/app/deploy")

	// A thumbprint that matches nothing: the host's certificate is not
	// trusted, the keys are not fetched, the token is refused.
	_, err = assume(good)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidIdentityToken" || ae.ErrorMessage() != oidc.MsgThumbprint {
		t.Fatalf("wrong thumbprint: err = %v, want InvalidIdentityToken %q", err, oidc.MsgThumbprint)
	}

	// Pin the host's certificate, as `aws iam create-open-id-connect-provider
	// --thumbprint-list` does for a self-hosted issuer.
	if _, err := cl.UpdateOpenIDConnectProviderThumbprint(ctx, &iam.UpdateOpenIDConnectProviderThumbprintInput{
		OpenIDConnectProviderArn: aws.String(provARN), ThumbprintList: []string{oidc.Thumbprint(host.Certificate())},
	}); err != nil {
		t.Fatalf("update thumbprint: %v", err)
	}
	before := fetches.Load()
	var out *sts.AssumeRoleWithWebIdentityOutput
	deadline := time.Now().Add(5 * time.Second) // the provider cache refreshes every 100ms
	for out, err = assume(good); err != nil && time.Now().Before(deadline); out, err = assume(good) {
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("pinned thumbprint: %v", err)
	}
	if fetches.Load() == before {
		t.Error("the static host served nothing: the keys did not come from it")
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::"+servertest.Account+":assumed-role/selfhosted-deploy/selfhosted" {
		t.Errorf("assumed %s", got)
	}
	if aws.ToString(out.Provider) != provARN || aws.ToString(out.SubjectFromWebIdentityToken) != "ci/acme/app/deploy" {
		t.Errorf("provider %s subject %s", aws.ToString(out.Provider), aws.ToString(out.SubjectFromWebIdentityToken))
	}
	tmp := credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
	who, err := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(cloud.URL), Credentials: tmp}).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != aws.ToString(out.AssumedRoleUser.Arn) {
		t.Errorf("GetCallerIdentity = %v, %v", who, err)
	}

	// The condition key carries the port: another sub is denied.
	if _, err := assume(mint("ci/acme/other/deploy")); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Errorf("other sub: err = %v, want AccessDenied", err)
	}
	if log := cloud.Log(); !strings.Contains(log, hostPort+`:sub`) {
		t.Errorf("server log does not explain the denial with the %s:sub key", hostPort)
	}
}
