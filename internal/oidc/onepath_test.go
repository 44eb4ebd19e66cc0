package oidc

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The verifier's own files: verifier.go is the entry point (Verifier.Verify)
// and verify.go holds the primitives it calls (key selection, signature,
// time). Nothing else in the module may check a token.
var verifierFiles = map[string]bool{
	"internal/oidc/verifier.go": true,
	"internal/oidc/verify.go":   true,
}

// secondPathAllowed lists files outside the verifier that verify signatures
// on purpose, each with why it is not a second token-verification path.
var secondPathAllowed = map[string]string{
	// The benchmark's floor is a deliberately minimal exchange that
	// `keyless bench` measures keyless against; it never serves a trust
	// decision of keyless itself.
	"internal/bench/floor.go": "benchmark floor",
}

// bannedCalls are package-level functions that verify a signature or decode
// a JWS for verification, by import path.
var bannedCalls = map[string]map[string]bool{
	"crypto/rsa":                    {"VerifyPKCS1v15": true, "VerifyPSS": true},
	"crypto/ecdsa":                  {"Verify": true, "VerifyASN1": true},
	"crypto/ed25519":                {"Verify": true, "VerifyWithOptions": true},
	"github.com/go-jose/go-jose/v4": {"ParseSigned": true, "ParseSignedCompact": true, "ParseSignedJSON": true, "ParseDetached": true},
}

// bannedImports are token-verification libraries; importing one is a
// second path by itself.
var bannedImports = []string{
	"github.com/go-jose/go-jose/v4/jwt",
	"github.com/coreos/go-oidc",
	"github.com/golang-jwt/jwt",
	"github.com/lestrrat-go/jwx",
}

// verifierInternals are package oidc's unexported checks; only the verifier
// files may call them.
var verifierInternals = map[string]bool{
	"verify": true, "checkTime": true, "selectKey": true, "usableKey": true,
	"verifySignature": true, "matchAudience": true,
}

// timeClaims are the Token fields a time check would compare.
var timeClaims = map[string]bool{"Expiry": true, "NotBefore": true, "IssuedAt": true}

// secondPaths reports every place in files (module-relative path → parsed
// file, test files excluded) that verifies a token outside the verifier.
func secondPaths(fset *token.FileSet, files map[string]*ast.File) []string {
	var out []string
	report := func(path string, n ast.Node, what string) {
		out = append(out, fset.Position(n.Pos()).String()+": "+what)
	}
	for path, f := range files {
		if verifierFiles[path] || secondPathAllowed[path] != "" {
			continue
		}
		imports := map[string]string{} // local name → import path
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			for _, b := range bannedImports {
				if p == b || strings.HasPrefix(p, b+"/") {
					report(path, im, "imports "+p)
				}
			}
			name := p[strings.LastIndex(p, "/")+1:]
			if p == "github.com/go-jose/go-jose/v4" {
				name = "jose"
			}
			if im.Name != nil {
				name = im.Name.Name
			}
			imports[name] = p
		}
		inOIDC := strings.HasPrefix(path, "internal/oidc/") && !strings.Contains(strings.TrimPrefix(path, "internal/oidc/"), "/")
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if x, ok := n.X.(*ast.Ident); ok {
					if fns := bannedCalls[imports[x.Name]]; fns[n.Sel.Name] {
						report(path, n, "calls "+imports[x.Name]+"."+n.Sel.Name)
					}
				}
				if inOIDC && verifierInternals[n.Sel.Name] {
					report(path, n, "calls the verifier's "+n.Sel.Name)
				}
			case *ast.CallExpr:
				if id, ok := n.Fun.(*ast.Ident); ok && inOIDC && verifierInternals[id.Name] {
					report(path, n, "calls the verifier's "+id.Name)
				}
			case *ast.BinaryExpr:
				switch n.Op {
				case token.LSS, token.LEQ, token.GTR, token.GEQ:
					for _, side := range []ast.Expr{n.X, n.Y} {
						if s, ok := side.(*ast.SelectorExpr); ok && timeClaims[s.Sel.Name] {
							report(path, n, "compares a token's "+s.Sel.Name+" (a time check)")
						}
					}
				}
			}
			return true
		})
	}
	sort.Strings(out)
	return out
}

// moduleRoot is the directory holding go.mod, above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// TestOneVerificationPath fails when any non-test Go file of the module
// other than the verifier's checks a token's signature or time claims, or
// brings in a JWT library: Verifier.Verify is the only way to verify one.
func TestOneVerificationPath(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range verifierFiles {
		if files[p] == nil {
			t.Fatalf("verifier file %s not found: update verifierFiles", p)
		}
	}
	if len(files) < 50 {
		t.Fatalf("parsed only %d files under %s; the walk is broken", len(files), root)
	}
	for _, s := range secondPaths(fset, files) {
		t.Errorf("second token-verification path: %s (verify through oidc.Verifier.Verify)", s)
	}
}

// TestSecondPathDetected proves the checker fails on each kind of second
// path, so TestOneVerificationPath cannot pass vacuously.
func TestSecondPathDetected(t *testing.T) {
	tests := []struct {
		name, path, src string
		want            string // substring of the report; "" for none
	}{
		{name: "rsa signature outside the verifier", path: "internal/sts/x.go",
			src: `package sts; import "crypto/rsa"; func f() { _ = rsa.VerifyPKCS1v15(nil, 0, nil, nil) }`, want: "crypto/rsa.VerifyPKCS1v15"},
		{name: "renamed ecdsa import", path: "internal/client/x.go",
			src: `package client; import ec "crypto/ecdsa"; func f() { _ = ec.VerifyASN1(nil, nil, nil) }`, want: "crypto/ecdsa.VerifyASN1"},
		{name: "jose ParseSigned", path: "internal/sts/x.go",
			src: `package sts; import jose "github.com/go-jose/go-jose/v4"; func f() { jose.ParseSigned("", nil) }`, want: "ParseSigned"},
		{name: "jwt library", path: "internal/server/x.go",
			src: `package server; import _ "github.com/golang-jwt/jwt/v5"`, want: "imports github.com/golang-jwt/jwt/v5"},
		{name: "hand-rolled expiry check", path: "internal/sts/x.go",
			src: `package sts; func f(t struct{ Expiry int64 }, now int64) bool { return t.Expiry <= now }`, want: "Expiry"},
		{name: "oidc file calling the time check", path: "internal/oidc/x.go",
			src: `package oidc; func f(t *Token) { _ = t.checkTime }`, want: "checkTime"},
		{name: "oidc file calling the audience rule", path: "internal/oidc/x.go",
			src: `package oidc; func matchAudience() {}; func f() { matchAudience() }`, want: "matchAudience"},
		{name: "the verifier itself", path: "internal/oidc/verify.go",
			src: `package oidc; import "crypto/rsa"; func f() { _ = rsa.VerifyPKCS1v15(nil, 0, nil, nil) }`},
		{name: "display of a claim", path: "internal/client/x.go",
			src: `package client; import "time"; func f(t struct{ Expiry int64 }) time.Time { return time.Unix(t.Expiry, 0) }`},
		{name: "ecdsa signing is not verifying", path: "internal/issuer/x.go",
			src: `package issuer; import "crypto/ecdsa"; func f() { ecdsa.SignASN1(nil, nil, nil) }`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, tc.path, tc.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(secondPaths(fset, map[string]*ast.File{tc.path: f}), "\n")
			if tc.want == "" && got != "" {
				t.Fatalf("reported %q, want nothing", got)
			}
			if !strings.Contains(got, tc.want) || (tc.want != "" && got == "") {
				t.Fatalf("reported %q, want it to mention %q", got, tc.want)
			}
		})
	}
}
