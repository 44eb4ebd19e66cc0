package client

import (
	"strings"
	"testing"

	"github.com/keylessci/keyless/internal/policy"
)

// TestPolicyHint: for a trust policy policy.Parse refuses, explain names
// the element and where it is; for one it accepts, nothing.
func TestPolicyHint(t *testing.T) {
	const prov = `"Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/ci.example.com"}`
	stmt := func(body string) string {
		return "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n" + body + "\n    }\n  ]\n}"
	}
	tests := []struct {
		name, doc, want string
	}{
		{"effect misspelled", stmt(`      "Effect": "Alow", ` + prov + `, "Action": "sts:AssumeRoleWithWebIdentity"`),
			`line 5, column 17: "Effect" is "Alow", want "Allow" or "Deny"`},
		{"effect lower case", stmt(`      "Effect": "allow", ` + prov + `, "Action": "sts:AssumeRoleWithWebIdentity"`),
			`line 5, column 17: "Effect" is "allow"`},
		{"unknown statement element", stmt(`      "Effect": "Allow", ` + prov + `,` + "\n" + `      "Actions": "sts:AssumeRoleWithWebIdentity"`),
			`line 6, column 7: unknown element "Actions" in a statement`},
		{"version", `{"Version": "2012-10-18", "Statement": []}`, `line 1, column 13: "Version" is "2012-10-18"`},
		{"top level", `{"Version": "2012-10-17", "Statements": []}`, `line 1, column 27: unknown element "Statements" at the top level`},
		{"principal type", stmt(`      "Effect": "Allow", "Principal": {"Federal": "x"}, "Action": "sts:AssumeRoleWithWebIdentity"`),
			`line 5, column 40: unknown principal type "Federal"`},
		{"action prefix", stmt(`      "Effect": "Allow", ` + prov + `, "Action": ["AssumeRoleWithWebIdentity"]`),
			`action "AssumeRoleWithWebIdentity" has no service prefix`},
		{"operator", stmt(`      "Effect": "Allow", ` + prov + `, "Action": "sts:AssumeRoleWithWebIdentity",` + "\n" +
			`      "Condition": {"StringEqual": {"ci.example.com:sub": "x"}}`),
			`line 6, column 21: the condition "StringEqual" is refused`},
		{"valid", stmt(`      "Effect": "Allow", ` + prov + `, "Action": "sts:AssumeRoleWithWebIdentity",` +
			`"Condition": {"StringLike": {"ci.example.com:sub": "x*"}}`), ``},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, perr := policy.Parse(tc.doc, policy.Trust)
			if (perr == nil) != (tc.want == "") {
				t.Fatalf("policy.Parse = %v; the case expects it to %s", perr, map[bool]string{true: "accept", false: "refuse"}[tc.want == ""])
			}
			got := policyHint(tc.doc)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("policyHint = %q, want %q", got, tc.want)
			}
		})
	}
}
