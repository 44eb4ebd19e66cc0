package sts

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/directory"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/store"
)

const (
	// trustAccount trusts the whole account: the caller's identity
	// policies must allow too.
	trustAccount = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"]}]}`
	// trustCI names the caller's role directly.
	trustCI = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"AWS":"arn:aws:iam::123456789012:role/ci"},"Action":"sts:AssumeRole"}]}`
	trustNobody = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"sts:AssumeRole"}]}`
	trustDenyCI = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"},
 {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::123456789012:role/ci"},"Action":"sts:AssumeRole"}]}`
	trustExternalID = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole",
 "Condition":{"StringEquals":{"sts:ExternalId":"ext-123"}}}]}`
	mayAssume = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Action":["sts:AssumeRole","sts:TagSession","sts:SetSourceIdentity"],"Resource":"*"}]}`
	mayAssumeOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`
)

func TestAssumeRole(t *testing.T) {
	targetARN := arn.Role(testAccount, "/", "deploy")
	denied := "User: arn:aws:sts::123456789012:assumed-role/ci/s1 is not authorized to perform: sts:AssumeRole on resource: " + targetARN
	type tc struct {
		name   string
		params func(url.Values)
		caller func(*identity.Caller) *identity.Caller
		dir    func(*testing.T, *fakeDir)

		wantCode, wantMsg string
		wantReason        string
		wantDuration      time.Duration // default 1h
		check             func(*testing.T, *AssumeRoleResult, *harness)
	}
	tests := []tc{
		{name: "baseline allowed by trust and identity policy", check: func(t *testing.T, r *AssumeRoleResult, h *harness) {
			if r.AssumedRoleUser.Arn != "arn:aws:sts::123456789012:assumed-role/deploy/s2" {
				t.Errorf("assumed role user = %+v", r.AssumedRoleUser)
			}
		}},
		{name: "trust naming the role needs no identity policy",
			dir: func(t *testing.T, d *fakeDir) {
				d.roles["deploy"] = testRole(t, "deploy", trustCI)
				d.roles["ci"] = testRole(t, "ci", trustNobody)
			}},
		{name: "trust of the account needs an identity policy", dir: func(t *testing.T, d *fakeDir) { d.roles["ci"] = testRole(t, "ci", trustNobody) },
			wantCode: awserr.CodeAccessDenied, wantMsg: denied},
		{name: "trust not allowing the caller", dir: func(t *testing.T, d *fakeDir) { d.roles["deploy"] = testRole(t, "deploy", trustNobody) },
			wantCode: awserr.CodeAccessDenied, wantMsg: denied},
		{name: "explicit deny in the trust policy", dir: func(t *testing.T, d *fakeDir) { d.roles["deploy"] = testRole(t, "deploy", trustDenyCI) },
			wantCode: awserr.CodeAccessDenied, wantMsg: denied},
		{name: "session policy of the caller bounds it", caller: func(c *identity.Caller) *identity.Caller { c.SessionPolicy = readOnly; return c },
			wantCode: awserr.CodeAccessDenied, wantMsg: denied},
		{name: "external id required and given", params: func(v url.Values) { v.Set("ExternalId", "ext-123") },
			dir: func(t *testing.T, d *fakeDir) { d.roles["deploy"] = testRole(t, "deploy", trustExternalID) }},
		{name: "external id required and wrong", params: func(v url.Values) { v.Set("ExternalId", "ext-999") },
			dir:      func(t *testing.T, d *fakeDir) { d.roles["deploy"] = testRole(t, "deploy", trustExternalID) },
			wantCode: awserr.CodeAccessDenied, wantMsg: denied},
		{name: "role chaining caps the duration at one hour", params: func(v url.Values) { v.Set("DurationSeconds", "3601") },
			dir:      func(_ *testing.T, d *fakeDir) { d.roles["deploy"].MaxSessionDuration = 43200 },
			wantCode: awserr.CodeValidation, wantMsg: "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."},
		{name: "shorter duration", params: func(v url.Values) { v.Set("DurationSeconds", "900") }, wantDuration: 15 * time.Minute},
		{name: "session name invalid", params: func(v url.Values) { v.Set("RoleSessionName", "s/2") }, wantCode: awserr.CodeValidation,
			wantMsg: `1 validation error detected: Value 's/2' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`},
		{name: "session name missing", params: func(v url.Values) { v.Del("RoleSessionName") }, wantCode: awserr.CodeValidation,
			wantMsg: "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null"},
		{name: "unsigned", caller: func(*identity.Caller) *identity.Caller { return nil },
			wantCode: awserr.CodeMissingAuth, wantMsg: "Request is missing Authentication Token"},
		{name: "root may not assume roles", caller: func(c *identity.Caller) *identity.Caller {
			return &identity.Caller{Kind: identity.Root, Account: testAccount, ARN: arn.Root(testAccount), UserID: testAccount}
		}, wantCode: awserr.CodeAccessDenied, wantMsg: "Roles may not be assumed by root accounts.", wantReason: "root caller"},
		{name: "runner credentials may not assume roles", caller: func(c *identity.Caller) *identity.Caller {
			c.Kind, c.RoleName, c.RoleARN, c.RoleID = identity.Runner, "", "", ""
			return c
		}, wantCode: awserr.CodeAccessDenied, wantMsg: denied, wantReason: "runner credentials"},
		{name: "caller's role deleted", dir: func(_ *testing.T, d *fakeDir) { delete(d.roles, "ci") },
			wantCode: awserr.CodeAccessDenied, wantMsg: denied},
		{name: "caller's role re-created", dir: func(_ *testing.T, d *fakeDir) { d.roles["ci"].ID = "AROAnew" },
			wantCode: awserr.CodeAccessDenied, wantMsg: denied},
		{name: "target role missing", params: func(v url.Values) { v.Set("RoleArn", arn.Role(testAccount, "/", "nope")) },
			wantCode: awserr.CodeAccessDenied, wantMsg: "User: arn:aws:sts::123456789012:assumed-role/ci/s1 is not authorized to perform: sts:AssumeRole on resource: " +
				arn.Role(testAccount, "/", "nope"), wantReason: "no such role in this account"},
		{name: "store unavailable", dir: func(_ *testing.T, d *fakeDir) { d.err = store.ErrUnavailable },
			wantCode: awserr.CodeServiceUnavailable, wantMsg: "Service is unavailable. Please try again later."},
		{name: "session tags", params: func(v url.Values) {
			v.Set("Tags.member.1.Key", "team")
			v.Set("Tags.member.1.Value", "a")
			v.Set("TransitiveTagKeys.member.1", "team")
		}, check: func(t *testing.T, r *AssumeRoleResult, h *harness) {
			sess, _, err := h.sealer.Open(r.Credentials.AccessKeyID, r.Credentials.SessionToken)
			if err != nil || len(sess.Tags) != 1 || sess.Tags[0].Key != "team" || len(sess.TransitiveTagKeys) != 1 {
				t.Errorf("session tags %+v transitive %v (%v)", sess.Tags, sess.TransitiveTagKeys, err)
			}
		}},
		{name: "session tags need sts:TagSession", params: func(v url.Values) {
			v.Set("Tags.member.1.Key", "team")
			v.Set("Tags.member.1.Value", "a")
		}, dir: func(t *testing.T, d *fakeDir) {
			d.roles["deploy"] = testRole(t, "deploy", strings.Replace(trustAccount, `"sts:TagSession",`, "", 1))
		}, wantCode: awserr.CodeAccessDenied, wantMsg: denied},
		{name: "session tags need the caller's sts:TagSession", params: func(v url.Values) {
			v.Set("Tags.member.1.Key", "team")
			v.Set("Tags.member.1.Value", "a")
		}, dir: func(t *testing.T, d *fakeDir) { d.roles["ci"] = testRole(t, "ci", trustNobody, mayAssumeOnly) },
			wantCode: awserr.CodeAccessDenied, wantMsg: denied},
		{name: "duplicate tag keys", params: func(v url.Values) {
			v.Set("Tags.member.1.Key", "team")
			v.Set("Tags.member.1.Value", "a")
			v.Set("Tags.member.2.Key", "Team")
			v.Set("Tags.member.2.Value", "b")
		}, wantCode: "InvalidParameterValue", wantMsg: "Duplicate tag keys found. Please note that Tag keys are case insensitive."},
		{name: "transitive key not among the tags", params: func(v url.Values) { v.Set("TransitiveTagKeys.member.1", "team") },
			wantCode: "InvalidParameterValue", wantMsg: "The specified transitive tag key must be included in the requested tags."},
		{name: "inherited transitive tag may not be overridden", params: func(v url.Values) {
			v.Set("Tags.member.1.Key", "team")
			v.Set("Tags.member.1.Value", "b")
		}, caller: func(c *identity.Caller) *identity.Caller {
			c.Tags, c.TransitiveTagKeys = []identity.Tag{{Key: "team", Value: "a"}}, []string{"team"}
			return c
		}, wantCode: "InvalidParameterValue",
			wantMsg: "One or more of the specified session tag keys conflict with transitive tags inherited from the calling session: team"},
		{name: "source identity persists", caller: func(c *identity.Caller) *identity.Caller { c.SourceIdentity = "alice"; return c },
			check: func(t *testing.T, r *AssumeRoleResult, h *harness) {
				if r.SourceIdentity != "alice" {
					t.Errorf("SourceIdentity = %q, want the caller's", r.SourceIdentity)
				}
			}},
		{name: "source identity may not change", params: func(v url.Values) { v.Set("SourceIdentity", "bob") },
			caller:   func(c *identity.Caller) *identity.Caller { c.SourceIdentity = "alice"; return c },
			wantCode: awserr.CodeValidation, wantMsg: "The source identity of a chained session must not change."},
		{name: "session policy ARN missing", params: func(v url.Values) { v.Set("PolicyArns.member.1.arn", "arn:aws:iam::123456789012:policy/gone") },
			wantCode: awserr.CodeMalformedPolicy, wantMsg: "The policy ARN does not exist or is not attachable: arn:aws:iam::123456789012:policy/gone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := &fakeDir{
				roles: map[string]*directory.Role{
					"deploy": testRole(t, "deploy", trustAccount),
					"ci":     testRole(t, "ci", trustNobody, mayAssume),
				},
				managed: map[string]string{"arn:aws:iam::123456789012:policy/ro": readOnly},
			}
			if tc.dir != nil {
				tc.dir(t, dir)
			}
			h := newHarness(t, dir)
			caller := &identity.Caller{Kind: identity.RoleSession, Account: testAccount, ARN: "arn:aws:sts::123456789012:assumed-role/ci/s1", UserID: "AROAci:s1",
				AccessKeyID: "ASIATEST", RoleARN: arn.Role(testAccount, "/", "ci"), RoleName: "ci", RoleID: "AROAci", SessionName: "s1",
				Issued: testNow.Add(-time.Minute), Expiration: testNow.Add(time.Hour)}
			if tc.caller != nil {
				caller = tc.caller(caller)
			}
			params := url.Values{"RoleArn": {targetARN}, "RoleSessionName": {"s2"}}
			if tc.params != nil {
				tc.params(params)
			}
			out, err := h.svc.AssumeRole(context.Background(), call("AssumeRole", params, caller))
			if tc.wantCode != "" {
				wantErr(t, err, tc.wantCode, tc.wantMsg)
				if tc.wantReason != "" && !strings.Contains(h.log.String(), "reason=\""+tc.wantReason+"\"") {
					t.Errorf("decision log lacks reason %q:\n%s", tc.wantReason, h.log)
				}
				if strings.Contains(h.log.String(), "verdict=allow") {
					t.Errorf("a denied call logged an allow:\n%s", h.log)
				}
				return
			}
			if err != nil {
				t.Fatalf("AssumeRole: %v", err)
			}
			r := out.(*AssumeRoleResult)
			sess, _, err := h.sealer.Open(r.Credentials.AccessKeyID, r.Credentials.SessionToken)
			if err != nil {
				t.Fatalf("minted credentials do not open: %v", err)
			}
			want := tc.wantDuration
			if want == 0 {
				want = time.Hour
			}
			if got := sess.Expiration.Sub(testNow); got != want {
				t.Errorf("session lasts %s, want %s", got, want)
			}
			if sess.RoleName != "deploy" || sess.SessionName != "s2" || !sess.Chained {
				t.Errorf("session = %+v, want a chained session of deploy named s2", sess)
			}
			if tc.check != nil {
				tc.check(t, r, &h)
			}
		})
	}
}
