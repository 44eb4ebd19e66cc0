package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/testkit"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"keyless": func() {
			os.Exit(Main(context.Background(), Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}, os.Args[1:]))
		},
	})
}

// TestScript runs the txtar scripts of testdata/script against one
// in-process server; each script gets its own CircleCI organization, issuer,
// provider and roles, a fault-injecting proxy and a fake GitHub token
// endpoint.
func TestScript(t *testing.T) {
	srv := servertest.Start(t)
	bin := &keylessBin{path: filepath.Join(t.TempDir(), "keyless")}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *updateGolden,
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			return setupScript(e, srv)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"faults":      cmdFaults,
			"stscalls":    cmdSTSCalls,
			"nosecrets":   cmdNoSecrets,
			"keyless-bin": bin.cmd,
		},
	})
}

const scriptTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Federated":"arn:aws:iam::%s:oidc-provider/%s"},"Action":"sts:AssumeRoleWithWebIdentity",
 "Condition":{"StringEquals":{"%[2]s:aud":"%s"},"StringLike":{"%[2]s:sub":"org/%[3]s/project/%s/*"}}}]}`

const chainTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"AWS":"%s"},"Action":"sts:AssumeRole"}]}`

func setupScript(e *testscript.Env, srv *servertest.Server) error {
	ctx := context.Background()
	org, proj, other, user := testkit.UUID(), testkit.UUID(), testkit.UUID(), testkit.UUID()
	if _, err := srv.Issuers().Create(ctx, issuer.CreateRequest{Profile: "circleci", OrgID: org}); err != nil {
		return fmt.Errorf("create issuer: %w", err)
	}
	ic := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(servertest.RootAccessKeyID, servertest.RootSecretKey, "")})
	provURL := "oidc.circleci.com/org/" + org
	short := org[:8]
	var roleARN, chainARN string
	if _, err := ic.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://" + provURL), ClientIDList: []string{org}}); err != nil {
		return fmt.Errorf("create provider: %w", err)
	}
	for _, r := range []struct {
		name, trust string
		arn         *string
	}{
		{"deploy-" + short, fmt.Sprintf(scriptTrust, servertest.Account, provURL, org, proj), &roleARN},
		{"chained-" + short, "", &chainARN},
	} {
		trust := r.trust
		if trust == "" {
			trust = fmt.Sprintf(chainTrust, roleARN)
		}
		out, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(r.name), AssumeRolePolicyDocument: aws.String(trust)})
		if err != nil {
			return fmt.Errorf("create role %s: %w", r.name, err)
		}
		*r.arn = aws.ToString(out.Role.Arn)
	}
	pol, err := ic.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("ci-read-" + short),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)})
	if err != nil {
		return fmt.Errorf("create policy: %w", err)
	}
	mint := func(project string) (string, error) {
		return srv.Issuers().Mint(ctx, org, issuer.MintRequest{Params: ciclaims.Params{
			ProjectID: project, UserID: user, V2: true, VCSOrigin: "github.com/acme/app", VCSRef: "refs/heads/main"}})
	}
	tok, err := mint(proj)
	if err != nil {
		return err
	}
	otherTok, err := mint(other)
	if err != nil {
		return err
	}
	fp := newFaultProxy(srv.URL)
	e.Defer(fp.Close)
	e.Values["proxy"] = fp
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gh-request-token" {
			http.Error(w, "bad bearer", http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get("audience") != "sts.amazonaws.com" {
			http.Error(w, "unexpected audience", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"value": tok})
	}))
	e.Defer(gh.Close)
	pyenv := os.Getenv("PYENV_ROOT")
	if pyenv == "" {
		pyenv = filepath.Join(os.Getenv("HOME"), ".pyenv")
	}
	for k, v := range map[string]string{
		"URL": srv.URL, "FAULTY": fp.URL, "GH_TOKEN_URL": gh.URL + "/token",
		"ACCOUNT": servertest.Account, "ORG": org, "PROJ": proj, "OTHER": other, "USER_ID": user,
		"ROLE": roleARN, "CHAIN_ROLE": chainARN, "ROLE_NAME": "deploy-" + short, "POLICY_ARN": aws.ToString(pol.Policy.Arn),
		"TOKEN": tok, "OTHER_TOKEN": otherTok,
		"KEYLESS_ROOT_ACCESS_KEY_ID": servertest.RootAccessKeyID, "KEYLESS_ROOT_SECRET_ACCESS_KEY": servertest.RootSecretKey,
		"ROOT_KEY": servertest.RootAccessKeyID, "ROOT_SECRET": servertest.RootSecretKey,
		"AWS_CONFIG_FILE": filepath.Join(e.WorkDir, ".aws", "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(e.WorkDir, ".aws", "credentials"),
		"PYENV_ROOT": pyenv, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		e.Setenv(k, v)
	}
	return nil
}

// faultProxy forwards to the server but fails the next N STS exchange
// calls with a chosen error, and counts the exchange calls it saw.
type faultProxy struct {
	*httptest.Server
	mu    sync.Mutex
	left  int
	kind  string
	calls atomic.Int64
}

func newFaultProxy(target string) *faultProxy {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	fp := &faultProxy{}
	fp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte("Action=AssumeRoleWithWebIdentity")) {
			fp.calls.Add(1)
			fp.mu.Lock()
			fail := fp.left > 0
			if fail {
				fp.left--
			}
			kind := fp.kind
			fp.mu.Unlock()
			if fail {
				writeFault(w, kind)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	return fp
}

func writeFault(w http.ResponseWriter, kind string) {
	status, code, msg := http.StatusBadRequest, "IDPCommunicationError", "The identity provider could not be reached."
	switch kind {
	case "503":
		status, code, msg = http.StatusServiceUnavailable, "ServiceUnavailable", "Service unavailable"
	case "key":
		code, msg = "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
	case "throttle":
		code, msg = "Throttling", "Rate exceeded"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fault</RequestId></ErrorResponse>`, code, msg)
}

// faults N idp|503|key|throttle: fail the next N exchange calls.
func cmdFaults(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: faults N idp|503|key|throttle")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	fp := ts.Value("proxy").(*faultProxy)
	fp.mu.Lock()
	fp.left, fp.kind = n, args[1]
	fp.mu.Unlock()
	fp.calls.Store(0)
}

// stscalls N: the proxy saw exactly N exchange calls since the last faults.
func cmdSTSCalls(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: stscalls N")
	}
	got := ts.Value("proxy").(*faultProxy).calls.Load()
	if (strconv.FormatInt(got, 10) == args[0]) == neg {
		ts.Fatalf("proxy saw %d exchange calls, want %s%s", got, map[bool]string{true: "not ", false: ""}[neg], args[0])
	}
}

// nosecrets CREDS.json FILE...: none of the secrets in CREDS.json (json
// output of assume) occur in the files.
func cmdNoSecrets(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: nosecrets creds.json file...")
	}
	var c struct{ SecretAccessKey, SessionToken string }
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[0])), &c))
	if c.SecretAccessKey == "" || c.SessionToken == "" {
		ts.Fatalf("%s has no secrets", args[0])
	}
	for _, f := range args[1:] {
		data := ts.ReadFile(f)
		if strings.Contains(data, c.SecretAccessKey) || strings.Contains(data, c.SessionToken) {
			ts.Fatalf("%s contains a secret", f)
		}
	}
}

// keylessBin is the binary built for one TestScript run. It lives in that
// run's temporary directory, so each run (go test -count=N) builds its own.
type keylessBin struct {
	once sync.Once
	path string
	err  error
}

// keyless-bin: build ./cmd/keyless once per test run and set KEYLESS_BIN.
func (b *keylessBin) cmd(ts *testscript.TestScript, neg bool, args []string) {
	b.once.Do(func() {
		out, err := exec.Command("go", "build", "-o", b.path, "github.com/keylessci/keyless/cmd/keyless").CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	ts.Check(b.err)
	ts.Setenv("KEYLESS_BIN", b.path)
}
