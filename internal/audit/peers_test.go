package audit

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/keylessci/keyless/internal/policy"
)

var updateDocs = flag.Bool("update", false, "rewrite the comparison table in docs/audit.md")

// The checkers below re-implement, from their public descriptions (see
// docs/audit.md), the logic of the trust-policy checks users run today, so
// that docs/audit.md can compare them with audit on the corpus. They are
// test helpers, not products, and no code of theirs is vendored.

// webIdentityStatements returns the Allow statements granting
// sts:AssumeRoleWithWebIdentity with the provider URLs they trust.
func webIdentityStatements(doc *document) []map[string]any {
	var out []map[string]any
	for _, st := range doc.statements {
		if !strings.EqualFold(fmt.Sprint(lookup(st, "Effect")), "Allow") {
			continue
		}
		if matchesAny(strs(lookup(st, "Action")), "sts:AssumeRoleWithWebIdentity") {
			out = append(out, st)
		}
	}
	return out
}

func trustsURL(st map[string]any, host string) bool {
	arns, _ := federated(st)
	for _, a := range arns {
		if _, u, ok := providerOf(a); ok && strings.HasPrefix(u, host) {
			return true
		}
	}
	return false
}

var checkovRepo = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.*-]+$`)

// checkovCKV358 flags a GitHub statement whose sub condition is missing, or
// whose FIRST value does not have owner/repo (owner without wildcard) as
// its second ':' segment — the documented reading that flags immutable-id
// subjects and ignores every value after the first.
func checkovCKV358(doc *document) bool {
	for _, st := range webIdentityStatements(doc) {
		if !trustsURL(st, "token.actions.githubusercontent.com") {
			continue
		}
		var first string
		found := false
		for _, c := range conditions(st) {
			if strings.EqualFold(c.Key, "token.actions.githubusercontent.com:sub") && len(c.Values) > 0 && !found {
				first, found = c.Values[0], true
			}
		}
		if !found {
			return true
		}
		parts := strings.Split(first, ":")
		if len(parts) < 2 || !checkovRepo.MatchString(parts[1]) || strings.ContainsAny(strings.Split(parts[1], "/")[0], "*?") {
			return true
		}
	}
	return false
}

// awsGuardrail reports whether IAM's CreateRole guardrail (June 2025)
// rejects the policy, with keyless's own implementation of it
// (policy.CheckSharedProviders, which keyless IAM enforces on CreateRole).
func awsGuardrail(doc string) bool {
	p, err := policy.Parse(doc, policy.Trust)
	return err == nil && p.CheckSharedProviders() != nil
}

// presenceOfSub flags a web identity statement without any condition on a
// ...:sub key (ActionScope AS008, cloud-audit aws-iam-007, TrustFix, the
// Prowler proposal) or whose sub value is a bare wildcard or repo:* (AS007).
func presenceOfSub(doc *document) bool {
	for _, st := range webIdentityStatements(doc) {
		has := false
		for _, c := range conditions(st) {
			if strings.HasSuffix(strings.ToLower(c.Key), ":sub") {
				has = true
				for _, v := range c.Values {
					if v == "*" || v == "repo:*" || v == "repo:*/*" {
						return true
					}
				}
			}
		}
		if !has {
			return true
		}
	}
	return false
}

// TestPeerComparison computes the table of docs/audit.md from the corpus:
// per ground-truth rule, how many of its policies each checker flags, and
// how many safe policies each flags (false positives). It fails when the
// docs table differs (run with -update to rewrite it).
func TestPeerComparison(t *testing.T) {
	corpus := loadCorpus(t)
	type tally struct{ audit, checkov, guardrail, sub, n int }
	rows := map[string]*tally{}
	safe := &tally{}
	for _, name := range sortedKeys(corpus) {
		c := corpus[name]
		doc, err := parseDocument(string(c.Policy))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Analyze(c.role(name), Config{Owner: c.Owner, Expect: c.Expect})
		if err != nil {
			t.Fatal(err)
		}
		flags := [4]bool{len(res.Findings) > 0, checkovCKV358(doc), awsGuardrail(string(c.Policy)), presenceOfSub(doc)}
		add := func(tl *tally) {
			tl.n++
			for i, f := range flags {
				if f {
					*[]*int{&tl.audit, &tl.checkov, &tl.guardrail, &tl.sub}[i]++
				}
			}
		}
		if len(c.Want) == 0 {
			add(safe)
			continue
		}
		seen := map[string]bool{}
		for _, w := range c.Want {
			if seen[w.Rule] {
				continue
			}
			seen[w.Rule] = true
			if rows[w.Rule] == nil {
				rows[w.Rule] = &tally{}
			}
			add(rows[w.Rule])
		}
	}
	var b strings.Builder
	b.WriteString("| corpus policies | keyless audit | Checkov CKV_AWS_358 | AWS guardrail (2025) | presence of `sub` |\n|---|---|---|---|---|\n")
	var ids []string
	for id := range rows {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		ri, rj := severityOf(ids[i]).Rank(), severityOf(ids[j]).Rank()
		if ri != rj {
			return ri > rj
		}
		return ids[i] < ids[j]
	})
	for _, id := range ids {
		r := rows[id]
		fmt.Fprintf(&b, "| `%s` (%d) | %d | %d | %d | %d |\n", id, r.n, r.audit, r.checkov, r.guardrail, r.sub)
	}
	fmt.Fprintf(&b, "| **safe** (%d): flagged = false positives | %d | %d | %d | %d |\n", safe.n, safe.audit, safe.checkov, safe.guardrail, safe.sub)
	table := b.String()
	if safe.audit != 0 {
		t.Errorf("audit flags %d safe policies", safe.audit)
	}
	path := filepath.Join("..", "..", "docs", "audit.md")
	docs, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- peers:begin -->\n", "<!-- peers:end -->"
	i, j := strings.Index(string(docs), begin), strings.Index(string(docs), end)
	if i < 0 || j < i {
		t.Fatalf("docs/audit.md lacks the %q … %q markers", begin, end)
	}
	if got := string(docs[i+len(begin) : j]); got != table {
		if *updateDocs {
			out := string(docs[:i+len(begin)]) + table + string(docs[j:])
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("docs/audit.md comparison table is stale (go test ./internal/audit -run PeerComparison -update):\n%s", table)
	}
}
