package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/testkit"
)

// webIdentityFixture is a server with one CircleCI issuer, its provider, a
// role trusting the project, and a job token for that project.
type webIdentityFixture struct {
	srv         *servertest.Server
	role, token string
	roleName    string
}

func newWebIdentityFixture(t *testing.T) webIdentityFixture {
	t.Helper()
	ctx := context.Background()
	srv := servertest.Start(t)
	org, proj, user := testkit.UUID(), testkit.UUID(), testkit.UUID()
	if _, err := srv.Issuers().Create(ctx, issuer.CreateRequest{Profile: "circleci", OrgID: org}); err != nil {
		t.Fatalf("create issuer: %v", err)
	}
	ic := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(servertest.RootAccessKeyID, servertest.RootSecretKey, "")})
	provURL := "oidc.circleci.com/org/" + org
	if _, err := ic.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://" + provURL), ClientIDList: []string{org}}); err != nil {
		t.Fatalf("create provider: %v", err)
	}
	name := "every-sdk-" + org[:8]
	out, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name),
		AssumeRolePolicyDocument: aws.String(fmt.Sprintf(scriptTrust, servertest.Account, provURL, org, proj))})
	if err != nil {
		t.Fatalf("create role: %v", err)
	}
	tok, err := srv.Issuers().Mint(ctx, org, issuer.MintRequest{Params: ciclaims.Params{
		ProjectID: proj, UserID: user, V2: true, VCSOrigin: "github.com/acme/app", VCSRef: "refs/heads/main"}})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return webIdentityFixture{srv: srv, role: aws.ToString(out.Role.Arn), token: tok, roleName: name}
}

// isolateAWSEnv points the SDK environment at dir and clears everything
// that could route a call or supply credentials behind the profile's back.
func isolateAWSEnv(t *testing.T, dir string) {
	t.Helper()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
		"AWS_ENDPOINT_URL_IAM", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_ROLE_SESSION_NAME", "AWS_CA_BUNDLE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"KEYLESS_ENDPOINT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, ".aws", "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, ".aws", "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestWebIdentityProfileEverySDK writes a web identity profile with
// keyless assume and has each SDK keyless claims to support use it, as a
// user would: the profile is the only place naming the endpoint (no
// --endpoint-url, no AWS_ENDPOINT_URL*), so the SDK's own
// AssumeRoleWithWebIdentity and the GetCallerIdentity after it both reach
// keyless through the profile — an assumed-role ARN proves it, since only
// keyless can have issued it (there is no network).
func TestWebIdentityProfileEverySDK(t *testing.T) {
	f := newWebIdentityFixture(t)
	jsDir := jsSDKDir() // before HOME moves to the temp dir
	dir := t.TempDir()
	isolateAWSEnv(t, dir)
	var stdout, stderr bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: os.Getenv}
	if code := Main(context.Background(), env, []string{"assume", "--endpoint-url", f.srv.URL, "--region", "us-east-1",
		"--role-arn", f.role, "--web-identity-token", f.token, "--role-session-name", "every-sdk",
		"--profile", "kl", "--web-identity-profile"}); code != 0 {
		t.Fatalf("assume exit %d: %s", code, stderr.String())
	}
	conf, err := os.ReadFile(filepath.Join(dir, ".aws", "config"))
	if err != nil {
		t.Fatal(err)
	}
	wantConf := fmt.Sprintf("[profile kl]\nrole_arn = %s\nweb_identity_token_file = %s\nrole_session_name = every-sdk\n"+
		"region = us-east-1\nservices = keyless-kl\n\n[services keyless-kl]\nsts =\n  endpoint_url = %s\niam =\n  endpoint_url = %[3]s\n",
		f.role, filepath.Join(dir, ".aws", "keyless-kl.token"), f.srv.URL)
	if string(conf) != wantConf {
		t.Fatalf("config file =\n%s\nwant\n%s", conf, wantConf)
	}
	t.Setenv("AWS_PROFILE", "kl")
	want := regexp.MustCompile(`^arn:aws:sts::` + servertest.Account + `:assumed-role/` + f.roleName + `/every-sdk$`)
	check := func(t *testing.T, arn string) {
		t.Helper()
		if !want.MatchString(strings.TrimSpace(arn)) {
			t.Errorf("caller ARN %q, want %s", arn, want)
		}
	}

	t.Run("aws-sdk-go-v2", func(t *testing.T) {
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		check(t, aws.ToString(out.Arn))
	})
	t.Run("aws CLI", func(t *testing.T) {
		requireTool(t, "aws")
		check(t, runTool(t, "aws", "sts", "get-caller-identity", "--profile", "kl", "--output", "text", "--query", "Arn"))
	})
	t.Run("boto3", func(t *testing.T) {
		requireTool(t, "python3")
		check(t, runTool(t, "python3", "-c", `import boto3
print(boto3.Session(profile_name="kl").client("sts").get_caller_identity()["Arn"])`))
	})
	t.Run("JS SDK v3", func(t *testing.T) {
		mods := jsSDK(t, jsDir)
		for _, provider := range []string{`fromIni({profile: "kl"})`, `fromNodeProviderChain()`} {
			t.Run(strings.TrimSuffix(strings.SplitN(provider, "(", 2)[0], ")"), func(t *testing.T) {
				cmd := exec.Command("node", "-e", `
const {STSClient, GetCallerIdentityCommand} = require("@aws-sdk/client-sts");
const {fromIni, fromNodeProviderChain} = require("@aws-sdk/credential-providers");
new STSClient({credentials: `+provider+`}).send(new GetCallerIdentityCommand({}))
  .then(r => console.log(r.Arn), e => { console.error(e); process.exit(1); });`)
				cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(mods, "node_modules"))
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("node: %v: %s", err, stderrOf(err))
				}
				check(t, string(out))
			})
		}
	})
}

// TestGoSDKWebIdentityEndpoint pins where aws-sdk-go-v2 sends the web
// identity exchange of a profile, which is why keyless writes a services
// section: a profile-level endpoint_url is ignored there (credentials are
// resolved before the base endpoint), and AWS_ENDPOINT_URL without
// AWS_ENDPOINT_URL_STS makes the STS client skip the services section. The
// HTTP client records the host and refuses every call, so nothing leaves
// the machine.
func TestGoSDKWebIdentityEndpoint(t *testing.T) {
	const realSTS = "sts.us-east-1.amazonaws.com"
	tests := []struct {
		name, profile string
		env           map[string]string
		wantHost      string
	}{
		{"profile endpoint_url is ignored", "endpoint_url = http://127.0.0.1:9\n", nil, realSTS},
		{"services section is honoured", "services = k\n[services k]\nsts =\n  endpoint_url = http://127.0.0.1:9\n", nil, "127.0.0.1:9"},
		{"AWS_ENDPOINT_URL hides the services section", "services = k\n[services k]\nsts =\n  endpoint_url = http://127.0.0.1:9\n",
			map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:7"}, realSTS},
		{"AWS_ENDPOINT_URL_STS is honoured", "", map[string]string{"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:8"}, "127.0.0.1:8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			isolateAWSEnv(t, dir)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			tf := filepath.Join(dir, "tok")
			if err := os.WriteFile(tf, []byte("x.y.z"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, ".aws"), 0o700); err != nil {
				t.Fatal(err)
			}
			conf := "[profile p]\nrole_arn = arn:aws:iam::123456789012:role/r\nweb_identity_token_file = " + tf +
				"\nregion = us-east-1\n" + tc.profile
			if err := os.WriteFile(filepath.Join(dir, ".aws", "config"), []byte(conf), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("AWS_PROFILE", "p")
			rec := &hostRecorder{}
			cfg, err := config.LoadDefaultConfig(context.Background(), config.WithHTTPClient(rec))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = cfg.Credentials.Retrieve(context.Background())
			if got := rec.first(); got != tc.wantHost {
				t.Errorf("web identity exchange went to %q, want %q", got, tc.wantHost)
			}
		})
	}
}

type hostRecorder struct {
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) Do(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Host)
	h.mu.Unlock()
	return nil, errors.New("test client: no network")
}

func (h *hostRecorder) first() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.hosts) == 0 {
		return ""
	}
	return h.hosts[0]
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	testkit.External(t, name)
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", name, err, stderrOf(err))
	}
	return string(out)
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// jsSDKDir is where the JS SDK v3 is kept: KEYLESS_JS_SDK_DIR when set,
// else a per-user cache.
func jsSDKDir() string {
	if dir := os.Getenv("KEYLESS_JS_SDK_DIR"); dir != "" {
		return dir
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "keyless", "jsclients")
}

// jsSDK returns dir once its node_modules holds @aws-sdk/client-sts and
// @aws-sdk/credential-providers (v3), installed there with npm on first use.
// It skips only when node or npm is absent; a failed install fails the test.
func jsSDK(t *testing.T, dir string) string {
	t.Helper()
	requireTool(t, "node")
	have := func() bool {
		for _, m := range []string{"client-sts", "credential-providers"} {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", m, "package.json")); err != nil {
				return false
			}
		}
		return true
	}
	if have() {
		return dir
	}
	requireTool(t, "npm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"private":true}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "@aws-sdk/client-sts@3", "@aws-sdk/credential-providers@3")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !have() {
		t.Fatalf("npm install into %s: %v\n%s", dir, err, out)
	}
	return dir
}
