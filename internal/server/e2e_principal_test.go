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
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/server/servertest"
)

// Principal forms of a trust policy, through the real server and clients:
// {"AWS":"*"} is documented as equivalent to "*" and admits a web identity;
// an account principal does not.
func TestWebIdentityPrincipalForms(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.mint(t, ciclaims.Params{})
	trust := func(principal string) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":%s,"Action":"sts:AssumeRoleWithWebIdentity",`+
			`"Condition":{"StringEquals":{"%s:aud":"%s"}}}]}`, principal, f.providerURL, f.org)
	}
	tests := []struct {
		name, principal string
		allow           bool
	}{
		{"star", `"*"`, true},
		{"AWS star", `{"AWS":"*"}`, true},
		{"federated list", fmt.Sprintf(`{"Federated":["accounts.google.com","%s"]}`, f.providerARN), true},
		{"account id", `{"AWS":"` + servertest.Account + `"}`, false},
		{"root ARN", `{"AWS":"arn:aws:iam::` + servertest.Account + `:root"}`, false},
		{"service", `{"Service":"ec2.amazonaws.com"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
				RoleName: aws.String("circleci-deploy"), PolicyDocument: aws.String(trust(tt.principal))}); err != nil {
				t.Fatal(err)
			}
			_, err := f.assume(ctx, tok, nil)
			if tt.allow && err != nil {
				t.Fatalf("refused: %v", err)
			}
			var ae smithy.APIError
			if !tt.allow && (!errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied") {
				t.Fatalf("got %v, want AccessDenied", err)
			}
		})
	}
}

// AWS's guardrail for shared OIDC providers, as aws-sdk-go-v2 sees it.
func TestSharedProviderGuardrailOnTheWire(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const gh = "arn:aws:iam::" + servertest.Account + ":oidc-provider/token.actions.githubusercontent.com"
	doc := func(cond string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + gh +
			`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + cond + `}]}`
	}
	_, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("gh"),
		AssumeRolePolicyDocument: aws.String(doc(`{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}`))})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "MalformedPolicyDocument" ||
		!strings.HasPrefix(ae.ErrorMessage(), "Trust policy with trusted principal "+gh+" must evaluate, using StringEquals") {
		t.Fatalf("CreateRole without sub: %v", err)
	}
	if _, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("gh"),
		AssumeRolePolicyDocument: aws.String(doc(`{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/app:*"}}`))}); err != nil {
		t.Fatalf("CreateRole with sub: %v", err)
	}
}
