package awserr

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storeOutcomes are the store's sentinel errors; mappedCodes the AWS codes
// FromStore gives them.
var (
	storeOutcomes = map[string]bool{"ErrNotFound": true, "ErrAlreadyExists": true, "ErrConflict": true, "ErrUnavailable": true}
	mappedCodes   = map[string]bool{"CodeNoSuchEntity": true, "CodeEntityAlreadyExists": true, "CodeDeleteConflict": true, "CodeServiceUnavailable": true}
)

// errorSites reports, in one parsed non-test file of package path, every
// error code written as a string literal (awserr.New/Newf, an Error
// literal, the admin API's writeJSONError) and every hand-written mapping
// of a store outcome to the AWS error awsquery.FromStore owns.
func errorSites(fset *token.FileSet, path string, f *ast.File) []string {
	var out []string
	report := func(n ast.Node, what string) { out = append(out, fset.Position(n.Pos()).String()+": "+what) }
	inAwserr := strings.HasPrefix(path, "internal/awserr/")
	isMapping := path == "internal/awsquery/storeerr.go" // FromStore itself
	isLit := func(e ast.Expr) bool { l, ok := e.(*ast.BasicLit); return ok && l.Kind == token.STRING }
	sel := func(e ast.Expr, pkg string) string {
		if s, ok := e.(*ast.SelectorExpr); ok {
			if x, ok := s.X.(*ast.Ident); ok && x.Name == pkg {
				return s.Sel.Name
			}
		}
		return ""
	}
	constructsMapped := func(body ast.Node) bool {
		found := false
		ast.Inspect(body, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok && len(c.Args) > 0 {
				if fn := sel(c.Fun, "awserr"); (fn == "New" || fn == "Newf") && mappedCodes[sel(c.Args[0], "awserr")] {
					found = true
				}
			}
			return !found
		})
		return found
	}
	mentionsOutcome := func(cond ast.Node) bool {
		found := false
		ast.Inspect(cond, func(n ast.Node) bool {
			if e, ok := n.(ast.Expr); ok && storeOutcomes[sel(e, "store")] {
				found = true
			}
			return !found
		})
		return found
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			switch fn := n.Fun.(type) {
			case *ast.SelectorExpr:
				if x, ok := fn.X.(*ast.Ident); ok && x.Name == "awserr" && (fn.Sel.Name == "New" || fn.Sel.Name == "Newf") && len(n.Args) > 0 && isLit(n.Args[0]) {
					report(n, "error code as a string literal")
				}
			case *ast.Ident:
				if inAwserr && (fn.Name == "New" || fn.Name == "Newf") && len(n.Args) > 0 && isLit(n.Args[0]) {
					report(n, "error code as a string literal")
				}
				if fn.Name == "writeJSONError" && len(n.Args) > 2 && isLit(n.Args[2]) {
					report(n, "error code as a string literal")
				}
			}
		case *ast.CompositeLit:
			if sel(n.Type, "awserr") == "Error" || (inAwserr && isIdent(n.Type, "Error")) {
				for _, el := range n.Elts {
					if kv, ok := el.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Code") && isLit(kv.Value) {
						report(n, "error code as a string literal")
					}
				}
			}
		case *ast.IfStmt:
			if !isMapping && mentionsOutcome(n.Cond) && constructsMapped(n.Body) {
				report(n, "store outcome mapped by hand (use awsquery.FromStore)")
			}
		case *ast.CaseClause:
			for _, e := range n.List {
				if !isMapping && mentionsOutcome(e) && constructsMapped(&ast.BlockStmt{List: n.Body}) {
					report(n, "store outcome mapped by hand (use awsquery.FromStore)")
				}
			}
		}
		return true
	})
	return out
}

func isIdent(e ast.Expr, name string) bool { id, ok := e.(*ast.Ident); return ok && id.Name == name }

// TestOneErrorMapping fails when any non-test Go file of the module writes
// an error code as a string literal or maps a store outcome to an AWS error
// itself instead of through awsquery.FromStore.
func TestOneErrorMapping(t *testing.T) {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = filepath.Dir(dir)
	}
	root, n := dir, 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
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
		rel, _ := filepath.Rel(root, p)
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		n++
		for _, s := range errorSites(fset, filepath.ToSlash(rel), f) {
			t.Errorf("%s", s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Fatalf("parsed only %d files; the walk is broken", n)
	}
}

// TestErrorSitesDetected proves the checker fails on each kind of site.
func TestErrorSitesDetected(t *testing.T) {
	tests := []struct{ name, path, src, want string }{
		{"literal code", "internal/sts/x.go", `package sts; func f() { awserr.New("AccessDenied", 403, "no") }`, "string literal"},
		{"literal code in Newf", "internal/iam/x.go", `package iam; func f() { awserr.Newf("NoSuchEntity", 404, "%s", "x") }`, "string literal"},
		{"literal code in the admin writer", "internal/server/x.go", `package server; func f() { writeJSONError(w, 404, "NotFound", "x") }`, "string literal"},
		{"literal code in an Error", "internal/server/x.go", `package server; var e = &awserr.Error{Code: "X", Status: 400}`, "string literal"},
		{"hand mapping in an if", "internal/sts/x.go", `package sts; func f(err error) error {
			if errors.Is(err, store.ErrUnavailable) { return awserr.New(awserr.CodeServiceUnavailable, 503, "down") }; return err }`, "FromStore"},
		{"hand mapping in a switch", "internal/server/x.go", `package server; func f(err error) error {
			switch { case errors.Is(err, store.ErrNotFound): return awserr.New(awserr.CodeNoSuchEntity, 404, "x") }; return err }`, "FromStore"},
		{"constants are fine", "internal/sts/x.go", `package sts; func f() { awserr.New(awserr.CodeAccessDenied, 403, "no") }`, ""},
		{"a call's own answer to not found is fine", "internal/sts/x.go", `package sts; func f(err error) error {
			if errors.Is(err, store.ErrNotFound) { return awserr.New(awserr.CodeMalformedPolicy, 400, "x") }; return err }`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, tc.path, tc.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(errorSites(fset, tc.path, f), "\n")
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("reported %q, want %q", got, tc.want)
			}
		})
	}
}
