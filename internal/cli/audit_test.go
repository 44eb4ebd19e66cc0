package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// runAudit runs `keyless audit args...` in process.
func runAudit(t *testing.T, stdin string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	code := Main(context.Background(), e, append([]string{"audit"}, args...))
	return code, out.String(), errb.String()
}

func decodeReport(t *testing.T, s string) auditReport {
	t.Helper()
	var rep auditReport
	if err := json.Unmarshal([]byte(s), &rep); err != nil {
		t.Fatalf("audit -o json: %v\n%s", err, s)
	}
	return rep
}

// summary renders a report as role:rule lines and error sources.
func summary(rep auditReport) []string {
	var out []string
	for _, r := range rep.Roles {
		if len(r.Findings) == 0 {
			out = append(out, r.Name+":-")
		}
		for _, f := range r.Findings {
			out = append(out, r.Name+":"+f.Rule)
		}
	}
	for _, e := range rep.Errors {
		out = append(out, "error:"+e.Source)
	}
	return out
}

func TestAuditFileInputs(t *testing.T) {
	dir := filepath.Join("testdata", "audit")
	open, err := os.ReadFile(filepath.Join(dir, "open-gh.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  []string
	}{
		{"policy with findings", "", []string{"--file", filepath.Join(dir, "open-gh.json")}, 1, []string{"open-gh:any-tenant"}},
		{"pinned policy", "", []string{"--file", filepath.Join(dir, "pinned-gh.json")}, 0, []string{"pinned-gh:-"}},
		{"medium below default fail-on", "", []string{"--file", filepath.Join(dir, "any-repo-gh.json")}, 0, []string{"any-repo-gh:any-repository"}},
		{"medium at fail-on medium", "", []string{"--file", filepath.Join(dir, "any-repo-gh.json"), "--fail-on", "medium"}, 1, []string{"any-repo-gh:any-repository"}},
		{"critical only", "", []string{"--file", filepath.Join(dir, "any-repo-gh.json"), "--fail-on", "critical"}, 0, []string{"any-repo-gh:any-repository"}},
		{"cloudformation yaml with !Sub and an unresolved !GetAtt", "", []string{"--file", filepath.Join(dir, "stack.yaml")}, 2,
			[]string{"deploy-prod:owner-confusion", "error:" + filepath.Join(dir, "stack.yaml") + ":UnresolvedRole"}},
		{"cloudformation json with Fn::Join", "", []string{"--file", filepath.Join(dir, "stack.json")}, 1, []string{"ci-readonly:any-tenant"}},
		{"terraform plan", "", []string{"--file", filepath.Join(dir, "plan.json")}, 2,
			[]string{"terraform-apply:untrusted-ref", "error:" + filepath.Join(dir, "plan.json") + ":module.ci.aws_iam_role.later"}},
		{"stdin", string(open), []string{"--file", "-"}, 1, []string{"-:any-tenant"}},
		{"owner flag", "", []string{"--file", filepath.Join(dir, "open-gh.json"), "--owner", "acme"}, 1, []string{"open-gh:any-tenant"}},
		{"directory", "", []string{"--file", dir}, 2, []string{
			"any-repo-gh:any-repository", "open-gh:any-tenant", "pinned-gh:-", "terraform-apply:untrusted-ref",
			"ci-readonly:any-tenant", "deploy-prod:owner-confusion",
			"error:" + filepath.Join(dir, "plan.json") + ":module.ci.aws_iam_role.later",
			"error:" + filepath.Join(dir, "stack.yaml") + ":UnresolvedRole"}},
		{"missing file", "", []string{"--file", filepath.Join(dir, "nope.json")}, 2, []string{"error:" + filepath.Join(dir, "nope.json")}},
		{"not a policy", "[1,2]", []string{"--file", "-"}, 2, []string{"error:-"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runAudit(t, tc.stdin, nil, append(tc.args, "-o", "json")...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.code, errOut)
			}
			got := summary(decodeReport(t, out))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestAuditJSONContract(t *testing.T) {
	_, out, _ := runAudit(t, "", nil, "--file", filepath.Join("testdata", "audit", "open-gh.json"), "-o", "json")
	var raw struct {
		Roles []struct {
			Name, ARN, Source string
			Findings          []map[string]json.RawMessage
		}
		Errors []map[string]string
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Roles) != 1 || raw.Roles[0].Source != filepath.Join("testdata", "audit", "open-gh.json") ||
		raw.Roles[0].ARN != "arn:aws:iam::123456789012:role/open-gh" {
		t.Fatalf("roles: %+v", raw.Roles)
	}
	f := raw.Roles[0].Findings[0]
	var keys []string
	for k := range f {
		keys = append(keys, k)
	}
	for _, k := range []string{"rule", "severity", "statement", "message", "witness", "fix"} {
		if _, ok := f[k]; !ok {
			t.Errorf("finding lacks %q", k)
		}
	}
	if len(f) != 6 {
		t.Errorf("finding has keys %v, want exactly the contract's six", keys)
	}
	var w map[string]any
	_ = json.Unmarshal(f["witness"], &w)
	for _, k := range []string{"iss", "sub", "aud", "repository", "repository_id", "repository_owner_id", "job_workflow_ref", "ref", "sha", "actor", "workflow", "run_id", "event_name", "runner_environment"} {
		if _, ok := w[k]; !ok {
			t.Errorf("witness lacks the GitHub claim %q", k)
		}
	}
	if w["iss"] != "https://token.actions.githubusercontent.com" {
		t.Errorf("witness iss %v", w["iss"])
	}
}

func TestAuditUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"bad output":            {"--file", "x.json", "-o", "xml"},
		"bad fail-on":           {"--file", "x.json", "--fail-on", "severe"},
		"prove with files":      {"--file", "x.json", "--prove"},
		"file and endpoint":     {"--file", "x.json", "--endpoint-url", "http://127.0.0.1:1"},
		"prove without keyless": {"--prove"},
		"bad expect":            {"--file", "x.json", "--expect", filepath.Join("testdata", "audit", "open-gh.json")},
	} {
		t.Run(name, func(t *testing.T) {
			if code, _, _ := runAudit(t, "", map[string]string{}, args...); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
		})
	}
}

func TestAuditTextGroupsByRole(t *testing.T) {
	code, out, _ := runAudit(t, "", nil, "--file", filepath.Join("testdata", "audit"), "--owner", "acme")
	if code != 2 {
		t.Errorf("exit %d, want 2 (the directory has unresolvable roles)", code)
	}
	for _, want := range []string{"open-gh  testdata/audit/open-gh.json", "CRITICAL any-tenant (statement 0)", "owner: acme (given)", "witness: iss=https://", "fix: {", "error testdata/audit/stack.yaml:UnresolvedRole"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour codes written to a non-terminal")
	}
}

func TestAuditSARIFValidatesAgainstSchema(t *testing.T) {
	code, out, _ := runAudit(t, "", nil, "--file", filepath.Join("testdata", "audit"), "-o", "sarif")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	schemaFile, err := os.Open(filepath.Join("testdata", "sarif", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer schemaFile.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("SARIF does not validate: %v", err)
	}
	// A broken document must fail, or the check proves nothing.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(strings.Replace(out, `"version": "2.1.0"`, `"version": "2.0"`, 1)))
	if sch.Validate(bad) == nil {
		t.Fatal("the schema accepted version 2.0")
	}
	var log sarifLog
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range log.Runs[0].Results {
		if r.RuleID == "owner-confusion" {
			found = true
			pl := r.Locations[0].PhysicalLocation
			if pl == nil || pl.ArtifactLocation.URI != filepath.Join("testdata", "audit", "stack.yaml") || pl.Region.StartLine != 11 {
				t.Errorf("owner-confusion location %+v, want stack.yaml line 11 (DeployRole)", pl)
			}
		}
	}
	if !found {
		t.Error("no owner-confusion result")
	}
}
