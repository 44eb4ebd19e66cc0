package policy

import (
	"errors"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
)

// IAM's checks of identity and managed policy documents: each violation
// gives the message IAM gives, and the phase order decides which one a
// document with several problems gets. The messages are those AWS returns
// (collected against AWS for moto's policy validator and its
// test_iam_policies cases; the documents here are keyless's own).
func TestIAMDocumentChecks(t *testing.T) {
	const okStmt = `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/key"}`
	doc := func(stmts string) string { return `{"Version":"2012-10-17","Statement":` + stmts + `}` }
	stmt := func(body string) string { return doc(`{"Effect":"Allow",` + body + `}`) }
	tests := []struct {
		name string
		kind Kind
		doc  string
		msg  string // "" = accepted
	}{
		{"baseline", Managed, doc(okStmt), ""},
		{"managed without Version", Managed, `{"Statement":` + okStmt + `}`, "Policy document must be version 2012-10-17 or greater."},
		{"managed 2008 Version", Managed, `{"Version":"2008-10-17","Statement":` + okStmt + `}`, "Policy document must be version 2012-10-17 or greater."},
		{"identity without Version", Identity, `{"Statement":` + okStmt + `}`, ""},
		{"syntax before version", Managed, `{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Bogus":1}}`, "Syntax errors in policy."},
		{"version before legacy parsing", Managed, `{"Statement":{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}}`, "Policy document must be version 2012-10-17 or greater."},
		{"effect spelled in lower case", Managed, doc(`{"Effect":"deny","Action":"s3:GetObject","Resource":"*"}`), "The policy failed legacy parsing"},
		{"effect not allow or deny", Managed, doc(`{"Effect":"Permit","Action":"s3:GetObject","Resource":"*"}`), "Syntax errors in policy."},
		{"space in vendor", Managed, stmt(`"Action":"s 3:GetObject","Resource":"*"`), "Vendor s 3 is not valid"},
		{"two colons", Managed, stmt(`"Action":"s3:Get:Object","Resource":"*"`), "Actions/Condition can contain only one colon."},
		{"no vendor", Managed, stmt(`"Action":"GetObject","Resource":"*"`), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{"NotAction checked too", Identity, stmt(`"NotAction":"iam:Get:Role","Resource":"*"`), "Actions/Condition can contain only one colon."},
		{"action star", Managed, stmt(`"Action":"*","Resource":"*"`), ""},
		{"resource not an ARN", Managed, stmt(`"Action":"s3:GetObject","Resource":"bucket"`), `Resource bucket must be in ARN format or "*".`},
		{"resource empty", Managed, stmt(`"Action":"s3:GetObject","Resource":""`), `Resource  must be in ARN format or "*".`},
		{"bad partition", Managed, stmt(`"Action":"s3:GetObject","Resource":"arn:amazon:s3:::bucket"`), `Partition "amazon" is not valid for resource "arn:amazon:s3:::bucket".`},
		{"bad partition short", Managed, stmt(`"Action":"s3:GetObject","Resource":"x:y"`), `Partition "y" is not valid for resource "arn:y:*:*:*:*".`},
		{"bad partition long", Managed, stmt(`"Action":"s3:GetObject","Resource":"x:y:a:b:c:d:e"`), `Partition "y" is not valid for resource "arn:y:a:b:c:d:e".`},
		{"china partition", Managed, stmt(`"Action":"s3:GetObject","Resource":"arn:aws-cn:s3:::bucket"`), ""},
		{"partition without vendor", Managed, stmt(`"Action":"s3:GetObject","Resource":"arn:aws"`), "Resource vendor must be fully qualified and cannot contain regexes."},
		{"region in IAM ARN", Managed, stmt(`"Action":"iam:GetRole","Resource":"arn:aws:iam:us-east-1:123456789012:role/x"`), "IAM resource arn:aws:iam:us-east-1:123456789012:role/x cannot contain region information."},
		{"region in S3 ARN", Managed, stmt(`"Action":"s3:GetObject","Resource":"arn:aws:s3:eu-west-1::bucket"`), "Resource arn:aws:s3:eu-west-1::bucket can not contain region information."},
		{"region in S3 access point", Managed, stmt(`"Action":"s3:GetObject","Resource":"arn:aws:s3:eu-west-1:123456789012:accesspoint/ap"`), ""},
		{"IAM resource type", Managed, stmt(`"Action":"iam:GetRole","Resource":"arn:aws:iam::123456789012:thing/x"`), `IAM resource path must either be "*" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.`},
		{"IAM resource variable", Managed, stmt(`"Action":"iam:GetRole","Resource":"arn:aws:iam::${aws:PrincipalAccount}:role/x"`), ""},
		{"ARN missing a component", Managed, stmt(`"Action":"s3:GetObject","Resource":"arn:aws:s3::bucket"`), "The policy failed legacy parsing"},
		{"ARN without service", Managed, stmt(`"Action":"s3:GetObject","Resource":"arn:aws::::bucket"`), "The policy failed legacy parsing"},
		{"NotResource malformed", Identity, stmt(`"Action":"s3:GetObject","NotResource":"arn:aws:s3::bucket"`), "The policy failed legacy parsing"},
		{"first reported of a list", Managed, stmt(`"Action":"s3:GetObject","Resource":["arn:bad:s3:::b","arn:bad:s3::b"]`), `Partition "bad" is not valid for resource "arn:bad:s3:::b".`},
		{"null in a resource list", Managed, stmt(`"Action":"s3:GetObject","Resource":["arn:aws:s3:::b",null]`), ""},
		{"sid before resources", Managed, doc(`[{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"bucket"},{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]`), "Statement IDs (SID) in a single policy must be unique."},
		{"actions before resources", Managed, stmt(`"Resource":"bucket"`), "Policy statement must contain actions."},
		{"resources before prefixes", Managed, stmt(`"Action":"GetObject","Resource":"bucket"`), `Resource bucket must be in ARN format or "*".`},
		{"condition value object", Managed, stmt(`"Action":"s3:GetObject","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":{}}}`), "Syntax errors in policy."},
		{"date not a date", Managed, stmt(`"Action":"s3:GetObject","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"yesterday"}}`), "The policy failed legacy parsing"},
		{"date month 13", Managed, stmt(`"Action":"s3:GetObject","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2026-13-01"}}`), "The policy failed legacy parsing"},
		{"epoch beyond int64", Managed, stmt(`"Action":"s3:GetObject","Resource":"*","Condition":{"DateLessThan":{"aws:EpochTime":"9223372036854775808"}}`), "The policy failed legacy parsing"},
		{"date with zone", Managed, stmt(`"Action":"s3:GetObject","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2026-12-04T13:00:00.5+01:00"}}`), ""},
		{"unknown operator empty", Managed, stmt(`"Action":"s3:GetObject","Resource":"*","Condition":{"NoSuchOperator":{}}`), ""},
		{"unknown operator used", Managed, stmt(`"Action":"s3:GetObject","Resource":"*","Condition":{"NoSuchOperator":{"aws:username":"x"}}`), "Syntax errors in policy."},
		{"trust policy untouched", Trust, `{"Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseNew(tt.doc, tt.kind)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("rejected: %v\n%s", err, tt.doc)
				}
				return
			}
			var ae *awserr.Error
			if !errors.As(err, &ae) || ae.Code != awserr.CodeMalformedPolicy || ae.Status != 400 || ae.Message != tt.msg {
				t.Fatalf("got %v\nwant MalformedPolicyDocument %q\n%s", err, tt.msg, tt.doc)
			}
		})
	}
}

// A document stored before a write-time check existed keeps loading: AWS
// does not re-validate stored policies, and the server loads them with Parse.
func TestStoredDocumentsNotRechecked(t *testing.T) {
	for _, doc := range []string{
		`{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:eu-west-1::bucket"}}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get:Object","Resource":"*"}}`,
	} {
		if _, err := ParseNew(doc, Managed); err == nil {
			t.Fatalf("ParseNew accepted %s", doc)
		}
		if _, err := Parse(doc, Managed); err != nil {
			t.Errorf("Parse of a stored document: %v\n%s", err, doc)
		}
	}
}
