package server_test

// Storage faults through the real binary: SIGKILL during a burst of IAM
// writes loses nothing that was acknowledged, and a read-only data dir
// answers writes with ServiceUnavailable while reads keep working.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
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

	"github.com/keylessci/keyless/internal/server/servertest"
)

const trustAnyone = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// keylessBinary builds cmd/keyless once per test process into a directory
// any user may read, so it can also run as an unprivileged user.
func keylessBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: building and running the keyless binary is skipped")
	}
	binOnce.Do(func() {
		if _, err := exec.LookPath("go"); err != nil {
			binErr = fmt.Errorf("go is not in PATH: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "keyless-bin-")
		if err != nil {
			binErr = err
			return
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "keyless")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/keylessci/keyless/cmd/keyless").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// binProc is a running keyless binary.
type binProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	done   chan struct{}
}

func loopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startBinary runs `keyless serve` on dataDir (as cred's user when not
// nil) and waits until it is healthy.
func startBinary(t *testing.T, dataDir string, cred *syscall.Credential) *binProc {
	t.Helper()
	addr := loopbackAddr(t)
	cmd := exec.Command(keylessBinary(t), "serve", "--addr", addr, "--data-dir", dataDir, "--account-id", servertest.Account)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dataDir,
		"KEYLESS_ROOT_ACCESS_KEY_ID=" + servertest.RootAccessKeyID, "KEYLESS_ROOT_SECRET_ACCESS_KEY=" + servertest.RootSecretKey}
	p := &binProc{cmd: cmd, url: "http://" + addr, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("keyless serve exited: %s", p.stderr)
		default:
		}
		if resp, err := http.Get(p.url + "/_keyless/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("keyless serve never became healthy: %s", p.stderr)
	return nil
}

func (p *binProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *binProc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("keyless serve did not stop on SIGTERM: %s", p.stderr)
	}
}

func allRoles(ctx context.Context, cl *iam.Client) (map[string]bool, error) {
	got := map[string]bool{}
	p := iam.NewListRolesPaginator(cl, &iam.ListRolesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Roles {
			got[aws.ToString(r.RoleName)] = true
		}
	}
	return got, nil
}

// TestHardeningKillDuringWrites SIGKILLs the server while four clients
// create roles as fast as it acknowledges them, restarts it on the same
// data dir, and finds every acknowledged role.
func TestHardeningKillDuringWrites(t *testing.T) {
	dataDir := t.TempDir()
	p := startBinary(t, dataDir, nil)
	ctx := context.Background()
	cl := iamClient(p.url, servertest.RootAccessKeyID, servertest.RootSecretKey, "")

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				name := fmt.Sprintf("burst-%d-%d", w, i)
				_, err := cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trustAnyone)})
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked = append(acked, name)
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	wg.Wait()
	if len(acked) == 0 {
		t.Fatalf("no write was acknowledged before the kill: %s", p.stderr)
	}
	t.Logf("%d writes acknowledged before SIGKILL", len(acked))

	p2 := startBinary(t, dataDir, nil)
	cl2 := iamClient(p2.url, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	got, err := allRoles(ctx, cl2)
	if err != nil {
		t.Fatalf("list roles after restart: %v", err)
	}
	for _, name := range acked {
		if !got[name] {
			t.Errorf("acknowledged role %s is gone after SIGKILL and restart", name)
		}
	}
	if _, err := cl2.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("after-restart"), AssumeRolePolicyDocument: aws.String(trustAnyone)}); err != nil {
		t.Errorf("write after restart: %v", err)
	}
	if _, err := stsClient(p2.url, servertest.RootAccessKeyID, servertest.RootSecretKey, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("GetCallerIdentity after restart: %v", err)
	}
}

// TestHardeningReadOnlyDataDir makes the database file and the data dir
// read-only between two runs: the server starts, serves reads, and answers
// writes with ServiceUnavailable (503), not a 500. Root ignores file
// permissions, so as root the server runs as the unprivileged user nobody.
func TestHardeningReadOnlyDataDir(t *testing.T) {
	var cred *syscall.Credential
	parent := t.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Skipf("running as root and no unprivileged user 'nobody' to run the server as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		parent, err = os.MkdirTemp("", "keyless-ro-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(parent) })
		if err := os.Chmod(parent, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dataDir := filepath.Join(parent, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := os.Chown(dataDir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Chmod(dataDir, 0o700) })
	ctx := context.Background()

	p := startBinary(t, dataDir, cred)
	cl := iamClient(p.url, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	if _, err := cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("before"), AssumeRolePolicyDocument: aws.String(trustAnyone)}); err != nil {
		t.Fatal(err)
	}
	p.stop(t)
	entries, _ := os.ReadDir(dataDir)
	for _, e := range entries {
		if err := os.Chmod(filepath.Join(dataDir, e.Name()), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dataDir, 0o555); err != nil {
		t.Fatal(err)
	}

	p = startBinary(t, dataDir, cred)
	cl = iamClient(p.url, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	if _, err := cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("before")}); err != nil {
		t.Errorf("GetRole on a read-only data dir: %v", err)
	}
	if got, err := allRoles(ctx, cl); err != nil || !got["before"] {
		t.Errorf("ListRoles on a read-only data dir: %v, %v", got, err)
	}
	if _, err := stsClient(p.url, servertest.RootAccessKeyID, servertest.RootSecretKey, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("GetCallerIdentity on a read-only data dir: %v", err)
	}
	_, err := cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("after"), AssumeRolePolicyDocument: aws.String(trustAnyone)})
	var ae smithy.APIError
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" || !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
		t.Fatalf("CreateRole on a read-only data dir: %v, want ServiceUnavailable 503", err)
	}
	resp, err := http.Get(p.url + "/_keyless/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("health on a read-only data dir: %d", resp.StatusCode)
	}
	// The log says why once: the AWS error, then the store's cause.
	p.stop(t)
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(line, `"action":"CreateRole"`) && strings.Count(line, "ServiceUnavailable:") != 1 {
			t.Errorf("the failed write is logged with a doubled message: %s", line)
		}
	}
}

// TestHardeningFullDisk runs the server on a small tmpfs, fills it, and
// writes until the store runs out of space: the write fails with
// ServiceUnavailable (503), never a 500; reads keep working; once space is
// freed, writes succeed again. It needs to mount a tmpfs (root with
// CAP_SYS_ADMIN) and skips otherwise.
func TestHardeningFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir, err := os.MkdirTemp("", "keyless-full-")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dir).CombinedOutput(); err != nil {
		os.Remove(dir)
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
		os.Remove(dir)
	})
	ctx := context.Background()
	p := startBinary(t, filepath.Join(dir, "data"), nil) // its cleanup kills it before the umount (last in, first out)
	cl := iamClient(p.url, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	if _, err := cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("before"), AssumeRolePolicyDocument: aws.String(trustAnyone)}); err != nil {
		t.Fatal(err)
	}

	filler := filepath.Join(dir, "filler")
	fill, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := fill.Write(chunk); err != nil {
			break // ENOSPC
		}
	}
	fill.Close()

	desc := aws.String(strings.Repeat("d", 1000))
	var werr error
	for i := 0; i < 2000 && werr == nil; i++ {
		_, werr = cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(fmt.Sprintf("fill-%d", i)),
			AssumeRolePolicyDocument: aws.String(trustAnyone), Description: desc})
	}
	var ae smithy.APIError
	var re interface{ HTTPStatusCode() int }
	if !errors.As(werr, &ae) || ae.ErrorCode() != "ServiceUnavailable" || !errors.As(werr, &re) || re.HTTPStatusCode() != 503 {
		t.Fatalf("writes on a full disk: %v, want ServiceUnavailable 503", werr)
	}
	if _, err := cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("before")}); err != nil {
		t.Errorf("GetRole on a full disk: %v", err)
	}
	if _, err := stsClient(p.url, servertest.RootAccessKeyID, servertest.RootSecretKey, "").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("GetCallerIdentity on a full disk: %v", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("after"), AssumeRolePolicyDocument: aws.String(trustAnyone)}); err != nil {
		t.Errorf("write after space was freed: %v", err)
	}
}
