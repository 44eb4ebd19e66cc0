// Package docs holds no code: its test runs the shell blocks of README.md as
// written, so the first thing a newcomer types cannot silently break.
package docs

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// shellBlocks returns the ```sh blocks of a markdown file under the given
// heading ("## Run it"), in order.
func shellBlocks(t *testing.T, file, heading string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no %q section", file, heading)
	}
	s = s[i+len(heading)+2:]
	if j := strings.Index(s, "\n## "); j >= 0 {
		s = s[:j]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(s, -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) == 0 {
		t.Fatalf("%s %q has no sh block", file, heading)
	}
	return blocks
}

// notStock are tools a stock Debian install lacks; the docs must not need them.
var notStock = []string{"uuidgen", "curl", "jq", "python", "openssl", "wget"}

// TestReadmeRunsLiterally copies README.md's "Run it" and quickstart blocks
// out of the file, and runs them in one bash, in one directory, in a fresh
// copy of the repository's tracked files, with only go, aws and the base
// system on PATH. It checks the last call shows the assumed role and that
// nothing was left in the tree.
func TestReadmeRunsLiterally(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keyless and runs a server: not in -short")
	}
	parallelIfIsolated(t)
	for _, tool := range []string{"aws", "go", "bash", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	blocks := append(shellBlocks(t, "../README.md", "## Run it"), shellBlocks(t, "../README.md", "## Quickstart with the aws CLI")...)
	script := strings.Join(blocks, "\n")
	for _, tool := range notStock {
		if regexp.MustCompile(`(^|[\s$(|])` + tool + `\b`).MatchString(script) {
			t.Errorf("README's blocks use %s, which a stock machine lacks", tool)
		}
	}

	clone := freshCopy(t)
	home := t.TempDir()
	goBin := filepath.Dir(must(exec.LookPath("go")))
	env := []string{
		"HOME=" + home, "PATH=" + goBin + ":" + stockPath(t),
		"GOPATH=" + filepath.Join(home, "go"), "GOFLAGS=-buildvcs=false", "TMPDIR=" + t.TempDir(),
	}
	for _, k := range []string{"GOMODCACHE", "GOCACHE", "GOPROXY", "PYENV_ROOT", "PYENV_VERSION"} {
		if v := goEnvOr(k); v != "" {
			env = append(env, k+"="+v)
		}
	}

	before := listFiles(t, clone)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := isolated(ctx, script)
	cmd.Dir, cmd.Env = clone, env
	cmd.WaitDelay = time.Minute
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		t.Fatalf("README blocks failed: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), `"Arn": "arn:aws:sts::123456789012:assumed-role/circleci-deploy/CircleCI"`) {
		t.Errorf("the last call did not show the assumed role; stdout:\n%s", out.String())
	}
	if after := listFiles(t, clone); after != before {
		t.Errorf("README's blocks left files in the tree:\nbefore %s\nafter  %s", before, after)
	}
}

// isolated runs script with bash -e. With unprivileged network namespaces
// available, it gets its own loopback, so the documented port 8787 never
// clashes with anything else on the machine.
func isolated(ctx context.Context, script string) *exec.Cmd {
	// A failing block leaves no server behind: the trap stops the
	// script's background jobs however it ends.
	prelude := "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
	if ip := isolation(); ip != "" {
		return exec.CommandContext(ctx, "unshare", "-rn", "bash", "-c", ip+" link set lo up\n"+prelude+script)
	}
	return exec.CommandContext(ctx, "bash", "-c", prelude+script)
}

var isolationOnce struct {
	sync.Once
	ip string
}

// isolation returns the ip command when scripts can get their own network
// namespace (unshare -rn), "" when they share the machine's.
func isolation() string {
	isolationOnce.Do(func() {
		if exec.Command("unshare", "-rn", "true").Run() == nil {
			isolationOnce.ip, _ = exec.LookPath("ip")
		}
	})
	return isolationOnce.ip
}

// parallelIfIsolated runs t beside the other literal tests when each has
// its own loopback; sharing the machine's, they take port 8787 in turn.
func parallelIfIsolated(t *testing.T) {
	if isolation() != "" {
		t.Parallel()
	}
}

// freshCopy copies the repository's tracked files (as they are in the work
// tree) to a new directory: what a fresh clone would hold.
func freshCopy(t *testing.T) string {
	t.Helper()
	files, err := exec.Command("git", "-C", "..", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	dst := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join("..", f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func listFiles(t *testing.T, dir string) string {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, strings.TrimPrefix(p, dir))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(names, ",")
}

func goEnvOr(k string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	if strings.HasPrefix(k, "GO") {
		out, _ := exec.Command("go", "env", k).Output()
		return strings.TrimSpace(string(out))
	}
	return ""
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
