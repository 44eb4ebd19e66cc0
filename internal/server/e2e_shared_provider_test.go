package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/server/servertest"
)

// AWS's identity-provider controls for every provider of its shared-provider
// table, through the real server and aws-sdk-go-v2: CreateRole and
// UpdateAssumeRolePolicy refuse a trust policy that leaves the tenant claim
// unevaluated or scoped to all, with AWS's message, and accept one that
// scopes it; a refused update leaves the stored policy as it was.
func TestSharedProviderGuardrailEveryProviderOnTheWire(t *testing.T) {
	srv := servertest.Start(t)
	client := iamClient(srv.URL, servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	ctx := context.Background()
	for i, sp := range policy.SharedProviders() {
		principal := "arn:aws:iam::" + servertest.Account + ":oidc-provider/" + sp.Issuer
		if sp.Issuer == "cognito-identity.amazonaws.com" {
			principal = sp.Issuer // built in, named without an ARN
		}
		doc := func(cond string) string {
			return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":%q},`+
				`"Action":"sts:AssumeRoleWithWebIdentity","Condition":%s}]}`, principal, cond)
		}
		key := sp.Keys[0]
		scoped := doc(fmt.Sprintf(`{"StringEquals":{%q:"tenant-a"}}`, key))
		refused := map[string]string{
			"other claim only": doc(fmt.Sprintf(`{"StringEquals":{%q:"x"}}`, sp.Issuer+":amr")),
			"scoped to all":    doc(fmt.Sprintf(`{"StringLike":{%q:["*","tenant-a"]}}`, key)),
		}
		wantMsg := "Trust policy with trusted principal " + principal +
			" must evaluate, using StringEquals, StringLike or StringEqualsIgnoreCase, " +
			strings.Join(sp.Keys, " or ") + " which is not scoped to all"
		role := fmt.Sprintf("shared-%02d", i)
		t.Run(sp.Name+"/"+sp.Issuer, func(t *testing.T) {
			for name, bad := range refused {
				_, err := client.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(bad)})
				wantGuardrail(t, "CreateRole "+name, err, wantMsg)
			}
			if _, err := client.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(scoped)}); err != nil {
				t.Fatalf("CreateRole scoped: %v", err)
			}
			for name, bad := range refused {
				_, err := client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role), PolicyDocument: aws.String(bad)})
				wantGuardrail(t, "UpdateAssumeRolePolicy "+name, err, wantMsg)
			}
			got, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(role)})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(aws.ToString(got.Role.AssumeRolePolicyDocument), "tenant-a") {
				t.Fatalf("refused update replaced the trust policy: %s", aws.ToString(got.Role.AssumeRolePolicyDocument))
			}
			if _, err := client.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(role),
				PolicyDocument: aws.String(doc(fmt.Sprintf(`{"StringLike":{%q:"tenant-b*"}}`, sp.Keys[len(sp.Keys)-1])))}); err != nil {
				t.Fatalf("UpdateAssumeRolePolicy scoped: %v", err)
			}
		})
	}
}

func wantGuardrail(t *testing.T, what string, err error, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "MalformedPolicyDocument" || ae.ErrorMessage() != msg {
		t.Fatalf("%s: got %v\nwant MalformedPolicyDocument %q", what, err, msg)
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() != 400 {
		t.Fatalf("%s: HTTP %d, want 400", what, re.HTTPStatusCode())
	}
}
