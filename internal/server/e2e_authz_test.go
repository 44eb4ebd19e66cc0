package server_test

// Round 2 authorization through the real server with aws-sdk-go-v2:
// permissions boundaries and session policies, the global condition keys of
// signed calls and AWS's "revoke active sessions" policy.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/keylessci/keyless/internal/ciclaims"
)

// session is the IAM and STS clients of one set of issued credentials.
type session struct {
	iam   *iam.Client
	sts   *sts.Client
	creds *ststypes.Credentials
}

func (f *fixture) sessionFrom(c *ststypes.Credentials) session {
	id, secret, token := aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)
	return session{iam: iamClient(f.srv.URL, id, secret, token), sts: stsClient(f.srv.URL, id, secret, token), creds: c}
}

// webSession exchanges a fresh token (claims from p) for a session of
// roleARN (the fixture's role when empty).
func (f *fixture) webSession(t *testing.T, roleARN string, p ciclaims.Params, mod func(*sts.AssumeRoleWithWebIdentityInput)) session {
	t.Helper()
	out, err := f.assume(context.Background(), f.mint(t, p), func(in *sts.AssumeRoleWithWebIdentityInput) {
		if roleARN != "" {
			in.RoleArn = aws.String(roleARN)
		}
		if mod != nil {
			mod(in)
		}
	})
	if err != nil {
		t.Fatalf("AssumeRoleWithWebIdentity: %v", err)
	}
	return f.sessionFrom(out.Credentials)
}

func (f *fixture) putRolePolicy(t *testing.T, role, name, doc string) {
	t.Helper()
	if _, err := f.iam.PutRolePolicy(context.Background(), &iam.PutRolePolicyInput{RoleName: aws.String(role),
		PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatalf("PutRolePolicy %s: %v", name, err)
	}
}

func (f *fixture) createPolicy(t *testing.T, name, doc string) string {
	t.Helper()
	out, err := f.iam.CreatePolicy(context.Background(), &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
	if err != nil {
		t.Fatalf("CreatePolicy %s: %v", name, err)
	}
	return aws.ToString(out.Policy.Arn)
}

func allow(actions ...string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["%s"],"Resource":"*"}]}`, strings.Join(actions, `","`))
}

// iamProbe calls the IAM action named by action with session s; only the
// outcome (allowed or AccessDenied) matters.
func iamProbe(ctx context.Context, s session, action string) error {
	var err error
	switch action {
	case "iam:ListRoles":
		_, err = s.iam.ListRoles(ctx, &iam.ListRolesInput{})
	case "iam:GetRole":
		_, err = s.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("circleci-deploy")})
	case "iam:ListRoleTags":
		_, err = s.iam.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: aws.String("circleci-deploy")})
	case "iam:ListPolicies":
		_, err = s.iam.ListPolicies(ctx, &iam.ListPoliciesInput{})
	case "iam:CreateRole":
		_, err = s.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("made-" + randHex(4)),
			AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}`)})
	default:
		panic("no probe for " + action)
	}
	return err
}

func wantAllowed(t *testing.T, err error, allowed bool) {
	t.Helper()
	if allowed {
		if err != nil {
			t.Fatalf("want allowed, got %v", err)
		}
		return
	}
	wantCode(t, err, "AccessDenied")
}

// TestAuthzPermissionsBoundary: a role session may do only what its
// identity policies, its role's permissions boundary and its session
// policies (Policy and PolicyArns) all allow; an explicit Deny in any of
// them wins (reference_policies_evaluation-logic, access_policies_boundaries).
func TestAuthzPermissionsBoundary(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	boundary := f.createPolicy(t, "boundary", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["iam:ListRoles","iam:GetRole","iam:ListRoleTags","iam:ListPolicies"],"Resource":"*"},
	  {"Effect":"Deny","Action":"iam:ListRoleTags","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/locked":"yes"}}}]}`)
	denyTags := f.createPolicy(t, "deny-tags", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:ListRoleTags","Resource":"*"},
	  {"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	trust := fmt.Sprintf(seedTrust, f.providerARN, f.providerURL, f.org, f.project)
	role, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("bounded"), AssumeRolePolicyDocument: aws.String(trust),
		PermissionsBoundary: aws.String(boundary)})
	if err != nil {
		t.Fatal(err)
	}
	f.putRolePolicy(t, "bounded", "identity", allow("iam:ListRoles", "iam:GetRole", "iam:ListRoleTags", "iam:CreateRole"))
	bounded := aws.ToString(role.Role.Arn)

	plain := f.webSession(t, bounded, ciclaims.Params{}, nil)
	withSession := f.webSession(t, bounded, ciclaims.Params{}, func(in *sts.AssumeRoleWithWebIdentityInput) {
		in.Policy = aws.String(allow("iam:ListRoles", "iam:ListRoleTags", "iam:CreateRole", "iam:ListPolicies"))
	})
	withArns := f.webSession(t, bounded, ciclaims.Params{}, func(in *sts.AssumeRoleWithWebIdentityInput) {
		in.PolicyArns = []ststypes.PolicyDescriptorType{{Arn: aws.String(denyTags)}}
	})
	tests := []struct {
		name    string
		s       session
		action  string
		allowed bool
	}{
		{"identity, boundary allow", plain, "iam:ListRoles", true},
		{"boundary does not allow what identity allows", plain, "iam:CreateRole", false},
		{"boundary allows what identity does not", plain, "iam:ListPolicies", false},
		{"identity and boundary allow GetRole", plain, "iam:GetRole", true},
		{"session policy does not allow", withSession, "iam:GetRole", false},
		{"all three allow", withSession, "iam:ListRoles", true},
		{"session and identity allow, boundary does not", withSession, "iam:CreateRole", false},
		{"session and boundary allow, identity does not", withSession, "iam:ListPolicies", false},
		{"explicit deny in a PolicyArns session policy", withArns, "iam:ListRoleTags", false},
		{"PolicyArns session policy allows", withArns, "iam:ListRoles", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantAllowed(t, iamProbe(ctx, tt.s, tt.action), tt.allowed)
		})
	}
	t.Run("explicit deny in the boundary wins", func(t *testing.T) {
		wantAllowed(t, iamProbe(ctx, plain, "iam:ListRoleTags"), true)
		tagged := f.webSession(t, bounded, ciclaims.Params{Extra: map[string]string{
			"https://aws.amazon.com/tags": `{"principal_tags":{"locked":["yes"]}}`}}, nil)
		wantAllowed(t, iamProbe(ctx, tagged, "iam:ListRoleTags"), false)
	})
	t.Run("boundary bounds AssumeRole through an account principal", func(t *testing.T) {
		if _, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("target"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
			t.Fatal(err)
		}
		f.putRolePolicy(t, "bounded", "assume", allow("sts:AssumeRole"))
		_, err := plain.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/target"), RoleSessionName: aws.String("chained")})
		wantCode(t, err, "AccessDenied")
		// The same identity policy without a boundary may.
		f.putRolePolicy(t, "circleci-deploy", "assume", allow("sts:AssumeRole"))
		free := f.webSession(t, "", ciclaims.Params{}, nil)
		if _, err := free.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/target"), RoleSessionName: aws.String("chained")}); err != nil {
			t.Fatalf("AssumeRole without a boundary: %v", err)
		}
	})
}

// TestAuthzGlobalConditionKeys: every global key AWS fills for the caller of
// a signed call is in the request context, with AWS's value. Each case
// allows iam:ListRoles only under one condition; the same condition with a
// wrong value must deny.
func TestAuthzGlobalConditionKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.iam.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("circleci-deploy"),
		Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String("role-team")}, {Key: aws.String("tier"), Value: aws.String("gold")}}}); err != nil {
		t.Fatal(err)
	}
	trust := strings.Replace(fmt.Sprintf(seedTrust, f.providerARN, f.providerURL, f.org, f.project), `"sts:TagSession"`, `"sts:TagSession","sts:SetSourceIdentity"`, 1)
	if _, err := f.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("circleci-deploy"), PolicyDocument: aws.String(trust)}); err != nil {
		t.Fatal(err)
	}
	before := f.clock.Now().Add(-time.Minute).UTC()
	s := f.webSession(t, "", ciclaims.Params{Extra: map[string]string{
		"https://aws.amazon.com/tags":            `{"principal_tags":{"Team":["session-team"]}}`,
		"https://aws.amazon.com/source_identity": "alice"}}, nil)
	gci, err := s.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	userID := aws.ToString(gci.UserId)
	after := f.clock.Now().Add(time.Minute).UTC()
	rfc := func(t time.Time) string { return t.Format(time.RFC3339) }
	tests := []struct {
		name       string
		cond, miss string // condition blocks that hold / do not hold
	}{
		{"aws:PrincipalArn is the role ARN", `{"ArnEquals":{"aws:PrincipalArn":"` + f.roleARN + `"}}`,
			`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:sts::123456789012:assumed-role/circleci-deploy/CircleCI"}}`},
		{"aws:PrincipalType", `{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}`, `{"StringEquals":{"aws:PrincipalType":"Account"}}`},
		{"aws:PrincipalAccount", `{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}`, `{"StringEquals":{"aws:PrincipalAccount":"210987654321"}}`},
		{"aws:userid", `{"StringEquals":{"aws:userid":"` + userID + `"}}`, `{"StringLike":{"aws:userid":"AIDA*"}}`},
		{"aws:TokenIssueTime", `{"DateGreaterThan":{"aws:TokenIssueTime":"` + rfc(before) + `"},"DateLessThan":{"aws:TokenIssueTime":"` + rfc(after) + `"}}`,
			`{"DateGreaterThan":{"aws:TokenIssueTime":"` + rfc(after) + `"}}`},
		{"aws:SourceIdentity", `{"StringEquals":{"aws:SourceIdentity":"alice"}}`, `{"StringEquals":{"aws:SourceIdentity":"bob"}}`},
		{"aws:PrincipalTag from the role", `{"StringEquals":{"aws:PrincipalTag/tier":"gold"}}`, `{"StringEquals":{"aws:PrincipalTag/tier":"silver"}}`},
		{"session tag overrides the role tag", `{"StringEquals":{"aws:PrincipalTag/team":"session-team"}}`, `{"StringEquals":{"aws:PrincipalTag/team":"role-team"}}`},
		{"aws:RequestedRegion", `{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}`, `{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}`},
		{"aws:SecureTransport", `{"Bool":{"aws:SecureTransport":"false"}}`, `{"Bool":{"aws:SecureTransport":"true"}}`},
		{"aws:SourceIp", `{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}`, `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`},
		{"aws:CurrentTime", `{"DateGreaterThan":{"aws:CurrentTime":"` + rfc(before) + `"}}`, `{"DateGreaterThan":{"aws:CurrentTime":"` + rfc(after) + `"}}`},
		{"aws:EpochTime", fmt.Sprintf(`{"NumericGreaterThan":{"aws:EpochTime":"%d"}}`, before.Unix()), fmt.Sprintf(`{"NumericGreaterThan":{"aws:EpochTime":"%d"}}`, after.Unix())},
		{"aws:FederatedProvider", `{"StringEquals":{"aws:FederatedProvider":"` + f.providerARN + `"}}`, `{"StringEquals":{"aws:FederatedProvider":"arn:aws:iam::123456789012:oidc-provider/x"}}`},
		{"provider sub key carries over", `{"StringLike":{"` + f.providerURL + `:sub":"org/` + f.org + `/project/` + f.project + `/*"}}`,
			`{"StringLike":{"` + f.providerURL + `:sub":"org/other/*"}}`},
		{"aws:PrincipalIsAWSService", `{"Bool":{"aws:PrincipalIsAWSService":"false"}}`, `{"Bool":{"aws:PrincipalIsAWSService":"true"}}`},
		{"aws:UserAgent", `{"StringLike":{"aws:UserAgent":"*aws-sdk-go-v2*"}}`, `{"StringLike":{"aws:UserAgent":"curl/*"}}`},
		{"aws:ViaAWSService", `{"Bool":{"aws:ViaAWSService":"false"}}`, `{"Bool":{"aws:ViaAWSService":"true"}}`},
		{"aws:username is for IAM users only", `{"Null":{"aws:username":"true"}}`, `{"Null":{"aws:username":"false"}}`},
	}
	probe := func(cond string) error {
		f.putRolePolicy(t, "circleci-deploy", "probe", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListRoles","Resource":"*","Condition":`+cond+`}]}`)
		_, err := s.iam.ListRoles(ctx, &iam.ListRolesInput{})
		return err
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := probe(tt.cond); err != nil {
				t.Errorf("condition %s: %v", tt.cond, err)
			}
			if err := probe(tt.miss); err == nil {
				t.Errorf("condition %s allowed", tt.miss)
			} else {
				wantCode(t, err, "AccessDenied")
			}
		})
	}
}

// TestAuthzRevokeOlderSessions: AWS's "revoke active sessions" policy (an
// inline Deny of everything when aws:TokenIssueTime is before the moment of
// revocation, id_roles_use_revoke-sessions) stops every earlier session of
// the role at once, and sessions issued afterwards work.
func TestAuthzRevokeOlderSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.putRolePolicy(t, "circleci-deploy", "read", allow("iam:ListRoles"))
	old := f.webSession(t, "", ciclaims.Params{}, nil)
	if _, err := old.iam.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	revokedAt := f.clock.Now().Add(30 * time.Second).UTC().Format(time.RFC3339)
	f.putRolePolicy(t, "circleci-deploy", "AWSRevokeOlderSessions", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],
	  "Condition":{"DateLessThan":{"aws:TokenIssueTime":"`+revokedAt+`"}}}]}`)
	f.clock.SetOffset(time.Minute)
	defer f.clock.SetOffset(0)
	_, err := old.iam.ListRoles(ctx, &iam.ListRolesInput{})
	wantCode(t, err, "AccessDenied")
	fresh := f.webSession(t, "", ciclaims.Params{}, nil)
	if _, err := fresh.iam.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
		t.Fatalf("session issued after revocation: %v", err)
	}
}
