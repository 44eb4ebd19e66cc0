package server_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/testkit"
)

// TestMain removes the keyless binary that tests running the real server
// build (keylessBinary) once the package's tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// clockOption runs the server on c.
func clockOption(c *testkit.Clock) servertest.Options {
	return func(cfg *server.Config) { cfg.Now = c.Now }
}

// fixture is a server with a CircleCI org issuer, its provider registered and
// the seed's role (trusting one project).
type fixture struct {
	srv          *servertest.Server
	clock        *testkit.Clock // a wall clock: real clients sign with the real time
	iam          *iam.Client
	sts          *sts.Client // root-signed
	org, project string
	providerARN  string
	roleARN      string
	providerURL  string
}

const seedTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Federated":"%s"},"Action":["sts:AssumeRoleWithWebIdentity","sts:TagSession"],
 "Condition":{"StringLike":{"%s:sub":"org/%s/project/%s/*"}}}]}`

// newFixture starts a server (with opts applied after the test clock)
// with a hosted CircleCI issuer, its provider and the seed's role.
func newFixture(t *testing.T, opts ...servertest.Options) *fixture {
	t.Helper()
	f := &fixture{clock: testkit.NewWallClock(), org: "6d3f1a2e-0000-4000-8000-000000000001", project: "aaaaaaaa-0000-4000-8000-00000000000a"}
	f.srv = servertest.Start(t, append([]servertest.Options{clockOption(f.clock)}, opts...)...)
	f.iam = iamClient(f.srv.URL, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	f.sts = stsClient(f.srv.URL, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	ctx := context.Background()
	// The issuer is created in the past so tests can mint already-expired
	// tokens (a key signs only from its creation on).
	f.clock.SetOffset(-3 * time.Hour)
	if _, err := f.srv.Issuers().Create(ctx, issuer.CreateRequest{Profile: "circleci", OrgID: f.org}); err != nil {
		t.Fatalf("create issuer: %v", err)
	}
	f.clock.SetOffset(0)
	f.providerURL = "oidc.circleci.com/org/" + f.org
	out, err := f.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://" + f.providerURL), ClientIDList: []string{f.org}})
	if err != nil {
		t.Fatalf("create provider: %v", err)
	}
	f.providerARN = aws.ToString(out.OpenIDConnectProviderArn)
	role, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("circleci-deploy"),
		AssumeRolePolicyDocument: aws.String(fmt.Sprintf(seedTrust, f.providerARN, f.providerURL, f.org, f.project))})
	if err != nil {
		t.Fatalf("create role: %v", err)
	}
	f.roleARN = aws.ToString(role.Role.Arn)
	return f
}

func (f *fixture) mint(t *testing.T, p ciclaims.Params) string {
	t.Helper()
	if p.ProjectID == "" {
		p.ProjectID = f.project
	}
	if p.UserID == "" {
		p.UserID = "bbbbbbbb-0000-4000-8000-00000000000b"
	}
	tok, err := f.srv.Issuers().Mint(context.Background(), f.org, issuer.MintRequest{Params: p})
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return tok
}

func (f *fixture) assume(ctx context.Context, token string, mod func(*sts.AssumeRoleWithWebIdentityInput)) (*sts.AssumeRoleWithWebIdentityOutput, error) {
	in := &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(f.roleARN), RoleSessionName: aws.String("CircleCI"),
		WebIdentityToken: aws.String(token)}
	if mod != nil {
		mod(in)
	}
	return anonSTS(f.srv.URL).AssumeRoleWithWebIdentity(ctx, in)
}

func stsClient(endpoint, id, secret, token string) *sts.Client {
	return sts.New(sts.Options{Region: "us-west-2", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, token),
		Retryer:     aws.NopRetryer{}})
}

func anonSTS(endpoint string) *sts.Client {
	return sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: aws.AnonymousCredentials{}, Retryer: aws.NopRetryer{}})
}

func iamClient(endpoint, id, secret, token string) *iam.Client {
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, token),
		Retryer:     aws.NopRetryer{}})
}

// wantCode asserts err is an AWS API error with the given code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want API error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code = %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}
