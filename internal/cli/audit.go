package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/audit"
	"github.com/keylessci/keyless/internal/client"
)

// auditReport is the `-o json` contract of issue 15.
type auditReport struct {
	Roles  []auditRole         `json:"roles"`
	Errors []client.AuditError `json:"errors"`
}

type auditRole struct {
	Name     string         `json:"name"`
	ARN      string         `json:"arn"`
	Source   string         `json:"source"`
	Findings []auditFinding `json:"findings"`

	line          int
	owner         string
	ownerInferred bool
}

type auditFinding struct {
	audit.Finding
	// Proof is the assumed-role ARN --prove obtained with the witness, or
	// why it could not.
	Proof *auditProof `json:"proof,omitempty"`
}

type auditProof struct {
	AssumedRoleARN string `json:"assumedRoleArn,omitempty"`
	Error          string `json:"error,omitempty"`
}

func newAuditCmd(env Env) *cobra.Command {
	var af awsFlags
	var files []string
	var owner, output, failOn, expectFile string
	var prove bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Prove who can assume each role: trust-policy analysis with witness tokens (exit 0 clean, 1 findings, 2 error)",
		Long: `Analyse the trust policies of roles that CI jobs assume with OIDC tokens. For
every statement that admits sts:AssumeRoleWithWebIdentity, audit finds the
provider and its claim profile, searches for a token someone other than the
owner could obtain, and asks the policy evaluator whether the policy admits it.
Every finding carries that token's full claim set (the witness) and the
smallest policy change that the evaluator confirms denies it while still
admitting every --expect identity.

Roles come from the account (ListRoles, with --endpoint-url for keyless) or
from files: trust policy JSON, CloudFormation templates (JSON or YAML),
Terraform plans (terraform show -json), directories of them, or - for stdin.
With --prove (keyless endpoints only) each witness is minted by an issuer that
impersonates the provider and exchanged, and the assumed-role ARN reported.`,
		Example: `  keyless audit --file trust.json --owner acme
  keyless audit --file infra/ -o sarif > audit.sarif
  keyless audit --endpoint-url http://127.0.0.1:8787 --prove -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fail := func(err error) error { return &ExitError{Code: 2, Err: err} }
			threshold, err := audit.ParseSeverity(failOn)
			if err != nil {
				return fail(fmt.Errorf("--fail-on: %w", err))
			}
			switch output {
			case "text", "json", "sarif":
			default:
				return fail(fmt.Errorf("-o must be text, json or sarif, got %q", output))
			}
			if len(files) > 0 && af.endpoint != "" {
				return fail(errors.New("--file and --endpoint-url are exclusive"))
			}
			if prove && len(files) > 0 {
				return fail(errors.New("--prove works against a keyless endpoint (--endpoint-url), not files"))
			}
			if prove && af.endpointFor(env, "IAM") == "" {
				return fail(errors.New("--prove needs --endpoint-url of a keyless server: it never mints tokens against real AWS"))
			}
			cfg := audit.Config{Owner: owner}
			if expectFile != "" {
				if cfg.Expect, err = readExpect(expectFile); err != nil {
					return fail(err)
				}
			}
			var roles []audit.Role
			var errs []client.AuditError
			if len(files) > 0 {
				roles, errs = loadAuditFiles(files, env.Stdin)
			} else {
				c, err := af.newClient(cmd.Context(), env, true)
				if err != nil {
					return fail(err)
				}
				if roles, errs, err = c.AuditRoles(cmd.Context()); err != nil {
					return fail(err)
				}
			}
			rep := auditReport{Roles: []auditRole{}, Errors: errs}
			for _, r := range roles {
				res, err := audit.Analyze(r, cfg)
				if err != nil {
					rep.Errors = append(rep.Errors, client.AuditError{Source: r.Source, Message: err.Error()})
					continue
				}
				ar := auditRole{Name: res.Name, ARN: res.ARN, Source: res.Source, Findings: []auditFinding{},
					line: res.Line, owner: res.Owner, ownerInferred: res.OwnerInferred}
				for _, f := range res.Findings {
					ar.Findings = append(ar.Findings, auditFinding{Finding: f})
				}
				rep.Roles = append(rep.Roles, ar)
			}
			if rep.Errors == nil {
				rep.Errors = []client.AuditError{}
			}
			if prove {
				if err := proveFindings(cmd.Context(), env, &af, &rep); err != nil {
					return fail(err)
				}
			}
			switch output {
			case "json":
				err = writeJSONOut(env.Stdout, rep)
			case "sarif":
				err = writeSARIF(env.Stdout, rep)
			default:
				writeAuditText(env.Stdout, rep, isTerminal(env.Stdout))
			}
			if err != nil {
				return fail(err)
			}
			if len(rep.Errors) > 0 {
				return &ExitError{Code: 2, Err: fmt.Errorf("%d input(s) could not be audited", len(rep.Errors))}
			}
			for _, r := range rep.Roles {
				for _, f := range r.Findings {
					if f.Severity.Rank() >= threshold.Rank() {
						return &ExitError{Code: 1}
					}
				}
			}
			return nil
		},
	}
	af.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&files, "file", nil, "trust policy JSON, CloudFormation template, Terraform plan JSON, a directory of them, or - for stdin; repeatable")
	fl.StringVar(&owner, "owner", "", "the legitimate owner: GitHub org, GitLab group, CircleCI org id, HCP Terraform or Buildkite organization (default: inferred)")
	fl.StringVarP(&output, "output", "o", "text", "text | json | sarif")
	fl.StringVar(&failOn, "fail-on", "high", "exit 1 when a finding is at or above: critical | high | medium | low")
	fl.StringVar(&expectFile, "expect", "", "JSON file with the claim sets (each with iss) every fix must keep admitting")
	fl.BoolVar(&prove, "prove", false, "mint each witness with an impersonating issuer on the keyless endpoint and exchange it")
	enumCompletion(cmd, "output", "text", "json", "sarif")
	enumCompletion(cmd, "fail-on", "critical", "high", "medium", "low")
	return cmd
}

// readExpect reads --expect: one claim set or an array of them.
func readExpect(path string) ([]map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --expect: %w", err)
	}
	var list []map[string]any
	if err := json.Unmarshal(b, &list); err != nil {
		var one map[string]any
		if err2 := json.Unmarshal(b, &one); err2 != nil {
			return nil, fmt.Errorf("--expect: want a claim set or an array of claim sets: %w", err)
		}
		list = []map[string]any{one}
	}
	for i, e := range list {
		if s, _ := e["iss"].(string); !strings.HasPrefix(s, "https://") {
			return nil, fmt.Errorf("--expect: claim set %d has no https:// iss", i)
		}
	}
	return list, nil
}

// loadAuditFiles reads every --file: files, directories (recursively, the
// .json, .yaml, .yml and .template files in them) and - for stdin.
func loadAuditFiles(paths []string, stdin io.Reader) ([]audit.Role, []client.AuditError) {
	var roles []audit.Role
	var errs []client.AuditError
	add := func(name string, data []byte) {
		r, e := client.ParseAuditInput(name, data)
		roles, errs = append(roles, r...), append(errs, e...)
	}
	for _, p := range paths {
		if p == "-" {
			b, err := io.ReadAll(stdin)
			if err != nil {
				errs = append(errs, client.AuditError{Source: "-", Message: err.Error()})
				continue
			}
			add("-", b)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, client.AuditError{Source: p, Message: err.Error()})
			continue
		}
		if !st.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				errs = append(errs, client.AuditError{Source: p, Message: err.Error()})
				continue
			}
			add(p, b)
			continue
		}
		var names []string
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, client.AuditError{Source: path, Message: err.Error()})
				return nil
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".json", ".yaml", ".yml", ".template":
				if !d.IsDir() {
					names = append(names, path)
				}
			}
			return nil
		})
		sort.Strings(names)
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				errs = append(errs, client.AuditError{Source: n, Message: err.Error()})
				continue
			}
			add(n, b)
		}
	}
	return roles, errs
}

// isTerminal reports whether w is a character device (colour output).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writeAuditText(w io.Writer, rep auditReport, color bool) {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	sevColor := map[audit.Severity]string{audit.Critical: "1;31", audit.High: "31", audit.Medium: "33", audit.Low: "36"}
	total := 0
	for _, r := range rep.Roles {
		if len(r.Findings) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s  %s\n", paint("1", r.Name), r.Source)
		if r.owner != "" {
			how := "given"
			if r.ownerInferred {
				how = "inferred"
			}
			fmt.Fprintf(w, "  owner: %s (%s)\n", r.owner, how)
		}
		for _, f := range r.Findings {
			total++
			fmt.Fprintf(w, "  %s %s (statement %d)\n    %s\n", paint(sevColor[f.Severity], strings.ToUpper(string(f.Severity))), f.Rule, f.Statement, f.Message)
			fmt.Fprintf(w, "    witness: iss=%v sub=%v aud=%v\n", f.Witness["iss"], f.Witness["sub"], f.Witness["aud"])
			if f.Proof != nil {
				if f.Proof.AssumedRoleARN != "" {
					fmt.Fprintf(w, "    proven: assumed %s\n", f.Proof.AssumedRoleARN)
				} else {
					fmt.Fprintf(w, "    not proven: %s\n", f.Proof.Error)
				}
			}
			if string(f.Fix) != "null" && len(f.Fix) > 0 {
				fmt.Fprintf(w, "    fix: %s\n", f.Fix)
			}
		}
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "%s %s: %s\n", paint("31", "error"), e.Source, e.Message)
	}
	fmt.Fprintf(w, "%d role(s) audited, %d finding(s), %d error(s)\n", len(rep.Roles), total, len(rep.Errors))
}
