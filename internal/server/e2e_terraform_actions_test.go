package server_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/server/servertest"
)

// sts:GetAccessKeyInfo through aws-sdk-go-v2: the account of any well-formed
// key id (AWS never says whether the key exists), AWS's validation, and the
// permission a session needs.
func TestGetAccessKeyInfoOnTheWire(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, id := range []string{servertest.RootAccessKeyID, "ASIAEXAMPLEEXAMPLE01", "AKIAIOSFODNN7EXAMPLE"} {
		out, err := f.sts.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(id)})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if aws.ToString(out.Account) != servertest.Account {
			t.Errorf("%s: Account %q, want %s", id, aws.ToString(out.Account), servertest.Account)
		}
	}
	for _, bad := range []string{"AKIA", "AKIA-NOT-A-KEY-ID-0", ""} {
		_, err := f.sts.GetAccessKeyInfo(ctx, &sts.GetAccessKeyInfoInput{AccessKeyId: aws.String(bad)})
		wantCode(t, err, "ValidationError")
	}

	// A session may ask only with sts:GetAccessKeyInfo.
	creds, err := f.assume(ctx, f.mint(t, ciclaims.Params{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := creds.Credentials
	session := stsClient(f.srv.URL, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	in := &sts.GetAccessKeyInfoInput{AccessKeyId: c.AccessKeyId}
	_, err = session.GetAccessKeyInfo(ctx, in)
	wantCode(t, err, "AccessDenied")
	if _, err := f.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("circleci-deploy"), PolicyName: aws.String("keyinfo"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:GetAccessKeyInfo","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	out, err := session.GetAccessKeyInfo(ctx, in)
	if err != nil || aws.ToString(out.Account) != servertest.Account {
		t.Fatalf("with sts:GetAccessKeyInfo: %v %v", out, err)
	}
}

// iam:ListEntitiesForPolicy through aws-sdk-go-v2 and its paginator: the
// roles a policy is attached to or bounds, filtered as asked.
func TestListEntitiesForPolicyOnTheWire(t *testing.T) {
	srv := servertest.Start(t)
	client := iamClient(srv.URL, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	ctx := context.Background()
	const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + servertest.Account + `"},"Action":"sts:AssumeRole"}]}`
	pol, err := client.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	arn := pol.Policy.Arn
	ids := map[string]string{}
	for _, name := range []string{"r1", "r2", "r3"} {
		r, err := client.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = aws.ToString(r.Role.RoleId)
	}
	if _, err := client.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("r1"), PolicyArn: arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("r2"), PolicyArn: arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("r3"), PermissionsBoundary: arn}); err != nil {
		t.Fatal(err)
	}
	list := func(in iam.ListEntitiesForPolicyInput) []string {
		t.Helper()
		in.PolicyArn = arn
		in.MaxItems = aws.Int32(1)
		var names []string
		for p := iam.NewListEntitiesForPolicyPaginator(client, &in); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.PolicyUsers) != 0 || len(out.PolicyGroups) != 0 {
				t.Fatalf("users or groups: %+v", out)
			}
			for _, r := range out.PolicyRoles {
				if aws.ToString(r.RoleId) != ids[aws.ToString(r.RoleName)] {
					t.Errorf("%s: RoleId %s", aws.ToString(r.RoleName), aws.ToString(r.RoleId))
				}
				names = append(names, aws.ToString(r.RoleName))
			}
		}
		return names
	}
	tests := []struct {
		name string
		in   iam.ListEntitiesForPolicyInput
		want string
	}{
		{"all", iam.ListEntitiesForPolicyInput{}, "r1 r2 r3"},
		{"attached", iam.ListEntitiesForPolicyInput{PolicyUsageFilter: iamtypes.PolicyUsageTypePermissionsPolicy}, "r1 r2"},
		{"boundary", iam.ListEntitiesForPolicyInput{PolicyUsageFilter: iamtypes.PolicyUsageTypePermissionsBoundary}, "r3"},
		{"users", iam.ListEntitiesForPolicyInput{EntityFilter: iamtypes.EntityTypeUser}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			for i, n := range list(tt.in) {
				if i > 0 {
					got += " "
				}
				got += n
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	_, err = client.ListEntitiesForPolicy(ctx, &iam.ListEntitiesForPolicyInput{PolicyArn: aws.String("arn:aws:iam::" + servertest.Account + ":policy/none")})
	wantCode(t, err, "NoSuchEntity")
}
