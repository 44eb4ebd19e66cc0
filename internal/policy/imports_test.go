package policy

import (
	"go/build"
	"os/exec"
	"strings"
	"testing"
)

// forbidden reports whether an import path is network, storage or AWS SDK
// code, which the pure policy package must not depend on (DESIGN.md).
func forbidden(path string) bool {
	switch {
	case path == "net", strings.HasPrefix(path, "net/http"), path == "net/url", path == "net/smtp", path == "net/rpc",
		strings.HasPrefix(path, "database/"),
		strings.Contains(path, "/internal/store"),
		strings.HasPrefix(path, "github.com/aws/"),
		strings.HasPrefix(path, "github.com/jackc/"),
		strings.HasPrefix(path, "modernc.org/"),
		strings.HasPrefix(path, "github.com/coreos/go-oidc"),
		strings.HasPrefix(path, "github.com/go-jose/"),
		path == "os/exec":
		return true
	}
	return false // net/netip is pure value types and allowed
}

// purePackages are the directories (relative to this one) of the packages
// DESIGN.md declares pure: policy itself, and audit, which decides with
// policy and reads claim profiles from ciclaims.
var purePackages = []string{".", "../audit", "../ciclaims", "../arn"}

func TestDirectImportsArePure(t *testing.T) {
	for _, dir := range purePackages {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			if forbidden(imp) {
				t.Errorf("%s imports %s", pkg.ImportPath, imp)
			}
		}
	}
}

// TestTransitiveImportsArePure checks the whole dependency graph, minus what
// internal/awserr brings (it names net/http status codes; that is its
// business, and the brief allows the policy package to use it).
func TestTransitiveImportsArePure(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go tool is not on PATH, so go list cannot run")
	}
	deps := func(pkg string) map[string]bool {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		m := map[string]bool{}
		for _, l := range strings.Fields(string(out)) {
			m[l] = true
		}
		return m
	}
	const awserrPkg = "github.com/keylessci/keyless/internal/awserr"
	viaAwserr := deps(awserrPkg)
	for _, dir := range purePackages {
		mine := deps(dir)
		if len(mine) < 10 {
			t.Fatalf("go list %s returned only %d packages; the check would be vacuous", dir, len(mine))
		}
		for p := range mine {
			if forbidden(p) && !viaAwserr[p] {
				t.Errorf("%s depends on %s", dir, p)
			}
		}
	}
	for p := range viaAwserr {
		if strings.HasPrefix(p, "github.com/") && p != awserrPkg {
			t.Errorf("internal/awserr brings a third-party module into policy: %s", p)
		}
	}
}
