package iam

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/testkit"
)

// wireClient serves the IAM handlers behind a minimal query-protocol
// server (no signature checking: authentication is not this package's job)
// and returns an aws-sdk-go-v2 IAM client pointed at it.
func wireClient(t *testing.T, st Store) *awsiam.Client {
	t.Helper()
	svc, err := New(Config{Store: st, Account: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	actions := svc.Actions()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const rid = "11111111-2222-3333-4444-555555555555"
		req, err := awsquery.Decode(r)
		if err != nil {
			awsquery.WriteError(w, awsquery.NamespaceIAM, rid, err)
			return
		}
		act, ok := actions[req.Action]
		if !ok {
			awsquery.WriteError(w, awsquery.NamespaceIAM, rid, awsquery.InvalidAction(req.Action, req.Version))
			return
		}
		call := &awsquery.Call{
			Request: req, RequestID: rid, Now: time.Now(),
			Caller: &identity.Caller{Kind: identity.Root, Account: testAccount},
		}
		res, err := act.Serve(r.Context(), call, func(context.Context, *awsquery.Call, string, string) error { return nil })
		if err != nil {
			awsquery.WriteError(w, awsquery.NamespaceIAM, rid, err)
			return
		}
		awsquery.WriteResult(w, awsquery.NamespaceIAM, req.Action, rid, res)
	}))
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret", ""),
		HTTPClient:  srv.Client(),
	}
	return awsiam.NewFromConfig(cfg, func(o *awsiam.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.RetryMaxAttempts = 1
	})
}

// backends runs fn against the tests' store (testkit.Store, SQLite).
func backends(t *testing.T, fn func(t *testing.T, c *awsiam.Client)) {
	fn(t, wireClient(t, testkit.Store(t)))
}

func TestWireProviders(t *testing.T) {
	backends(t, func(t *testing.T, c *awsiam.Client) {
		ctx := context.Background()
		created, err := c.CreateOpenIDConnectProvider(ctx, &awsiam.CreateOpenIDConnectProviderInput{
			Url:            aws.String("https://localhost:8443/ci"),
			ClientIDList:   []string{"sts.amazonaws.com"},
			ThumbprintList: []string{thumbA},
			Tags:           []types.Tag{{Key: aws.String("team"), Value: aws.String("infra")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		arn := aws.ToString(created.OpenIDConnectProviderArn)
		if arn != "arn:aws:iam::123456789012:oidc-provider/localhost:8443/ci" || len(created.Tags) != 1 {
			t.Fatalf("created %s %+v", arn, created.Tags)
		}
		got, err := c.GetOpenIDConnectProvider(ctx, &awsiam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(got.Url) != "localhost:8443/ci" || !slices.Equal(got.ClientIDList, []string{"sts.amazonaws.com"}) ||
			!slices.Equal(got.ThumbprintList, []string{thumbA}) || got.CreateDate == nil || got.CreateDate.IsZero() || len(got.Tags) != 1 {
			t.Errorf("GetOpenIDConnectProvider %+v", got)
		}
		if _, err := c.AddClientIDToOpenIDConnectProvider(ctx, &awsiam.AddClientIDToOpenIDConnectProviderInput{
			OpenIDConnectProviderArn: &arn, ClientID: aws.String("other")}); err != nil {
			t.Fatal(err)
		}
		list, err := c.ListOpenIDConnectProviders(ctx, &awsiam.ListOpenIDConnectProvidersInput{})
		if err != nil || len(list.OpenIDConnectProviderList) != 1 || aws.ToString(list.OpenIDConnectProviderList[0].Arn) != arn {
			t.Fatalf("List %+v %v", list, err)
		}
		_, err = c.CreateOpenIDConnectProvider(ctx, &awsiam.CreateOpenIDConnectProviderInput{Url: aws.String("https://localhost:8443/ci")})
		var exists *types.EntityAlreadyExistsException
		if !errors.As(err, &exists) || exists.ErrorMessage() != "Provider with url https://localhost:8443/ci already exists." {
			t.Errorf("duplicate create: %v", err)
		}
		_, err = c.CreateOpenIDConnectProvider(ctx, &awsiam.CreateOpenIDConnectProviderInput{Url: aws.String("http://plain.example")})
		var invalid *types.InvalidInputException
		if !errors.As(err, &invalid) {
			t.Errorf("http url: %v", err)
		}
		if _, err := c.DeleteOpenIDConnectProvider(ctx, &awsiam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn}); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetOpenIDConnectProvider(ctx, &awsiam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: &arn})
		var missing *types.NoSuchEntityException
		if !errors.As(err, &missing) {
			t.Errorf("get after delete: %v", err)
		}
	})
}

func TestWireRolesAndInlinePolicies(t *testing.T) {
	backends(t, func(t *testing.T, c *awsiam.Client) {
		ctx := context.Background()
		created, err := c.CreateRole(ctx, &awsiam.CreateRoleInput{
			RoleName: aws.String("deploy"), Path: aws.String("/ci/"), AssumeRolePolicyDocument: aws.String(trustDoc),
			Description: aws.String("deploys"),
		})
		if err != nil {
			t.Fatal(err)
		}
		r := created.Role
		if aws.ToString(r.Arn) != "arn:aws:iam::123456789012:role/ci/deploy" || len(aws.ToString(r.RoleId)) != 21 || r.MaxSessionDuration != nil {
			t.Errorf("CreateRole %+v", r)
		}
		got, err := c.GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String("deploy")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(got.Role.MaxSessionDuration) != 3600 || got.Role.RoleLastUsed == nil || aws.ToString(got.Role.Description) != "deploys" {
			t.Errorf("GetRole %+v", got.Role)
		}
		if doc, _ := url.QueryUnescape(aws.ToString(got.Role.AssumeRolePolicyDocument)); doc != trustDoc {
			t.Errorf("trust document %q", doc)
		}
		list, err := c.ListRoles(ctx, &awsiam.ListRolesInput{})
		if err != nil || len(list.Roles) != 1 || list.IsTruncated || aws.ToInt32(list.Roles[0].MaxSessionDuration) != 3600 {
			t.Fatalf("ListRoles %+v %v", list, err)
		}

		if _, err := c.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{
			RoleName: aws.String("deploy"), PolicyName: aws.String("s3"), PolicyDocument: aws.String(permDoc)}); err != nil {
			t.Fatal(err)
		}
		pol, err := c.GetRolePolicy(ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String("deploy"), PolicyName: aws.String("s3")})
		if err != nil {
			t.Fatal(err)
		}
		enc := aws.ToString(pol.PolicyDocument)
		if enc != URLEncodePolicy(permDoc) {
			t.Errorf("SDK sees %q, want the URL-encoded document", enc)
		}
		if doc, err := url.QueryUnescape(enc); err != nil || doc != permDoc {
			t.Errorf("QueryUnescape = %q, %v", doc, err)
		}
		names, err := c.ListRolePolicies(ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String("deploy")})
		if err != nil || !slices.Equal(names.PolicyNames, []string{"s3"}) {
			t.Errorf("ListRolePolicies %+v %v", names, err)
		}

		_, err = c.DeleteRole(ctx, &awsiam.DeleteRoleInput{RoleName: aws.String("deploy")})
		var conflict *types.DeleteConflictException
		if !errors.As(err, &conflict) {
			t.Errorf("DeleteRole with policies: %v", err)
		}
		_, err = c.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("DEPLOY"), AssumeRolePolicyDocument: aws.String(trustDoc)})
		var exists *types.EntityAlreadyExistsException
		if !errors.As(err, &exists) {
			t.Errorf("duplicate role: %v", err)
		}
		_, err = c.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("x"), AssumeRolePolicyDocument: aws.String("{nope")})
		var malformed *types.MalformedPolicyDocumentException
		if !errors.As(err, &malformed) || malformed.ErrorMessage() != "This policy contains invalid Json" {
			t.Errorf("malformed trust: %v", err)
		}
		_, err = c.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("a b"), AssumeRolePolicyDocument: aws.String(trustDoc)})
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "ValidationError" ||
			api.ErrorMessage() != `1 validation error detected: Value 'a b' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+` {
			t.Errorf("bad role name: %v", err)
		}
		_, err = c.GetRole(ctx, &awsiam.GetRoleInput{RoleName: aws.String("nope")})
		var missing *types.NoSuchEntityException
		if !errors.As(err, &missing) || missing.ErrorMessage() != "The role with name nope cannot be found." {
			t.Errorf("missing role: %v", err)
		}
		if _, err := c.DeleteRolePolicy(ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String("deploy"), PolicyName: aws.String("s3")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteRole(ctx, &awsiam.DeleteRoleInput{RoleName: aws.String("deploy")}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestWireManagedPolicies(t *testing.T) {
	backends(t, func(t *testing.T, c *awsiam.Client) {
		ctx := context.Background()
		if _, err := c.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("deploy"), AssumeRolePolicyDocument: aws.String(trustDoc)}); err != nil {
			t.Fatal(err)
		}
		created, err := c.CreatePolicy(ctx, &awsiam.CreatePolicyInput{PolicyName: aws.String("ReadS3"), Path: aws.String("/ci/"), PolicyDocument: aws.String(permDoc)})
		if err != nil {
			t.Fatal(err)
		}
		p := created.Policy
		arn := aws.ToString(p.Arn)
		if arn != policyARN || aws.ToString(p.DefaultVersionId) != "v1" || !p.IsAttachable || aws.ToInt32(p.AttachmentCount) != 0 {
			t.Errorf("CreatePolicy %+v", p)
		}
		if _, err := c.AttachRolePolicy(ctx, &awsiam.AttachRolePolicyInput{RoleName: aws.String("deploy"), PolicyArn: &arn}); err != nil {
			t.Fatal(err)
		}
		att, err := c.ListAttachedRolePolicies(ctx, &awsiam.ListAttachedRolePoliciesInput{RoleName: aws.String("deploy")})
		if err != nil || len(att.AttachedPolicies) != 1 || aws.ToString(att.AttachedPolicies[0].PolicyArn) != arn {
			t.Fatalf("ListAttachedRolePolicies %+v %v", att, err)
		}
		pols, err := c.ListPolicies(ctx, &awsiam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal, OnlyAttached: true})
		if err != nil || len(pols.Policies) != 1 || aws.ToInt32(pols.Policies[0].AttachmentCount) != 1 {
			t.Fatalf("ListPolicies %+v %v", pols, err)
		}
		ver, err := c.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: &arn, VersionId: aws.String("v1")})
		if err != nil {
			t.Fatal(err)
		}
		if doc, _ := url.QueryUnescape(aws.ToString(ver.PolicyVersion.Document)); doc != permDoc || !ver.PolicyVersion.IsDefaultVersion {
			t.Errorf("GetPolicyVersion %+v", ver.PolicyVersion)
		}

		_, err = c.DeletePolicy(ctx, &awsiam.DeletePolicyInput{PolicyArn: &arn})
		var conflict *types.DeleteConflictException
		if !errors.As(err, &conflict) {
			t.Errorf("DeletePolicy while attached: %v", err)
		}
		_, err = c.AttachRolePolicy(ctx, &awsiam.AttachRolePolicyInput{RoleName: aws.String("deploy"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonS3FullAccess")})
		var missing *types.NoSuchEntityException
		if !errors.As(err, &missing) || missing.ErrorMessage() != "Policy arn:aws:iam::aws:policy/AmazonS3FullAccess does not exist or is not attachable." {
			t.Errorf("attach an AWS managed policy keyless lacks: %v", err)
		}
		// The AWS managed policies keyless holds attach through the real store.
		admin := aws.String("arn:aws:iam::aws:policy/AdministratorAccess")
		if _, err := c.AttachRolePolicy(ctx, &awsiam.AttachRolePolicyInput{RoleName: aws.String("deploy"), PolicyArn: admin}); err != nil {
			t.Errorf("attach AdministratorAccess: %v", err)
		}
		if got, err := c.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: admin}); err != nil || aws.ToInt32(got.Policy.AttachmentCount) != 1 {
			t.Errorf("GetPolicy AdministratorAccess after attach: %+v %v", got, err)
		}
		if _, err := c.DetachRolePolicy(ctx, &awsiam.DetachRolePolicyInput{RoleName: aws.String("deploy"), PolicyArn: admin}); err != nil {
			t.Errorf("detach AdministratorAccess: %v", err)
		}
		_, err = c.CreatePolicy(ctx, &awsiam.CreatePolicyInput{PolicyName: aws.String("Big"), PolicyDocument: aws.String(bigDoc(6145))})
		var limit *types.LimitExceededException
		if !errors.As(err, &limit) || limit.ErrorMessage() != "Cannot exceed quota for PolicySize: 6144" {
			t.Errorf("oversized policy: %v", err)
		}
		_, err = c.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::123456789012:role/not-a-policy")})
		var invalid *types.InvalidInputException
		if !errors.As(err, &invalid) {
			t.Errorf("role ARN as policy ARN: %v", err)
		}

		if _, err := c.DetachRolePolicy(ctx, &awsiam.DetachRolePolicyInput{RoleName: aws.String("deploy"), PolicyArn: &arn}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeletePolicy(ctx, &awsiam.DeletePolicyInput{PolicyArn: &arn}); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: &arn})
		if !errors.As(err, &missing) {
			t.Errorf("GetPolicy after delete: %v", err)
		}
	})
}
