package policy

import (
	"strings"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
)

// Rules cited: [grammar] reference_policies_grammar; [spec] aws_sts_spec.md
// §4 (observed AWS codes and messages); [quota] reference_iam-quotas.

func TestParseValidation(t *testing.T) {
	const (
		malformed = awserr.CodeMalformedPolicy
		limit     = awserr.CodeLimitExceeded
		invalid   = awserr.CodeValidation
	)
	trust := func(stmt string) string { return `{"Version":"2012-10-17","Statement":[` + stmt + `]}` }
	const okStmt = `{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/x"},"Action":"sts:AssumeRoleWithWebIdentity"}`
	ident := func(stmt string) string { return `{"Version":"2012-10-17","Statement":` + stmt + `}` }
	big := func(n int) string {
		return trust(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"k:a":"` + strings.Repeat("x", n) + `"}}}`)
	}
	// Size of big(0): the number of extra characters that reach the quota.
	base := Size(big(0))
	tests := []struct {
		name     string
		rule     string
		kind     Kind
		doc      string
		wantCode string // "" means valid
		wantMsg  string
	}{
		{"seed trust policy", "[spec] the seed", Trust, seedTrust, "", ""},
		{"statement as object", "[grammar] Statement may be an object", Trust, `{"Statement":` + okStmt + `}`, "", ""},
		{"version 2008", "[grammar] Version 2008-10-17", Trust, `{"Version":"2008-10-17","Statement":` + okStmt + `}`, "", ""},
		{"Id and Sid", "[grammar] Id, Sid", Trust, `{"Id":"x","Statement":{"Sid":"s 1","Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}}`, "", ""},
		{"principal list and account", "[grammar] principal lists, account ids", Trust, trust(`{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:root","arn:aws:iam::123456789012:role/r","arn:aws:sts::123456789012:assumed-role/r/s"],"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}`), "", ""},
		{"account as number", "[grammar] account id as a number", Trust, trust(`{"Effect":"Allow","Principal":{"AWS":123456789012},"Action":"sts:AssumeRole"}`), "", ""},
		{"all operators parse", "[ops] every operator", Identity, ident(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"a:b":"x"},"StringNotEqualsIgnoreCase":{"a:b":"x"},"ForAllValues:StringLike":{"a:b":"x"},"ForAnyValue:StringNotLikeIfExists":{"a:b":"x"},"NumericLessThanEquals":{"a:b":1},"DateGreaterThan":{"a:b":"2020-01-01"},"Bool":{"a:b":true},"BinaryEquals":{"a:b":"eA=="},"NotIpAddress":{"a:b":"10.0.0.0/8"},"ArnNotEquals":{"a:b":"arn:aws:s3:::b"},"Null":{"a:b":"true"}}}`), "", ""},

		{"not json", "[spec] invalid JSON", Trust, `{"Version":`, malformed, "This policy contains invalid Json"},
		{"trailing garbage", "[spec] invalid JSON", Trust, seedTrust + `}`, malformed, "This policy contains invalid Json"},
		{"not an object", "[grammar] a policy is an object", Trust, `[1]`, malformed, "Syntax errors in policy."},
		{"bad version", "[grammar] Version is one of two dates", Trust, `{"Version":"2012-10-18","Statement":` + okStmt + `}`, malformed, "Syntax errors in policy."},
		{"unknown top-level field", "[grammar] closed set of elements", Trust, `{"Statement":` + okStmt + `,"Foo":1}`, malformed, "Syntax errors in policy."},
		{"no statement", "[grammar] Statement is required", Trust, `{"Version":"2012-10-17"}`, malformed, "Syntax errors in policy."},
		{"duplicate key", "[grammar] keys may not repeat", Trust, `{"Statement":{"Effect":"Allow","Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}}`, malformed, "Syntax errors in policy."},
		{"bad effect", "[grammar] Effect is Allow or Deny", Trust, trust(strings.Replace(okStmt, `"Allow"`, `"allow"`, 1)), malformed, "Syntax errors in policy."},
		{"missing effect", "[grammar] Effect is required", Trust, trust(strings.Replace(okStmt, `"Effect":"Allow",`, ``, 1)), malformed, "Syntax errors in policy."},
		{"unknown operator", "[spec] invalid operator names are rejected", Trust, trust(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"ForAllValuesStringEquals":{"a:b":"x"}}}`), malformed, "Syntax errors in policy."},
		{"Null IfExists", "[ops] IfExists applies to every operator except Null", Trust, trust(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"NullIfExists":{"a:b":"true"}}}`), malformed, "Syntax errors in policy."},
		{"condition value object", "[grammar] condition values are scalars", Trust, trust(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"a:b":{"x":1}}}}`), malformed, "Syntax errors in policy."},
		{"condition key without vendor", "[spec] keys are prefaced by a vendor", Trust, trust(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"sub":"x"}}}`), malformed, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{"action without vendor", "[spec] actions are prefaced by a vendor", Trust, trust(`{"Effect":"Allow","Principal":"*","Action":"AssumeRole"}`), malformed, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{"trust with Resource", "[spec] trust policies must not have Resource", Trust, trust(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}`), malformed, "Has prohibited field Resource"},
		{"trust with NotResource", "[spec] trust policies must not have NotResource", Trust, trust(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","NotResource":"*"}`), malformed, "Has prohibited field Resource"},
		{"trust without Principal", "[spec] trust policies need a Principal", Trust, trust(`{"Effect":"Allow","Action":"sts:AssumeRole"}`), malformed, "Missing required field Principal"},
		{"trust without Action", "[spec] statements need actions", Trust, trust(`{"Effect":"Allow","Principal":"*"}`), malformed, "Policy statement must contain actions."},
		{"Action and NotAction", "[grammar] Action xor NotAction", Trust, trust(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","NotAction":"s3:*"}`), malformed, "Syntax errors in policy."},
		{"invalid AWS principal", "[spec] Invalid principal in policy", Trust, trust(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/*"},"Action":"sts:AssumeRole"}`), malformed, `Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/*"`},
		{"principal string not star", "[grammar] a string Principal must be *", Trust, trust(`{"Effect":"Allow","Principal":"me","Action":"sts:AssumeRole"}`), malformed, `Invalid principal in policy: "me"`},
		{"unknown principal type", "[grammar] principal types", Trust, trust(`{"Effect":"Allow","Principal":{"Foo":"x"},"Action":"sts:AssumeRole"}`), malformed, `Invalid principal in policy: "Foo":"x"`},
		{"empty principal list", "[grammar] a principal list names someone", Trust, trust(`{"Effect":"Allow","Principal":{"AWS":[]},"Action":"sts:AssumeRole"}`), malformed, "Syntax errors in policy."},
		{"trust policy at quota", "[quota] 2048 non-whitespace characters", Trust, big(TrustPolicyMaxSize - base), "", ""},
		{"trust policy over quota", "[spec] LimitExceeded ACLSizePerRole", Trust, big(TrustPolicyMaxSize - base + 1), limit, "Cannot exceed quota for ACLSizePerRole: 2048"},
		{"whitespace not counted", "[quota] whitespace is not counted", Trust, strings.Replace(big(TrustPolicyMaxSize-base), ",", ",     \n\t", -1), "", ""},
		{"document too long", "[spec] policyDocument max 131072", Identity, strings.Repeat(" ", MaxDocumentLength+1), invalid, "1 validation error detected: Value at 'policyDocument' failed to satisfy constraint: Member must have length less than or equal to 131072"},
		{"character outside Latin-1", "[spec] policyDocument pattern", Trust, strings.Replace(seedTrust, "PROJ", "PRÓJ\u4e16", 1), invalid, `1 validation error detected: Value at 'policyDocument' failed to satisfy constraint: Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+`},
		{"empty document", "[spec] min length 1", Trust, "", invalid, "1 validation error detected: Value at 'policyDocument' failed to satisfy constraint: Member must have length greater than or equal to 1"},

		{"identity policy", "[grammar] identity policy", Identity, ident(`{"Sid":"S3","Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}`), "", ""},
		{"identity with Principal", "[spec] identity policies must not name a principal", Identity, ident(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}`), malformed, "Policy document should not specify a principal."},
		{"identity without Resource", "[grammar] identity statements need a Resource", Identity, ident(`{"Effect":"Allow","Action":"s3:*"}`), malformed, "Policy statement must contain resources."},
		{"identity Sid not alnum", "[spec] IAM Sid is [A-Za-z0-9]", Managed, ident(`{"Sid":"a-b","Effect":"Allow","Action":"s3:*","Resource":"*"}`), malformed, "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*"},
		{"duplicate Sid", "[grammar] Sids are unique", Identity, ident(`[{"Sid":"A","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"s3:*","Resource":"*"}]`), malformed, "Statement IDs (SID) in a single policy must be unique."},
		{"managed over quota", "[quota] managed policy 6144", Managed, ident(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::` + strings.Repeat("b", 6144) + `"}`), limit, "Cannot exceed quota for PolicySize: 6144"},
		{"session policy too long", "[spec] session policy max 2048 characters", Session, ident(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::` + strings.Repeat("b", 2048) + `"}`), invalid, "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048"},
		{"deep nesting", "[spec] bounded documents", Identity, strings.Repeat("[", 5000) + strings.Repeat("]", 5000), malformed, "Syntax errors in policy."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.doc, tt.kind)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("%s: Parse: %v", tt.rule, err)
				}
				if p.Kind != tt.kind {
					t.Errorf("Kind = %v", p.Kind)
				}
				return
			}
			ae := awserr.As(err)
			if ae == nil {
				t.Fatalf("%s: Parse error = %v, want %s", tt.rule, err, tt.wantCode)
			}
			if ae.Code != tt.wantCode || ae.Message != tt.wantMsg {
				t.Errorf("%s: got %s %q, want %s %q", tt.rule, ae.Code, ae.Message, tt.wantCode, tt.wantMsg)
			}
			wantStatus := 400
			if tt.wantCode == limit {
				wantStatus = 409
			}
			if ae.Status != wantStatus {
				t.Errorf("status = %d, want %d", ae.Status, wantStatus)
			}
		})
	}
}

func TestSize(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want int
	}{
		{"empty", "", 0},
		{"whitespace only", " \t\r\n", 0},
		{"characters not bytes", `{"a":"é"}`, 9},
		{"spaces inside strings count as whitespace", `{"a b"}`, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Size(tt.doc); got != tt.want {
				t.Errorf("Size(%q) = %d, want %d", tt.doc, got, tt.want)
			}
		})
	}
}
