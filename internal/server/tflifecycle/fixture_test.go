package tflifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/server/servertest"
)

// fixture is a server with a hosted CircleCI issuer, its provider
// registered and a role trusting one project of it.
type fixture struct {
	srv          *servertest.Server
	iam          *iam.Client
	org, project string
	roleARN      string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{org: "6d3f1a2e-0000-4000-8000-000000000001", project: "aaaaaaaa-0000-4000-8000-00000000000a"}
	f.srv = servertest.Start(t)
	f.iam = iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(f.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(servertest.RootAccessKeyID, servertest.RootSecretKey, ""),
		Retryer:     aws.NopRetryer{}})
	ctx := context.Background()
	if _, err := f.srv.Issuers().Create(ctx, issuer.CreateRequest{Profile: "circleci", OrgID: f.org}); err != nil {
		t.Fatalf("create issuer: %v", err)
	}
	providerURL := "oidc.circleci.com/org/" + f.org
	out, err := f.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://" + providerURL), ClientIDList: []string{f.org}})
	if err != nil {
		t.Fatalf("create provider: %v", err)
	}
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":%q},
		"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"%s:sub":"org/%s/project/%s/*"}}}]}`,
		aws.ToString(out.OpenIDConnectProviderArn), providerURL, f.org, f.project)
	role, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("circleci-deploy"), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatalf("create role: %v", err)
	}
	f.roleARN = aws.ToString(role.Role.Arn)
	return f
}

// mint returns a job token of org for project.
func (f *fixture) mint(t *testing.T, org, project string) string {
	t.Helper()
	tok, err := f.srv.Issuers().Mint(context.Background(), org, issuer.MintRequest{Params: ciclaims.Params{
		ProjectID: project, UserID: "bbbbbbbb-0000-4000-8000-00000000000b"}})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

func anonSTS(endpoint string) *sts.Client {
	return sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: aws.AnonymousCredentials{}, Retryer: aws.NopRetryer{}})
}

// wantCode asserts err is an AWS API error with the given code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("error = %v, want API error %s", err, code)
	}
}
