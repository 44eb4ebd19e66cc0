package policy

import (
	"fmt"
	"testing"
)

// Doc rules cited below, from the AWS IAM User Guide:
//
//	[ops]   reference_policies_elements_condition_operators
//	[cond]  reference_policies_elements_condition ("AND across operators and keys, OR across values")
//	[multi] reference_policies_condition-single-vs-multi-valued-context-keys
//	[vars]  reference_policies_variables
//	[eval]  reference_policies_evaluation-logic

type kv map[string][]string

// condAllows wraps cond in an otherwise always-matching Allow statement and
// reports whether the request with ctx is allowed.
func condAllows(t *testing.T, version, cond string, ctx kv) bool {
	t.Helper()
	v := ""
	if version != "" {
		v = fmt.Sprintf(`"Version":%q,`, version)
	}
	doc := fmt.Sprintf(`{%s"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":%s}}`, v, cond)
	p := mustParse(t, doc, Identity)
	c := NewContext()
	for k, vals := range ctx {
		c.Set(k, vals...)
	}
	return p.Evaluate(&Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: c}) == Allow
}

type condCase struct {
	name string
	rule string // the AWS doc rule the case encodes
	cond string
	ctx  kv
	want bool
}

func runCondCases(t *testing.T, version string, cases []condCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := condAllows(t, version, tc.cond, tc.ctx); got != tc.want {
				t.Errorf("%s\ncondition %s with %v: got %v, want %v", tc.rule, tc.cond, tc.ctx, got, tc.want)
			}
		})
	}
}

func TestStringOperators(t *testing.T) {
	runCondCases(t, "2012-10-17", []condCase{
		{"StringEquals exact", "[ops] StringEquals: exact matching, case sensitive", `{"StringEquals":{"k:a":"Abc"}}`, kv{"k:a": {"Abc"}}, true},
		{"StringEquals case differs", "[ops] StringEquals is case sensitive", `{"StringEquals":{"k:a":"Abc"}}`, kv{"k:a": {"abc"}}, false},
		{"StringEquals no wildcard", "[ops] StringEquals does not expand *", `{"StringEquals":{"k:a":"a*"}}`, kv{"k:a": {"abc"}}, false},
		{"StringEquals OR across values", "[cond] multiple values of one key are ORed", `{"StringEquals":{"k:a":["x","y"]}}`, kv{"k:a": {"y"}}, true},
		{"StringEquals AND across keys", "[cond] multiple keys are ANDed", `{"StringEquals":{"k:a":"x","k:b":"y"}}`, kv{"k:a": {"x"}, "k:b": {"z"}}, false},
		{"AND across operators", "[cond] multiple operators are ANDed", `{"StringEquals":{"k:a":"x"},"StringLike":{"k:b":"y*"}}`, kv{"k:a": {"x"}, "k:b": {"yes"}}, true},
		{"AND across operators fails", "[cond] multiple operators are ANDed", `{"StringEquals":{"k:a":"x"},"StringLike":{"k:b":"y*"}}`, kv{"k:a": {"x"}, "k:b": {"no"}}, false},
		{"key name case-insensitive", "[cond] condition key names are not case-sensitive", `{"StringEquals":{"K:A":"x"}}`, kv{"k:a": {"x"}}, true},
		{"StringEquals missing key", "[cond] a missing key makes the condition false", `{"StringEquals":{"k:a":"x"}}`, nil, false},
		{"StringNotEquals missing key", "[ops] negated operators are true when the key is absent", `{"StringNotEquals":{"k:a":"x"}}`, nil, true},
		{"StringNotEquals other value", "[ops] StringNotEquals: negated matching", `{"StringNotEquals":{"k:a":"x"}}`, kv{"k:a": {"y"}}, true},
		{"StringNotEquals NOR", "[cond] negated operator with several values: none may match", `{"StringNotEquals":{"k:a":["x","y"]}}`, kv{"k:a": {"y"}}, false},
		{"StringNotEquals NOR passes", "[cond] negated operator with several values: none may match", `{"StringNotEquals":{"k:a":["x","y"]}}`, kv{"k:a": {"z"}}, true},
		{"StringEqualsIgnoreCase", "[ops] StringEqualsIgnoreCase ignores case", `{"StringEqualsIgnoreCase":{"k:a":"ABC"}}`, kv{"k:a": {"abc"}}, true},
		{"StringNotEqualsIgnoreCase", "[ops] StringNotEqualsIgnoreCase ignores case", `{"StringNotEqualsIgnoreCase":{"k:a":"ABC"}}`, kv{"k:a": {"abc"}}, false},
		{"StringLike star spans slash", "[ops] StringLike: * matches any run, including /", `{"StringLike":{"k:a":"org/A/project/P/*"}}`, kv{"k:a": {"org/A/project/P/user/U"}}, true},
		{"StringLike star matches empty", "[ops] * matches zero characters", `{"StringLike":{"k:a":"a*"}}`, kv{"k:a": {"a"}}, true},
		{"StringLike question one char", "[ops] ? matches exactly one character", `{"StringLike":{"k:a":"a?c"}}`, kv{"k:a": {"abc"}}, true},
		{"StringLike question not zero", "[ops] ? matches exactly one character", `{"StringLike":{"k:a":"a?c"}}`, kv{"k:a": {"ac"}}, false},
		{"StringLike question multibyte", "[ops] ? matches one character", `{"StringLike":{"k:a":"a?c"}}`, kv{"k:a": {"aéc"}}, true},
		{"StringLike question matches slash", "[ops] wildcards match /", `{"StringLike":{"k:a":"a?c"}}`, kv{"k:a": {"a/c"}}, true},
		{"StringLike middle star", "[ops] * anywhere in the value", `{"StringLike":{"k:a":"repo:o/*:ref:refs/heads/main"}}`, kv{"k:a": {"repo:o/app:ref:refs/heads/main"}}, true},
		{"StringLike middle star mismatch", "[ops] * anywhere in the value", `{"StringLike":{"k:a":"repo:o/*:ref:refs/heads/main"}}`, kv{"k:a": {"repo:o/app:ref:refs/heads/dev"}}, false},
		{"StringLike case sensitive", "[ops] StringLike is case sensitive", `{"StringLike":{"k:a":"A*"}}`, kv{"k:a": {"abc"}}, false},
		{"StringLike backtracking", "[ops] * matches any run", `{"StringLike":{"k:a":"*ab*abc"}}`, kv{"k:a": {"xxabyyababc"}}, true},
		{"StringNotLike matches", "[ops] StringNotLike: negated", `{"StringNotLike":{"k:a":"org/*"}}`, kv{"k:a": {"org/x"}}, false},
		{"StringNotLike missing", "[ops] negated operators are true when the key is absent", `{"StringNotLike":{"k:a":"org/*"}}`, nil, true},
		{"StringLikeIfExists missing", "[ops] ...IfExists: true when the key is absent", `{"StringLikeIfExists":{"k:a":"x*"}}`, nil, true},
		{"StringLikeIfExists present mismatch", "[ops] ...IfExists: evaluated normally when present", `{"StringLikeIfExists":{"k:a":"x*"}}`, kv{"k:a": {"y"}}, false},
		{"StringNotEqualsIfExists present", "[ops] ...IfExists on a negated operator", `{"StringNotEqualsIfExists":{"k:a":"x"}}`, kv{"k:a": {"x"}}, false},
		{"number value as string", "[grammar] condition values may be numbers", `{"StringEquals":{"k:a":42}}`, kv{"k:a": {"42"}}, true},
		{"empty value list", "[cond] no value can match an empty list", `{"StringEquals":{"k:a":[]}}`, kv{"k:a": {"x"}}, false},
	})
}

func TestSetOperators(t *testing.T) {
	runCondCases(t, "2012-10-17", []condCase{
		{"ForAnyValue one matches", "[multi] ForAnyValue: true if at least one request value matches", `{"ForAnyValue:StringEquals":{"k:amr":"authenticated"}}`, kv{"k:amr": {"unauth", "authenticated"}}, true},
		{"ForAnyValue none match", "[multi] ForAnyValue", `{"ForAnyValue:StringEquals":{"k:amr":"authenticated"}}`, kv{"k:amr": {"unauth"}}, false},
		{"ForAnyValue missing", "[multi] ForAnyValue returns false when the key is absent", `{"ForAnyValue:StringEquals":{"k:amr":"authenticated"}}`, nil, false},
		{"ForAnyValue empty", "[multi] ForAnyValue returns false for an empty set", `{"ForAnyValue:StringEquals":{"k:amr":"authenticated"}}`, kv{"k:amr": {}}, false},
		{"ForAllValues all match", "[multi] ForAllValues: every request value matches some policy value", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, kv{"aws:TagKeys": {"a", "b"}}, true},
		{"ForAllValues one outside", "[multi] ForAllValues", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, kv{"aws:TagKeys": {"a", "c"}}, false},
		{"ForAllValues missing key is true", "[multi] ForAllValues returns true when the key is absent (do not use with Allow)", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}`, nil, true},
		{"ForAllValues empty is true", "[multi] ForAllValues returns true for an empty set", `{"ForAllValues:StringEquals":{"aws:TagKeys":["a"]}}`, kv{"aws:TagKeys": {}}, true},
		{"ForAllValues StringLike", "[multi] set operators take any operator", `{"ForAllValues:StringLike":{"k:g":["team-*"]}}`, kv{"k:g": {"team-a", "team-b"}}, true},
		{"ForAnyValue negated", "[multi] ForAnyValue:StringNotEquals: some value equals none of the policy values", `{"ForAnyValue:StringNotEquals":{"k:g":["a"]}}`, kv{"k:g": {"a", "b"}}, true},
		{"ForAllValues negated", "[multi] ForAllValues:StringNotEquals: no value equals a policy value", `{"ForAllValues:StringNotEquals":{"k:g":["a"]}}`, kv{"k:g": {"a", "b"}}, false},
		{"ForAnyValue IfExists missing", "[ops] IfExists applies to set operators", `{"ForAnyValue:StringEqualsIfExists":{"k:g":"a"}}`, nil, true},
		{"plain operator multivalued any", "[multi] single-valued operator on a multivalued key: any value", `{"StringEquals":{"k:g":"b"}}`, kv{"k:g": {"a", "b"}}, true},
		{"plain negated multivalued", "[multi] negated single-valued operator: no value may match", `{"StringNotEquals":{"k:g":"b"}}`, kv{"k:g": {"a", "b"}}, false},
	})
}

func TestNumericDateBoolBinaryIPNull(t *testing.T) {
	runCondCases(t, "2012-10-17", []condCase{
		{"NumericEquals", "[ops] NumericEquals", `{"NumericEquals":{"k:n":"10"}}`, kv{"k:n": {"10.0"}}, true},
		{"NumericEquals number literal", "[ops] numeric values may be JSON numbers", `{"NumericEquals":{"k:n":10}}`, kv{"k:n": {"10"}}, true},
		{"NumericNotEquals", "[ops] NumericNotEquals", `{"NumericNotEquals":{"k:n":"10"}}`, kv{"k:n": {"11"}}, true},
		{"NumericLessThan", "[ops] NumericLessThan", `{"NumericLessThan":{"k:n":"10"}}`, kv{"k:n": {"9.5"}}, true},
		{"NumericLessThan equal", "[ops] NumericLessThan is strict", `{"NumericLessThan":{"k:n":"10"}}`, kv{"k:n": {"10"}}, false},
		{"NumericLessThanEquals", "[ops] NumericLessThanEquals", `{"NumericLessThanEquals":{"k:n":"10"}}`, kv{"k:n": {"10"}}, true},
		{"NumericGreaterThan", "[ops] NumericGreaterThan", `{"NumericGreaterThan":{"k:n":"10"}}`, kv{"k:n": {"-3"}}, false},
		{"NumericGreaterThanEquals", "[ops] NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"k:n":"10"}}`, kv{"k:n": {"10"}}, true},
		{"Numeric unparsable request", "[ops] a value that is not a number does not match", `{"NumericGreaterThan":{"k:n":"1"}}`, kv{"k:n": {"abc"}}, false},
		{"Numeric unparsable policy", "[ops] an invalid policy value matches nothing", `{"NumericEquals":{"k:n":"1e3"}}`, kv{"k:n": {"1000"}}, false},
		{"Numeric missing", "[cond] missing key: positive operator false", `{"NumericLessThan":{"k:n":"10"}}`, nil, false},
		{"NumericNotEquals missing", "[ops] negated operators are true when the key is absent", `{"NumericNotEquals":{"k:n":"10"}}`, nil, true},
		{"DateLessThan ISO", "[ops] Date operators take ISO 8601", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, kv{"aws:CurrentTime": {"2025-12-31T23:59:59Z"}}, true},
		{"DateGreaterThan ISO", "[ops] DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, kv{"aws:CurrentTime": {"2025-12-31T23:59:59Z"}}, false},
		{"Date epoch request", "[ops] Date operators take epoch seconds", `{"DateGreaterThanEquals":{"aws:EpochTime":"2026-01-01"}}`, kv{"aws:EpochTime": {"1767225600"}}, true},
		{"Date epoch policy", "[ops] epoch in the policy", `{"DateEquals":{"aws:CurrentTime":1767225600}}`, kv{"aws:CurrentTime": {"2026-01-01T00:00:00Z"}}, true},
		{"Date zone offset", "[ops] ISO 8601 with offset", `{"DateEquals":{"aws:CurrentTime":"2026-01-01T01:00:00+01:00"}}`, kv{"aws:CurrentTime": {"2026-01-01T00:00:00Z"}}, true},
		{"DateNotEquals", "[ops] DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2026-01-01"}}`, kv{"aws:CurrentTime": {"2026-01-02"}}, true},
		{"DateLessThanEquals", "[ops] DateLessThanEquals", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, kv{"aws:CurrentTime": {"2026-01-01T00:00:00Z"}}, true},
		{"Date bad request", "[ops] a value that is not a date does not match", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01"}}`, kv{"aws:CurrentTime": {"yesterday"}}, false},
		{"Bool true", "[ops] Bool", `{"Bool":{"aws:SecureTransport":"true"}}`, kv{"aws:SecureTransport": {"true"}}, true},
		{"Bool JSON bool", "[ops] Bool with a JSON boolean", `{"Bool":{"aws:SecureTransport":false}}`, kv{"aws:SecureTransport": {"false"}}, true},
		{"Bool mismatch", "[ops] Bool", `{"Bool":{"aws:SecureTransport":"true"}}`, kv{"aws:SecureTransport": {"false"}}, false},
		{"BoolIfExists missing", "[ops] BoolIfExists", `{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`, nil, true},
		{"BinaryEquals", "[ops] BinaryEquals compares base64 values", `{"BinaryEquals":{"k:b":"QmluYXJ5VmFsdWU="}}`, kv{"k:b": {"QmluYXJ5VmFsdWU="}}, true},
		{"BinaryEquals differs", "[ops] BinaryEquals", `{"BinaryEquals":{"k:b":"QmluYXJ5VmFsdWU="}}`, kv{"k:b": {"QmluYXJ5"}}, false},
		{"IpAddress v4", "[ops] IpAddress: CIDR", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, kv{"aws:SourceIp": {"203.0.113.7"}}, true},
		{"IpAddress v4 outside", "[ops] IpAddress", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, kv{"aws:SourceIp": {"203.0.114.7"}}, false},
		{"IpAddress bare ip", "[ops] an address without prefix is a /32", `{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`, kv{"aws:SourceIp": {"203.0.113.7"}}, true},
		{"IpAddress v6", "[ops] IpAddress takes IPv6", `{"IpAddress":{"aws:SourceIp":"2001:DB8:1234:5678::/64"}}`, kv{"aws:SourceIp": {"2001:db8:1234:5678::1"}}, true},
		{"IpAddress v4 vs v6 prefix", "[ops] an IPv4 address is not in an IPv6 range", `{"IpAddress":{"aws:SourceIp":"::/0"}}`, kv{"aws:SourceIp": {"10.0.0.1"}}, false},
		{"NotIpAddress", "[ops] NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}`, kv{"aws:SourceIp": {"192.168.1.1"}}, false},
		{"NotIpAddress outside", "[ops] NotIpAddress", `{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8"]}}`, kv{"aws:SourceIp": {"8.8.8.8"}}, true},
		{"IpAddress garbage", "[ops] a value that is not an address does not match", `{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}`, kv{"aws:SourceIp": {"nope"}}, false},
		{"Null true absent", "[ops] Null true: the key is absent", `{"Null":{"aws:TokenIssueTime":"true"}}`, nil, true},
		{"Null true present", "[ops] Null true: the key is absent", `{"Null":{"aws:TokenIssueTime":"true"}}`, kv{"aws:TokenIssueTime": {"x"}}, false},
		{"Null false present", "[ops] Null false: the key is present", `{"Null":{"aws:TokenIssueTime":false}}`, kv{"aws:TokenIssueTime": {"x"}}, true},
		{"Null false absent", "[ops] Null false: the key is present", `{"Null":{"aws:TokenIssueTime":"false"}}`, nil, false},
	})
}

func TestArnOperators(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/ci/deploy"
	runCondCases(t, "2012-10-17", []condCase{
		{"ArnEquals exact", "[ops] ArnEquals", `{"ArnEquals":{"aws:PrincipalArn":"` + role + `"}}`, kv{"aws:PrincipalArn": {role}}, true},
		{"ArnLike account wildcard", "[ops] ArnLike: each component matched separately", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/ci/*"}}`, kv{"aws:PrincipalArn": {role}}, true},
		{"ArnEquals behaves as ArnLike", "[ops] ArnEquals and ArnLike are identical", `{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}`, kv{"aws:PrincipalArn": {role}}, true},
		{"ArnLike star does not span components", "[ops] components are matched separately", `{"ArnLike":{"aws:PrincipalArn":"arn:aws:*:role/ci/deploy"}}`, kv{"aws:PrincipalArn": {role}}, false},
		{"ArnLike resource keeps colons", "[ops] the resource component may contain colons", `{"ArnLike":{"k:a":"arn:aws:logs:*:*:log-group:x:*"}}`, kv{"k:a": {"arn:aws:logs:us-east-1:1:log-group:x:log-stream:y"}}, true},
		{"ArnLike not an arn", "[ops] a value that is not an ARN does not match", `{"ArnLike":{"k:a":"arn:aws:iam::*:role/*"}}`, kv{"k:a": {"role/x"}}, false},
		{"ArnLike case-sensitive", "[ops] ARN matching is case sensitive", `{"ArnLike":{"k:a":"arn:aws:iam::*:role/CI/*"}}`, kv{"k:a": {role}}, false},
		{"ArnNotLike", "[ops] ArnNotLike", `{"ArnNotLike":{"k:a":"arn:aws:iam::*:role/ci/*"}}`, kv{"k:a": {role}}, false},
		{"ArnNotEquals missing", "[ops] negated operators are true when the key is absent", `{"ArnNotEquals":{"k:a":"arn:aws:iam::1:role/x"}}`, nil, true},
		{"ArnLikeIfExists missing", "[ops] IfExists", `{"ArnLikeIfExists":{"k:a":"arn:aws:iam::1:role/x"}}`, nil, true},
	})
}

func TestPolicyVariables(t *testing.T) {
	runCondCases(t, "2012-10-17", []condCase{
		{"variable in StringEquals", "[vars] ${key} is replaced by the request value", `{"StringEquals":{"k:owner":"${aws:username}"}}`, kv{"k:owner": {"alice"}, "aws:username": {"alice"}}, true},
		{"variable mismatch", "[vars] ${key}", `{"StringEquals":{"k:owner":"${aws:username}"}}`, kv{"k:owner": {"bob"}, "aws:username": {"alice"}}, false},
		{"variable in StringLike", "[vars] variables combine with wildcards", `{"StringLike":{"k:path":"home/${aws:username}/*"}}`, kv{"k:path": {"home/alice/x"}, "aws:username": {"alice"}}, true},
		{"variable value is literal", "[vars] a substituted value is not a wildcard", `{"StringLike":{"k:path":"home/${aws:username}"}}`, kv{"k:path": {"home/alice"}, "aws:username": {"*"}}, false},
		{"variable key case-insensitive", "[vars] variable names are key names", `{"StringEquals":{"k:owner":"${AWS:UserName}"}}`, kv{"k:owner": {"alice"}, "aws:username": {"alice"}}, true},
		{"missing variable no default", "[vars] an unresolved variable makes the value not match", `{"StringEquals":{"k:owner":"${aws:username}"}}`, kv{"k:owner": {""}}, false},
		{"default value", "[vars] ${key, 'default'}", `{"StringEquals":{"k:owner":"${aws:username, 'nobody'}"}}`, kv{"k:owner": {"nobody"}}, true},
		{"multivalued variable", "[vars] multivalued keys cannot be variables", `{"StringEquals":{"k:owner":"${k:g}"}}`, kv{"k:owner": {"a"}, "k:g": {"a", "b"}}, false},
		{"escape star", "[vars] ${*} is a literal *", `{"StringLike":{"k:a":"a${*}"}}`, kv{"k:a": {"a*"}}, true},
		{"escape star not wildcard", "[vars] ${*} is a literal *", `{"StringLike":{"k:a":"a${*}"}}`, kv{"k:a": {"ab"}}, false},
		{"escape question", "[vars] ${?} is a literal ?", `{"StringLike":{"k:a":"a${?}"}}`, kv{"k:a": {"a?"}}, true},
		{"escape dollar", "[vars] ${$} is a literal $", `{"StringEquals":{"k:a":"${$}{x}"}}`, kv{"k:a": {"${x}"}}, true},
		{"variable in ArnLike", "[vars] variables in ARN operators", `{"ArnLike":{"k:a":"arn:aws:iam::${aws:PrincipalAccount}:role/*"}}`, kv{"k:a": {"arn:aws:iam::123456789012:role/x"}, "aws:PrincipalAccount": {"123456789012"}}, true},
		{"unclosed brace literal", "[vars] text that is not a variable stays literal", `{"StringEquals":{"k:a":"${abc"}}`, kv{"k:a": {"${abc"}}, true},
	})
	runCondCases(t, "2008-10-17", []condCase{
		{"2008 variables are literal", "[vars] variables need Version 2012-10-17", `{"StringEquals":{"k:owner":"${aws:username}"}}`, kv{"k:owner": {"${aws:username}"}, "aws:username": {"alice"}}, true},
		{"2008 no substitution", "[vars] variables need Version 2012-10-17", `{"StringEquals":{"k:owner":"${aws:username}"}}`, kv{"k:owner": {"alice"}, "aws:username": {"alice"}}, false},
	})
	runCondCases(t, "", []condCase{
		{"no version literal", "[vars] without Version, variables are literal", `{"StringEquals":{"k:owner":"${aws:username}"}}`, kv{"k:owner": {"alice"}, "aws:username": {"alice"}}, false},
	})
}
