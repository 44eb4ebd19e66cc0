package server_test

// Several replicas on one PostgreSQL act as one service: writes on one are
// enforced by the others by their next store-version poll, tokens and credentials minted by one
// are accepted by all, a SIGKILLed replica loses nothing, and a PostgreSQL
// outage fails fast, keeps cached exchanges working and heals by itself.
// The replicas are the real binary (so one can be SIGKILLed); PostgreSQL is a
// throwaway cluster (pgtest, skipped only when its binaries are absent).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithy "github.com/aws/smithy-go"

	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/store/sqlstore/pgtest"
	"github.com/keylessci/keyless/internal/testkit"
)

// stallCeiling bounds every wait for another replica: only a replica that
// stopped working takes this long. Consistency itself is judged in refresh
// cycles (see byRefresh), so a loaded machine slows the test down but
// cannot fail it.
const stallCeiling = 60 * time.Second

// notAHang bounds a call that must fail fast while the database is down or
// hung (store timeout 1-2 s): far above that timeout, so load cannot trip
// it, and far below the indefinite wait it guards against.
const notAHang = 15 * time.Second

type mnBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *mnBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *mnBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// mnReplica is one `keyless serve` process.
type mnReplica struct {
	name string
	cmd  *exec.Cmd
	url  string
	out  *mnBuffer
	done chan struct{}
}

// startReplica runs `keyless serve` with args and env (besides PATH, HOME
// and the fixed root credentials) and waits until it is healthy.
func startReplica(t *testing.T, name string, args, env []string) *mnReplica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(keylessBinary(t), append([]string{"serve", "--addr", addr, "--account-id", servertest.Account}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"KEYLESS_ROOT_ACCESS_KEY_ID=" + servertest.RootAccessKeyID,
		"KEYLESS_ROOT_SECRET_ACCESS_KEY=" + servertest.RootSecretKey, "KEYLESS_MASTER_KEY=" + servertest.MasterKey}, env...)
	r := &mnReplica{name: name, cmd: cmd, url: "http://" + addr, out: &mnBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-r.done
		if t.Failed() {
			t.Logf("replica %s output:\n%s", name, r.out)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			t.Fatalf("replica %s exited: %s", name, r.out)
		default:
		}
		if mnHealth(r.url) == http.StatusOK {
			return r
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("replica %s never became healthy: %s", name, r.out)
	return nil
}

// mnHealth returns the status of GET /_keyless/health, 0 when unreachable.
func mnHealth(url string) int {
	c := &http.Client{Timeout: stallCeiling}
	resp, err := c.Get(url + "/_keyless/health")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// mnKIDs returns the key ids of the JWKS served at url.
func mnKIDs(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	kids := map[string]bool{}
	for _, k := range set.Keys {
		kids[k.KID] = true
	}
	return kids
}

// within polls check every 20ms until it returns nil or bound passes, and
// returns how long it took and the last error.
func within(bound time.Duration, check func() error) (time.Duration, error) {
	start := time.Now()
	for {
		err := check()
		if err == nil || time.Since(start) > bound {
			return time.Since(start), err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// byRefresh is the consistency bound of a write acknowledged by another
// replica: check must pass once r has completed two store-version polls
// since the call (so one poll began after the write committed), counted
// from r's keyless_background_runs_total. It polls check until then,
// returns how long it took and, when it still fails after those polls, the
// error. The wall-clock ceiling only catches a replica that stopped polling.
func byRefresh(t *testing.T, r *mnReplica, check func() error) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	c0 := refreshes(t, r)
	for {
		err := check()
		if err == nil {
			return time.Since(start), nil
		}
		if refreshes(t, r) >= c0+2 {
			// The polls are done: this check decides.
			err = check()
			return time.Since(start), err
		}
		if time.Since(start) > stallCeiling {
			return time.Since(start), fmt.Errorf("replica %s completed no two store polls in %v: %w", r.name, stallCeiling, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitPolls waits until r has completed n more store-version polls.
func awaitPolls(t *testing.T, r *mnReplica, n int) {
	t.Helper()
	c0 := refreshes(t, r)
	for start := time.Now(); refreshes(t, r) < c0+n; time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > stallCeiling {
			t.Fatalf("replica %s completed no %d store polls in %v", r.name, n, stallCeiling)
		}
	}
}

// refreshes returns how many store-version polls r has completed.
func refreshes(t *testing.T, r *mnReplica) int {
	t.Helper()
	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", r.name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	const series = `keyless_background_runs_total{loop="cache_refresh",result="ok"} `
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics of %s: %q", r.name, line)
			}
			return int(n)
		}
	}
	return 0 // no poll completed yet
}

// apiCode returns the AWS error code of err ("" when err is not one).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

const mnTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Federated":"arn:aws:iam::` + servertest.Account + `:oidc-provider/oidc.circleci.com/org/%[1]s"},
 "Action":"sts:AssumeRoleWithWebIdentity",
 "Condition":{"StringLike":{"oidc.circleci.com/org/%[1]s:sub":"org/%[1]s/project/%[2]s/*"}}}]}`

const mnTrustRoot = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"AWS":"arn:aws:iam::` + servertest.Account + `:root"},"Action":"sts:AssumeRole"}]}`

func TestMultiNodePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary and runs PostgreSQL and two replicas")
	}
	pg := pgtest.StartServer(t)
	dbURL := pg.NewDatabase(t)
	// A takes the store settings as flags, B from the environment.
	a := startReplica(t, "A", []string{"--store", dbURL, "--store-max-conns", "4", "--store-timeout", "2s"}, nil)
	b := startReplica(t, "B", nil, []string{"KEYLESS_STORE=" + dbURL, "KEYLESS_STORE_MAX_CONNS=4", "KEYLESS_STORE_TIMEOUT=2s"})
	ctx := context.Background()
	iamA := iamClient(a.url, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	iamB := iamClient(b.url, servertest.RootAccessKeyID, servertest.RootSecretKey, "")

	// An issuer, its provider and a role, all created on A.
	org, project, other := testkit.UUID(), testkit.UUID(), testkit.UUID()
	keylessCLI(t, a.url, "issuer", "create", "--profile", "circleci", "--org-id", org)
	providerURL := "https://oidc.circleci.com/org/" + org
	if _, err := iamA.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(providerURL), ClientIDList: []string{org}}); err != nil {
		t.Fatalf("create provider on A: %v", err)
	}
	role, err := iamA.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deploy"),
		AssumeRolePolicyDocument: aws.String(fmt.Sprintf(mnTrust, org, project))})
	if err != nil {
		t.Fatalf("create role on A: %v", err)
	}
	roleARN := aws.ToString(role.Role.Arn)
	// A token minted through B (B's admin API, A's issuer).
	token := strings.TrimSpace(keylessCLI(t, b.url, "token", "--org-id", org, "--project-id", project, "--user-id", testkit.UUID()))
	exchange := func(r *mnReplica) (*sts.AssumeRoleWithWebIdentityOutput, error) {
		return anonSTS(r.url).AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
			RoleArn: aws.String(roleARN), RoleSessionName: aws.String("job"), WebIdentityToken: aws.String(token)})
	}

	t.Run("token minted on B is exchanged on A, credentials work on B", func(t *testing.T) {
		out, err := exchange(a)
		if err != nil {
			t.Fatalf("exchange on A: %v", err)
		}
		c := out.Credentials
		id, err := stsClient(b.url, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)).
			GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("GetCallerIdentity on B with A's credentials: %v", err)
		}
		if want := "arn:aws:sts::" + servertest.Account + ":assumed-role/deploy/job"; aws.ToString(id.Arn) != want {
			t.Errorf("caller = %s, want %s", aws.ToString(id.Arn), want)
		}
	})

	t.Run("runner credentials revoked on A are refused by B", func(t *testing.T) {
		var rc struct{ AccessKeyId, SecretAccessKey, SessionToken string }
		if err := json.Unmarshal([]byte(keylessCLI(t, a.url, "issuer", "runner-credentials", org, "--ttl", "1h", "--output", "json")), &rc); err != nil {
			t.Fatal(err)
		}
		runner := &aws.Credentials{AccessKeyID: rc.AccessKeyId, SecretAccessKey: rc.SecretAccessKey, SessionToken: rc.SessionToken}
		mint := `{"project_id":"` + project + `"}`
		if status, body := adminCall(t, b.url, http.MethodPost, "/_keyless/issuers/"+org+"/token", mint, runner); status != 200 {
			t.Fatalf("runner mints on B: %d %v", status, body)
		}
		keylessCLI(t, a.url, "issuer", "revoke-runner-credentials", org, "--all")
		if _, err := byRefresh(t, b, func() error {
			if status, body := adminCall(t, b.url, http.MethodPost, "/_keyless/issuers/"+org+"/token", mint, runner); status != 403 {
				return fmt.Errorf("B still honours revoked runner credentials: %d %v", status, body)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	})

	t.Run("key rotation on A is in B's JWKS", func(t *testing.T) {
		jwks := "/_keyless/issuers/" + org + "/.well-known/jwks.json"
		before := mnKIDs(t, b.url+jwks)
		keylessCLI(t, a.url, "issuer", "rotate", org)
		fromA := mnKIDs(t, a.url+jwks)
		var fresh []string
		for kid := range fromA {
			if !before[kid] {
				fresh = append(fresh, kid)
			}
		}
		if len(fresh) != 1 {
			t.Fatalf("A's JWKS after rotation %v, before %v: want one new key", fromA, before)
		}
		// Hosted issuers' public keys are cached for 1 s of wall time, not
		// per poll: a generous bound, and the time it took in the log.
		took, err := within(stallCeiling, func() error {
			if !mnKIDs(t, b.url+jwks)[fresh[0]] {
				return fmt.Errorf("B's JWKS lacks the rotated key %s", fresh[0])
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		t.Logf("B served the rotated key %v after A's rotation", took)
	})

	t.Run("trust policy change on A is enforced by B", func(t *testing.T) {
		if _, err := exchange(b); err != nil { // B has the role cached now
			t.Fatalf("exchange on B: %v", err)
		}
		if _, err := iamA.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("deploy"),
			PolicyDocument: aws.String(fmt.Sprintf(mnTrust, org, other))}); err != nil {
			t.Fatal(err)
		}
		took, err := byRefresh(t, b, func() error {
			_, err := exchange(b)
			if apiCode(err) == "AccessDenied" {
				return nil
			}
			return fmt.Errorf("exchange on B after the trust change on A: %v, want AccessDenied", err)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("B denied %v after A's UpdateAssumeRolePolicy", took)
		if _, err := iamA.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("deploy"),
			PolicyDocument: aws.String(fmt.Sprintf(mnTrust, org, project))}); err != nil {
			t.Fatal(err)
		}
		if _, err := byRefresh(t, b, func() error { _, err := exchange(b); return err }); err != nil {
			t.Fatalf("B still denies after the trust policy was restored on A: %v", err)
		}
	})

	t.Run("provider deleted on A is refused by B", func(t *testing.T) {
		if _, err := exchange(b); err != nil {
			t.Fatalf("exchange on B: %v", err)
		}
		arn := "arn:aws:iam::" + servertest.Account + ":oidc-provider/oidc.circleci.com/org/" + org
		if _, err := iamA.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
		took, err := byRefresh(t, b, func() error {
			_, err := exchange(b)
			if apiCode(err) == "InvalidIdentityToken" {
				return nil
			}
			return fmt.Errorf("exchange on B after the provider was deleted on A: %v, want InvalidIdentityToken", err)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("B refused %v after A's DeleteOpenIDConnectProvider", took)
		if _, err := iamA.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
			Url: aws.String(providerURL), ClientIDList: []string{org}}); err != nil {
			t.Fatal(err)
		}
		if _, err := byRefresh(t, b, func() error { _, err := exchange(b); return err }); err != nil {
			t.Fatalf("B still refuses after the provider was recreated on A: %v", err)
		}
	})

	t.Run("concurrent CreateRole of one name on A and B", func(t *testing.T) {
		for i := range 5 {
			name := fmt.Sprintf("race-%d", i)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for j, cl := range []*iam.Client{iamA, iamB} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[j] = cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name),
						AssumeRolePolicyDocument: aws.String(fmt.Sprintf(mnTrust, org, project))})
				}()
			}
			close(start)
			wg.Wait()
			ok, dup := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case apiCode(err) == "EntityAlreadyExists":
					dup++
				default:
					t.Errorf("%s: unexpected error %v", name, err)
				}
			}
			if ok != 1 || dup != 1 {
				t.Errorf("%s: %d succeeded, %d EntityAlreadyExists (A: %v, B: %v); want exactly one of each", name, ok, dup, errs[0], errs[1])
			}
		}
	})

	t.Run("A is SIGKILLed and B keeps serving", func(t *testing.T) {
		if _, err := iamA.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("acked-by-a"),
			AssumeRolePolicyDocument: aws.String(fmt.Sprintf(mnTrust, org, project))}); err != nil {
			t.Fatal(err)
		}
		if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-a.done
		if _, err := iamB.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("acked-by-a")}); err != nil {
			t.Errorf("role acknowledged by A before SIGKILL, on B: %v", err)
		}
		if _, err := exchange(b); err != nil {
			t.Errorf("exchange on B after A was killed: %v", err)
		}
		if _, err := iamB.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("after-kill"),
			AssumeRolePolicyDocument: aws.String(fmt.Sprintf(mnTrust, org, project))}); err != nil {
			t.Errorf("IAM write on B after A was killed: %v", err)
		}
	})

	t.Run("PostgreSQL down: fast failure, cached exchange, health 503; back: recovery", func(t *testing.T) {
		// Warm B's caches after its last write has been seen by its
		// version poll: two completed polls, one begun after that write.
		awaitPolls(t, b, 2)
		if _, err := exchange(b); err != nil {
			t.Fatalf("exchange on B: %v", err)
		}
		pg.Stop()
		restarted := false
		defer func() {
			if !restarted {
				pg.Start()
			}
		}()

		start := time.Now()
		_, err := iamB.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("during-outage"),
			AssumeRolePolicyDocument: aws.String(fmt.Sprintf(mnTrust, org, project))})
		took := time.Since(start)
		if code := apiCode(err); code != "ServiceUnavailable" && code != "ServiceFailure" {
			t.Errorf("CreateRole with PostgreSQL down: %v, want ServiceUnavailable or ServiceFailure", err)
		}
		if s := httpStatus(err); s != http.StatusServiceUnavailable && s != http.StatusInternalServerError {
			t.Errorf("CreateRole with PostgreSQL down: HTTP %d", s)
		}
		if took >= notAHang {
			t.Errorf("CreateRole with PostgreSQL down took %v, want a fast failure (< %v)", took, notAHang)
		}
		start = time.Now()
		_, err = iamB.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("deploy")})
		if took := time.Since(start); apiCode(err) != "ServiceUnavailable" || took >= notAHang {
			t.Errorf("GetRole with PostgreSQL down: %v after %v, want ServiceUnavailable within %v", err, took, notAHang)
		}
		// Past the issuer key cache's freshness (1s): the stale answer stands in.
		time.Sleep(1500 * time.Millisecond)
		out, err := exchange(b)
		if err != nil {
			t.Errorf("exchange for a cached role with PostgreSQL down: %v", err)
		} else {
			c := out.Credentials
			if _, err := stsClient(b.url, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)).
				GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
				t.Errorf("GetCallerIdentity with PostgreSQL down: %v", err)
			}
		}
		start = time.Now()
		if s := mnHealth(b.url); s != http.StatusServiceUnavailable {
			t.Errorf("health with PostgreSQL down: %d, want 503", s)
		}
		if took := time.Since(start); took >= notAHang {
			t.Errorf("health with PostgreSQL down took %v", took)
		}

		pg.Start()
		restarted = true
		const recovery = stallCeiling
		took, err = within(recovery, func() error {
			if s := mnHealth(b.url); s != http.StatusOK {
				return fmt.Errorf("health %d", s)
			}
			_, err := iamB.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("after-outage"),
				AssumeRolePolicyDocument: aws.String(fmt.Sprintf(mnTrust, org, project))})
			return err
		})
		if err != nil {
			t.Fatalf("B did not recover within %v of PostgreSQL's restart: %v", recovery, err)
		}
		t.Logf("B recovered %v after PostgreSQL restarted", took)
		if _, err := exchange(b); err != nil {
			t.Errorf("exchange after recovery: %v", err)
		}
	})
}

// TestMultiNodeGeneratedRootCredentials starts two replicas at once on an
// empty PostgreSQL with no root credentials and no data dir: one generates
// them (first writer wins), both serve the same account with them, and a
// replica given other root credentials refuses to start.
func TestMultiNodeGeneratedRootCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs PostgreSQL")
	}
	dbURL := pgtest.StartServer(t).NewDatabase(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type replica struct {
		srv *server.Server
		out *mnBuffer
		url string
		err error
	}
	reps := make([]*replica, 2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range reps {
		reps[i] = &replica{out: &mnBuffer{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := reps[i]
			r.srv, r.err = server.New(ctx, server.Config{StoreURL: dbURL, Account: servertest.Account, MasterKey: testMasterKey(t),
				Stdout: r.out, CacheCheck: 100 * time.Millisecond})
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range reps {
		if r.err != nil {
			t.Fatalf("replica %d: %v", i, r.err)
		}
		t.Cleanup(func() { r.srv.Close() })
	}
	if reps[0].srv.RootAccessKeyID != reps[1].srv.RootAccessKeyID {
		t.Fatalf("root access key ids differ: %s, %s", reps[0].srv.RootAccessKeyID, reps[1].srv.RootAccessKeyID)
	}
	var secret string
	generated := 0
	for _, r := range reps {
		out := r.out.String()
		if !strings.Contains(out, "generated root credentials (kept in the store only)") {
			if !strings.Contains(out, "using the root credentials stored by the first replica (AWS_ACCESS_KEY_ID="+r.srv.RootAccessKeyID) {
				t.Errorf("replica printed %q", out)
			}
			continue
		}
		generated++
		_, rest, _ := strings.Cut(out, "AWS_SECRET_ACCESS_KEY=")
		secret = strings.TrimSpace(rest)
	}
	if generated != 1 || secret == "" {
		t.Fatalf("%d replicas generated root credentials, want exactly 1", generated)
	}
	for _, r := range reps {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.url = "http://" + ln.Addr().String()
		done := make(chan error, 1)
		go func() { done <- r.srv.Run(ctx, ln) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	id := reps[0].srv.RootAccessKeyID
	if _, err := iamClient(reps[0].url, id, secret, "").CreateRole(context.Background(), &iam.CreateRoleInput{
		RoleName: aws.String("shared"), AssumeRolePolicyDocument: aws.String(mnTrustRoot)}); err != nil {
		t.Fatalf("CreateRole on the first replica with the generated credentials: %v", err)
	}
	for i, r := range reps {
		got, err := stsClient(r.url, id, secret, "").GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("replica %d: GetCallerIdentity with the generated credentials: %v", i, err)
		}
		if aws.ToString(got.Account) != servertest.Account {
			t.Errorf("replica %d: account %s", i, aws.ToString(got.Account))
		}
	}
	if _, err := iamClient(reps[1].url, id, secret, "").GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String("shared")}); err != nil {
		t.Errorf("role created on one replica, GetRole on the other: %v", err)
	}

	// A third replica with other root credentials cannot open the keys
	// sealed under the stored ones: it must not start as a different service.
	_, err := server.New(context.Background(), server.Config{StoreURL: dbURL, Account: servertest.Account, MasterKey: testMasterKey(t),
		RootAccessKeyID: servertest.RootAccessKeyID, RootSecretKey: servertest.RootSecretKey})
	if err == nil || !strings.Contains(err.Error(), "root credentials") {
		t.Errorf("replica with other root credentials: err %v, want a refusal naming the root credentials", err)
	}
}

// mnProxy forwards TCP to target until it is hung: then every byte in
// either direction is held back, as with a database that stopped
// answering (not one that refuses connections).
type mnProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	hung   bool
	wake   chan struct{} // closed when unhung
}

func newMNProxy(t *testing.T, target string) *mnProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &mnProxy{ln: ln, target: target, wake: make(chan struct{})}
	t.Cleanup(func() { ln.Close(); p.setHung(false) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *mnProxy) setHung(h bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h == p.hung {
		return
	}
	p.hung = h
	if h {
		p.wake = make(chan struct{})
	} else {
		close(p.wake)
	}
}

// gate blocks while the proxy is hung.
func (p *mnProxy) gate() {
	p.mu.Lock()
	hung, wake := p.hung, p.wake
	p.mu.Unlock()
	if hung {
		<-wake
	}
}

func (p *mnProxy) serve(c net.Conn) {
	defer c.Close()
	p.gate()
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer u.Close()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.gate()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		c.Close()
		u.Close()
	}
	go pipe(u, c)
	pipe(c, u)
}

// TestMultiNodeHungDatabase: a PostgreSQL that stops answering (no refusal,
// no reset) makes store calls fail with ServiceUnavailable after the
// configured store timeout instead of hanging, health answers 503, and the
// replica recovers by itself when the database answers again.
func TestMultiNodeHungDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs PostgreSQL")
	}
	pg := pgtest.StartServer(t)
	dbURL := pg.NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newMNProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	proxied := u.String()
	const storeTimeout = time.Second
	srv := servertest.Start(t, func(c *server.Config) {
		c.StoreURL, c.StoreTimeout, c.StoreMaxConns = proxied, storeTimeout, 2
		c.MasterKey = testMasterKey(t)
	})
	ctx := context.Background()
	cl := iamClient(srv.URL, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	create := func(name string) (time.Duration, error) {
		start := time.Now()
		_, err := cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(mnTrustRoot)})
		return time.Since(start), err
	}
	if _, err := create("before"); err != nil {
		t.Fatal(err)
	}

	proxy.setHung(true)
	for _, name := range []string{"hung-1", "hung-2", "hung-3"} { // more calls than pooled connections
		took, err := create(name)
		if apiCode(err) != "ServiceUnavailable" || httpStatus(err) != http.StatusServiceUnavailable {
			t.Errorf("CreateRole %s with the database hung: %v, want ServiceUnavailable 503", name, err)
		}
		// The store timeout, plus pgx's cancellation grace, not a hang.
		t.Logf("CreateRole %s failed after %v", name, took)
		if took >= notAHang {
			t.Errorf("CreateRole %s with the database hung took %v (store timeout %v)", name, took, storeTimeout)
		}
	}
	if s := mnHealth(srv.URL); s != http.StatusServiceUnavailable {
		t.Errorf("health with the database hung: %d, want 503", s)
	}

	proxy.setHung(false)
	took, err := within(stallCeiling, func() error {
		if s := mnHealth(srv.URL); s != http.StatusOK {
			return fmt.Errorf("health %d", s)
		}
		_, err := create("after")
		return err
	})
	if err != nil {
		t.Fatalf("no recovery after the database answered again: %v", err)
	}
	t.Logf("recovered %v after the database answered again", took)
	if _, err := cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("before")}); err != nil {
		t.Errorf("GetRole after recovery: %v", err)
	}
}

// testMasterKey is servertest.MasterKey decoded.
func testMasterKey(t testing.TB) []byte {
	t.Helper()
	k, err := server.ParseMasterKey(servertest.MasterKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
