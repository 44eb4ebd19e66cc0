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

// fence is one fenced block of a markdown file: its info string ("sh",
// "yaml", …) and its body.
type fence struct {
	lang, body string
	line       int
}

// fences returns every fenced block of file, in order.
func fences(t *testing.T, file string) []fence {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []fence
	var cur *fence
	for i, l := range strings.Split(string(b), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &fence{lang: strings.TrimSpace(strings.TrimPrefix(l, "```")), line: i + 1}
		case cur != nil && strings.TrimSpace(l) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body += l + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unclosed fence", file, cur.line)
	}
	return out
}

// notHere names the fence languages a CI page may use for blocks that are
// not run on this machine, and why. Every other block must be ```sh, and
// every ```sh block is run: no block is skipped without saying so.
var notHere = map[string]string{
	"yaml": "the CI's own configuration (a CircleCI config.yml, a GitHub workflow): it runs on the CI",
	"json": "a policy fragment to read; the sh blocks write the policies they use",
	"text": "output to compare with, or commands for real AWS",
}

// TestCIDocsRunLiterally copies every ```sh block of docs/circleci.md and
// docs/github-actions.md out of the file at test time and runs them, in
// order, in one bash in a fresh empty directory, with only keyless, the aws
// CLI and a stock machine's tools on PATH (no python, curl, jq, …). Each page
// must end with `aws sts get-caller-identity` answering as the assumed role,
// and the denials it shows must be AccessDenied.
func TestCIDocsRunLiterally(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keyless and runs a server: not in -short")
	}
	parallelIfIsolated(t)
	for _, tool := range []string{"aws", "go", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	keylessBin := buildKeyless(t)
	for _, tc := range []struct {
		file, assumed string
		denied        int // AccessDenied answers of the aws CLI the page shows
	}{
		{"circleci.md", `"Arn": "arn:aws:sts::123456789012:assumed-role/circleci-deploy/CircleCI"`, 2},
		{"github-actions.md", `"Arn": "arn:aws:sts::123456789012:assumed-role/gha-deploy/gha"`, 5},
	} {
		t.Run(tc.file, func(t *testing.T) {
			parallelIfIsolated(t)
			var run []string
			for _, f := range fences(t, tc.file) {
				switch why, ok := notHere[f.lang]; {
				case f.lang == "sh":
					run = append(run, f.body)
				case ok:
					t.Logf("%s:%d: ```%s not run: %s", tc.file, f.line, f.lang, why)
				default:
					t.Errorf("%s:%d: fence ```%s: mark a block to run ```sh, or say what it is (```yaml, ```json, ```text)", tc.file, f.line, f.lang)
				}
			}
			if len(run) == 0 {
				t.Fatalf("%s has no sh block", tc.file)
			}
			script := strings.Join(run, "\n")
			for _, tool := range notStock {
				if regexp.MustCompile(`(^|[\s$(|])` + tool + `\b`).MatchString(script) {
					t.Errorf("%s's blocks use %s, which a stock machine lacks", tc.file, tool)
				}
			}

			home := t.TempDir()
			env := []string{"HOME=" + home, "PATH=" + keylessBin + ":" + stockPath(t), "TMPDIR=" + t.TempDir()}
			for _, k := range []string{"PYENV_ROOT", "PYENV_VERSION"} {
				if v := os.Getenv(k); v != "" {
					env = append(env, k+"="+v)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := isolated(ctx, script)
			cmd.Dir, cmd.Env = t.TempDir(), env
			cmd.WaitDelay = time.Minute
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s's sh blocks failed: %v\nstdout:\n%s\nstderr:\n%s", tc.file, err, out.String(), errb.String())
			}
			last := out.String()
			if i := strings.LastIndex(last, `"UserId"`); i >= 0 {
				last = last[i:]
			}
			if !strings.Contains(last, tc.assumed) {
				t.Errorf("the page's last get-caller-identity is not the assumed role %s; stdout:\n%s", tc.assumed, out.String())
			}
			if n := strings.Count(out.String()+errb.String(), "An error occurred (AccessDenied)"); n != tc.denied {
				t.Errorf("the aws CLI answered AccessDenied %d times, the page shows %d\nstdout:\n%s\nstderr:\n%s", n, tc.denied, out.String(), errb.String())
			}
		})
	}
}

var keylessOnce struct {
	sync.Once
	dir string
	err error
}

// buildKeyless builds cmd/keyless once into a directory holding it alone.
func buildKeyless(t *testing.T) string {
	t.Helper()
	keylessOnce.Do(func() {
		dir, err := os.MkdirTemp("", "keyless-docs-bin")
		if err != nil {
			keylessOnce.err = err
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "keyless"), "../cmd/keyless").CombinedOutput()
		if err != nil {
			keylessOnce.err = &buildError{err, out}
		}
		keylessOnce.dir = dir
	})
	if keylessOnce.err != nil {
		t.Fatal(keylessOnce.err)
	}
	return keylessOnce.dir
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string {
	return "go build ./cmd/keyless: " + e.err.Error() + "\n" + string(e.out)
}

// stockPath returns a PATH of the base system's commands without the
// tools of notStock, plus the aws CLI: what a newcomer's machine has after
// installing it. (The aws command here may be a pyenv shim; the wrapper
// runs it without putting the rest of pyenv's commands on PATH.)
func stockPath(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	skip := regexp.MustCompile(`^(` + strings.Join(notStock, "|") + `)|python`)
	for _, sys := range []string{"/usr/bin", "/bin", "/usr/sbin", "/sbin"} {
		ents, err := os.ReadDir(sys)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if skip.MatchString(e.Name()) {
				continue
			}
			if _, err := os.Lstat(filepath.Join(dir, e.Name())); err == nil {
				continue
			}
			if err := os.Symlink(filepath.Join(sys, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	aws := must(exec.LookPath("aws"))
	if err := os.WriteFile(filepath.Join(dir, "aws"), []byte("#!/bin/sh\nexec "+aws+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestDocsStandAlone: README and docs point at nothing outside the
// repository (a clone has no ../shared).
func TestDocsStandAlone(t *testing.T) {
	files, _ := filepath.Glob("*.md")
	files = append(files, "../README.md")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "../shared") || strings.Contains(l, "/work/") {
				t.Errorf("%s:%d points outside the repository: %s", f, i+1, l)
			}
		}
	}
}
