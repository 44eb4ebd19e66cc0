package server_test

// Security round 2, item 2: a copy of the store alone yields no secret and
// mints nothing; the master key that unseals it lives outside the store.
// And a data dir of the previous version (main at 822ab08, which kept
// generated root credentials in plain JSON in the store) upgrades in place.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/store/sqlstore"
)

// generatedRoot makes a test server generate its root credentials, as
// `keyless serve` does when KEYLESS_ROOT_* are unset (the README default).
func generatedRoot(c *server.Config) { c.RootAccessKeyID, c.RootSecretKey = "", "" }

// readRootFile returns the key id and secret of DataDir/root-credentials.
func readRootFile(t *testing.T, dir string) (id, secret string) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "root-credentials"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " = ")
		switch {
		case ok && k == "aws_access_key_id":
			id = v
		case ok && k == "aws_secret_access_key":
			secret = v
		}
	}
	if id == "" || secret == "" {
		t.Fatalf("no credentials in %s/root-credentials", dir)
	}
	return id, secret
}

// wantMode asserts the permission bits of path.
func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", filepath.Base(path), got, want)
	}
}

// copyStore copies the SQLite database files (as a backup would: the
// database and its WAL, never master.key) from dir to a new directory.
func copyStore(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	for _, name := range []string{"keyless.db", "keyless.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) && name != "keyless.db" {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// storeBytes is everything a copy of the SQLite store holds on disk.
func storeBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	for _, name := range []string{"keyless.db", "keyless.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func TestStoreCopyYieldsNoSecret(t *testing.T) {
	srv := servertest.Start(t, generatedRoot)
	id, secret := readRootFile(t, srv.DataDir)
	ctx := context.Background()
	const org = "6d3f1a2e-0000-4000-8000-0000000000c1"
	if _, err := srv.Issuers().Create(ctx, issuer.CreateRequest{Profile: "circleci", OrgID: org}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Issuers().Mint(ctx, org, issuer.MintRequest{Params: ciclaims.Params{ProjectID: "p"}}); err != nil {
		t.Fatalf("the running server cannot mint: %v", err)
	}

	t.Run("files are owner-only", func(t *testing.T) {
		wantMode(t, srv.DataDir, 0o700)
		wantMode(t, filepath.Join(srv.DataDir, "keyless.db"), 0o600)
		wantMode(t, filepath.Join(srv.DataDir, "master.key"), 0o600)
		if _, err := os.Stat(filepath.Join(srv.DataDir, "keyless.db-wal")); err == nil {
			wantMode(t, filepath.Join(srv.DataDir, "keyless.db-wal"), 0o600)
		}
	})

	cp := copyStore(t, srv.DataDir)
	t.Run("the copy does not hold the root secret", func(t *testing.T) {
		if raw := storeBytes(t, cp); bytes.Contains(raw, []byte(secret)) {
			t.Fatal("the root secret access key is readable in the database files")
		}
		st, err := sqlstore.Open(ctx, sqlstore.Config{URL: filepath.Join(cp, "keyless.db")})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if v, err := st.GetSecret(ctx, "root-credentials"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("plain root credentials in the store: %q %v", v, err)
		}
	})
	t.Run("a server on the copy alone does not start", func(t *testing.T) {
		// No master key beside the copy: whatever key the server makes up
		// opens nothing, so there is no server to mint with.
		for name, cfg := range map[string]server.Config{
			"generated root":  {DataDir: cp, Account: servertest.Account, Stdout: io.Discard},
			"guessed root":    {DataDir: cp, Account: servertest.Account, Stdout: io.Discard, RootAccessKeyID: id, RootSecretKey: strings.Repeat("g", 40)},
			"other master":    {DataDir: cp, Account: servertest.Account, Stdout: io.Discard, MasterKey: testMasterKey(t)},
			"root, no master": {DataDir: cp, Account: servertest.Account, Stdout: io.Discard, RootAccessKeyID: id, RootSecretKey: secret},
		} {
			_ = os.Remove(filepath.Join(cp, "master.key"))
			s, err := server.New(ctx, cfg)
			if err == nil {
				s.Close()
				t.Fatalf("%s: a server started on a copy of the store without its master key", name)
			}
			if !strings.Contains(err.Error(), "master key") && !strings.Contains(err.Error(), "root credentials") {
				t.Errorf("%s: err = %v, want a refusal naming the master key", name, err)
			}
		}
	})
}

// TestStoreCopyWithMasterKeyRestores restores a copy of the store together
// with its master key, as docs/deploy.md says: the new server opens the
// sealed secrets, keeps the root credentials and mints with the issuer.
func TestStoreCopyWithMasterKeyRestores(t *testing.T) {
	srv := servertest.Start(t, generatedRoot)
	id, _ := readRootFile(t, srv.DataDir)
	ctx := context.Background()
	const org = "6d3f1a2e-0000-4000-8000-0000000000c3"
	if _, err := srv.Issuers().Create(ctx, issuer.CreateRequest{Profile: "circleci", OrgID: org}); err != nil {
		t.Fatal(err)
	}
	cp := copyStore(t, srv.DataDir)
	key, err := os.ReadFile(filepath.Join(srv.DataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cp, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	restored := servertest.Start(t, generatedRoot, func(c *server.Config) { c.DataDir = cp })
	if restored.RootAccessKeyID != id {
		t.Fatalf("restored root access key id %s, want %s", restored.RootAccessKeyID, id)
	}
	if _, err := restored.Issuers().Mint(ctx, org, issuer.MintRequest{Params: ciclaims.Params{ProjectID: "p"}}); err != nil {
		t.Fatalf("mint on the restored copy: %v", err)
	}
}

// oldCommit is main before the master key: its data dirs hold generated
// root credentials in plain JSON and keys sealed under a root-derived key.
const oldCommit = "822ab08"

// oldKeylessBinary builds cmd/keyless as of oldCommit from this repository.
func oldKeylessBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: building the previous version is skipped")
	}
	for _, tool := range []string{"git", "go", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: cannot build the previous version", tool)
		}
	}
	if err := exec.Command("git", "cat-file", "-e", oldCommit+"^{commit}").Run(); err != nil {
		t.Skipf("commit %s is not in this checkout (shallow clone?): cannot build the previous version", oldCommit)
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git checkout: cannot build the previous version: %v", err)
	}
	src := t.TempDir()
	archive := exec.Command("sh", "-c", fmt.Sprintf("git archive %s | tar -x -C %q", oldCommit, src))
	archive.Dir = strings.TrimSpace(string(top))
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive: %v\n%s", err, out)
	}
	bin := filepath.Join(t.TempDir(), "keyless-old")
	build := exec.Command("go", "build", "-o", bin, "./cmd/keyless")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", oldCommit, err, out)
	}
	return bin
}

func TestUpgradeDataDirFromPreviousVersion(t *testing.T) {
	old := oldKeylessBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	const org = "6d3f1a2e-0000-4000-8000-0000000000c2"

	// 1. The previous version: generated root credentials, a hosted issuer,
	// its provider and a role.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	serve := exec.Command(old, "serve", "--addr", addr, "--data-dir", dir, "--account-id", servertest.Account)
	serve.Env = env
	var out bytes.Buffer
	serve.Stdout, serve.Stderr = &out, &out
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = serve.Wait(); close(done) }()
	t.Cleanup(func() { _ = serve.Process.Kill(); <-done })
	url := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); mnHealth(url) != 200; time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("old server exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("old server never became healthy:\n%s", out.String())
		}
	}
	id, secret := readRootFile(t, dir)
	create := exec.Command(old, "issuer", "create", "--profile", "circleci", "--org-id", org, "--endpoint-url", url)
	create.Env = append(env, "KEYLESS_ROOT_ACCESS_KEY_ID="+id, "KEYLESS_ROOT_SECRET_ACCESS_KEY="+secret)
	if b, err := create.CombinedOutput(); err != nil {
		t.Fatalf("old issuer create: %v\n%s", err, b)
	}
	ctx := context.Background()
	cl := iamClient(url, id, secret, "")
	p, err := cl.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://oidc.circleci.com/org/" + org), ClientIDList: []string{org}})
	if err != nil {
		t.Fatal(err)
	}
	role, err := cl.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("upgraded"), AssumeRolePolicyDocument: aws.String(
		fmt.Sprintf(seedTrust, aws.ToString(p.OpenIDConnectProviderArn), "oidc.circleci.com/org/"+org, org, "p"))})
	if err != nil {
		t.Fatal(err)
	}
	_ = serve.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("old server did not stop:\n%s", out.String())
	}
	if !bytes.Contains(storeBytes(t, dir), []byte(secret)) {
		t.Fatal("precondition: the previous version's store should hold the root secret in plain")
	}
	// Deployments of earlier versions may have loosened the modes.
	_ = os.Chmod(dir, 0o755)
	_ = os.Chmod(filepath.Join(dir, "keyless.db"), 0o644)

	// 2. This version on the same data dir: it starts, keeps every piece
	// of data and the root credentials, and seals what was plain.
	srv := servertest.Start(t, generatedRoot, func(c *server.Config) { c.DataDir = dir })
	if srv.RootAccessKeyID != id {
		t.Fatalf("root access key id %s, want the previous %s", srv.RootAccessKeyID, id)
	}
	cl = iamClient(srv.URL, id, secret, "")
	if _, err := cl.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("upgraded")}); err != nil {
		t.Fatalf("role of the previous version, with its root credentials: %v", err)
	}
	// The issuer's signing key, sealed by the previous version, still signs.
	tok, err := srv.Issuers().Mint(ctx, org, issuer.MintRequest{Params: ciclaims.Params{ProjectID: "p", UserID: "u"}})
	if err != nil {
		t.Fatalf("mint with the previous version's issuer: %v", err)
	}
	if _, err := anonSTS(srv.URL).AssumeRoleWithWebIdentity(ctx, stsWebIdentity(aws.ToString(role.Role.Arn), tok)); err != nil {
		t.Fatalf("exchange a token of the upgraded issuer: %v", err)
	}
	if bytes.Contains(storeBytes(t, dir), []byte(secret)) {
		t.Error("after the upgrade the root secret is still readable in the database files")
	}
	wantMode(t, dir, 0o700)
	wantMode(t, filepath.Join(dir, "keyless.db"), 0o600)
	wantMode(t, filepath.Join(dir, "master.key"), 0o600)
}

func stsWebIdentity(roleARN, tok string) *sts.AssumeRoleWithWebIdentityInput {
	return &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("upgrade"),
		WebIdentityToken: aws.String(tok)}
}
