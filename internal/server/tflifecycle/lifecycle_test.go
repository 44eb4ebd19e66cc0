package tflifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keylessci/keyless/internal/cli"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/server/servertest"
)

// tfLifecycle manages every resource keyless supports with every attribute
// depending on var.v, so that changing v changes each of them; it reads
// every supported data source, and a second provider configuration
// exchanges a keyless job token with assume_role_with_web_identity.
const tfLifecycle = `
variable "v" { default = "1" }

data "aws_caller_identity" "me" {}

resource "aws_iam_openid_connect_provider" "ci" {
  url             = "https://oidc.example.com/org/tf"
  client_id_list  = var.v == "1" ? ["aud-a"] : ["aud-a", "aud-b"]
  thumbprint_list = var.v == "1" ? ["0000000000000000000000000000000000000000"] : ["1111111111111111111111111111111111111111"]
  tags            = { v = var.v }
}

data "aws_iam_policy_document" "trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.ci.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "oidc.example.com/org/tf:sub"
      values   = ["project-${var.v}"]
    }
  }
}

data "aws_iam_policy_document" "perm" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::bucket-${var.v}/*"]
  }
}

resource "aws_iam_policy" "p" {
  name        = "tfpolicy"
  path        = "/ci/"
  description = "keyless terraform test"
  policy      = data.aws_iam_policy_document.perm.json
  tags        = { v = var.v }
}

resource "aws_iam_policy" "boundary" {
  for_each = toset(["1", "2"])
  name     = "tfboundary${each.key}"
  policy   = data.aws_iam_policy_document.perm.json
}

resource "aws_iam_policy" "extra" {
  name   = "tfextra"
  policy = data.aws_iam_policy_document.perm.json
}

resource "aws_iam_role" "r" {
  name                 = "tfrole"
  path                 = var.v == "1" ? "/ci/" : "/ci/v2/"
  description          = "deploy ${var.v}"
  max_session_duration = var.v == "1" ? 3600 : 7200
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  permissions_boundary = aws_iam_policy.boundary[var.v].arn
  managed_policy_arns  = var.v == "1" ? [aws_iam_policy.p.arn] : [aws_iam_policy.p.arn, aws_iam_policy.extra.arn]
  inline_policy {
    name   = "inline${var.v}"
    policy = data.aws_iam_policy_document.perm.json
  }
  tags = { v = var.v }
}

resource "aws_iam_role" "r2" {
  name               = "tfrole2"
  assume_role_policy = data.aws_iam_policy_document.trust.json
}

resource "aws_iam_role_policy" "rp" {
  name   = "tfinline"
  role   = aws_iam_role.r2.name
  policy = data.aws_iam_policy_document.perm.json
}

resource "aws_iam_role_policy_attachment" "a" {
  role       = aws_iam_role.r2.name
  policy_arn = var.v == "1" ? aws_iam_policy.p.arn : aws_iam_policy.extra.arn
}

resource "aws_iam_policy" "exclusive" {
  name   = "tfexclusive"
  policy = data.aws_iam_policy_document.perm.json
}

# The exclusive attachment reads back with ListEntitiesForPolicy. (Not on
# tfrole: its managed_policy_arns manage that role's attachments exclusively.)
resource "aws_iam_policy_attachment" "x" {
  name       = "tfexclusive"
  policy_arn = aws_iam_policy.exclusive.arn
  roles      = [aws_iam_role.r2.name]
}

data "aws_iam_openid_connect_provider" "by_arn" { arn = aws_iam_openid_connect_provider.ci.arn }
data "aws_iam_openid_connect_provider" "by_url" {
  url        = "https://oidc.example.com/org/tf"
  depends_on = [aws_iam_openid_connect_provider.ci]
}
data "aws_iam_role" "r" { name = aws_iam_role.r.name }
data "aws_iam_policy" "by_arn" { arn = aws_iam_policy.p.arn }
data "aws_iam_policy" "by_name" { name = aws_iam_policy.p.name }

provider "aws" {
  alias                   = "ci"
  region                  = "us-east-1"
  skip_metadata_api_check = true
  endpoints {
    iam = "KEYLESS_ENDPOINT"
    sts = "KEYLESS_ENDPOINT"
  }
  assume_role_with_web_identity {
    role_arn           = "KEYLESS_ROLE_ARN"
    session_name       = "terraform"
    web_identity_token = "KEYLESS_TOKEN"
  }
}

data "aws_caller_identity" "ci" { provider = aws.ci }
data "aws_iam_role" "ci" {
  provider = aws.ci
  name     = "circleci-deploy"
}

output "account"         { value = data.aws_caller_identity.me.account_id }
output "ci_arn"          { value = data.aws_caller_identity.ci.arn }
output "ci_role_arn"     { value = data.aws_iam_role.ci.arn }
output "role_unique_id"  { value = data.aws_iam_role.r.unique_id }
output "role_boundary"   { value = data.aws_iam_role.r.permissions_boundary }
output "policy_doc"      { value = data.aws_iam_policy.by_arn.policy }
output "policy_by_name"  { value = data.aws_iam_policy.by_name.arn }
output "provider_ids"    { value = join(",", data.aws_iam_openid_connect_provider.by_arn.client_id_list) }
output "provider_by_url" { value = data.aws_iam_openid_connect_provider.by_url.arn }
`

// tfImports adopts every resource of tfLifecycle (at v = 2) by its import id.
const tfImports = `
import {
  to = aws_iam_openid_connect_provider.ci
  id = "arn:aws:iam::123456789012:oidc-provider/oidc.example.com/org/tf"
}
import {
  to = aws_iam_policy.p
  id = "arn:aws:iam::123456789012:policy/ci/tfpolicy"
}
import {
  to = aws_iam_policy.extra
  id = "arn:aws:iam::123456789012:policy/tfextra"
}
import {
  to = aws_iam_policy.boundary["1"]
  id = "arn:aws:iam::123456789012:policy/tfboundary1"
}
import {
  to = aws_iam_policy.boundary["2"]
  id = "arn:aws:iam::123456789012:policy/tfboundary2"
}
import {
  to = aws_iam_policy.exclusive
  id = "arn:aws:iam::123456789012:policy/tfexclusive"
}
import {
  to = aws_iam_role.r
  id = "tfrole"
}
import {
  to = aws_iam_role.r2
  id = "tfrole2"
}
import {
  to = aws_iam_role_policy.rp
  id = "tfrole2:tfinline"
}
import {
  to = aws_iam_role_policy_attachment.a
  id = "tfrole2/arn:aws:iam::123456789012:policy/tfextra"
}
`

// TestTerraformLifecycle drives the real terraform binary and aws provider
// against keyless: apply, plan shows no changes, every attribute changes
// in place, plan shows no changes again, every resource is imported back
// into an empty state with no changes, and destroy leaves nothing behind.
func TestTerraformLifecycle(t *testing.T) {
	mirror, version := tfProvider(t)
	f := newFixture(t)
	ctx := context.Background()
	// The role the job token assumes may read itself, so the aliased
	// provider proves its credentials work for IAM as well as STS.
	if _, err := f.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("circleci-deploy"),
		PolicyName: aws.String("read-self"), PolicyDocument: aws.String(fmt.Sprintf(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":%q}]}`, f.roleARN))}); err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("KEYLESS_ENDPOINT", f.srv.URL, "KEYLESS_ROLE_ARN", f.roleARN,
		"KEYLESS_TOKEN", f.mint(t, f.org, f.project)).Replace(tfLifecycle)
	d := newTFDir(t, mirror)
	d.write("main.tf", tfProviderBlock(version, f.srv.URL)+cfg)
	d.must("init", "-input=false")

	d.must("apply", "-input=false", "-auto-approve")
	outputs := d.outputs()
	want := map[string]string{
		"account":         servertest.Account,
		"ci_arn":          "arn:aws:sts::123456789012:assumed-role/circleci-deploy/terraform",
		"ci_role_arn":     f.roleARN,
		"role_boundary":   "arn:aws:iam::123456789012:policy/tfboundary1",
		"policy_doc":      `{"Statement":[{"Action":"s3:GetObject","Effect":"Allow","Resource":"arn:aws:s3:::bucket-1/*"}],"Version":"2012-10-17"}`,
		"policy_by_name":  "arn:aws:iam::123456789012:policy/ci/tfpolicy",
		"provider_ids":    "aud-a",
		"provider_by_url": "arn:aws:iam::123456789012:oidc-provider/oidc.example.com/org/tf",
	}
	for k, v := range want {
		if outputs[k] != v {
			t.Errorf("output %s = %q, want %q", k, outputs[k], v)
		}
	}
	role, err := f.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("tfrole")})
	if err != nil {
		t.Fatal(err)
	}
	if outputs["role_unique_id"] != aws.ToString(role.Role.RoleId) {
		t.Errorf("data aws_iam_role unique_id = %q, want %q", outputs["role_unique_id"], aws.ToString(role.Role.RoleId))
	}
	d.noChanges()

	// The policy already has the 5 versions IAM allows: the provider must
	// delete the oldest non-default one before it creates the next.
	policyARN := "arn:aws:iam::123456789012:policy/ci/tfpolicy"
	for range 4 {
		if _, err := f.iam.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(policyARN),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`)}); err != nil {
			t.Fatal(err)
		}
	}

	d.must("apply", "-input=false", "-auto-approve", "-var", "v=2")
	d.checkChanged(f.iam)
	d.noChanges("-var", "v=2")

	// Import: forget everything, adopt it back by id, and nothing differs.
	// aws_iam_policy_attachment cannot be imported, so it stays in the state.
	rm := []string{"state", "rm"}
	for _, addr := range strings.Fields(d.must("state", "list")) {
		if !strings.HasPrefix(addr, "data.") && addr != "aws_iam_policy_attachment.x" {
			rm = append(rm, addr)
		}
	}
	d.must(rm...)
	d.write("imports.tf", tfImports)
	out := d.must("apply", "-input=false", "-auto-approve", "-var", "v=2")
	if !strings.Contains(out, "10 imported, 0 added, 0 changed, 0 destroyed") {
		t.Errorf("apply with imports did not import all 10 resources unchanged:\n%s", out)
	}
	d.noChanges("-var", "v=2")

	d.must("destroy", "-input=false", "-auto-approve", "-var", "v=2")
	if left := tfLeft(t, f.iam); len(left) > 0 {
		t.Errorf("left after terraform destroy: %v", left)
	}
}

// TestTerraformSetupEmit applies what keyless setup --emit terraform
// prints, checks that plan then shows no changes and that the role admits a
// job token of the project, and destroys it.
func TestTerraformSetupEmit(t *testing.T) {
	mirror, version := tfProvider(t)
	f := newFixture(t)
	ctx := context.Background()
	org, project := "6d3f1a2e-0000-4000-8000-0000000000e1", "aaaaaaaa-0000-4000-8000-0000000000e2"
	pol, err := f.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("setup-readonly"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	env := cli.Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	if code := cli.Main(ctx, env, []string{"setup", "--ci", "circleci", "--org-id", org, "--project-id", project,
		"--role-name", "tfsetup", "--policy-arn", aws.ToString(pol.Policy.Arn), "--emit", "terraform"}); code != 0 {
		t.Fatalf("keyless setup --emit terraform: exit %d\n%s", code, stderr.String())
	}
	d := newTFDir(t, mirror)
	d.write("main.tf", tfProviderBlock(version, f.srv.URL)+stdout.String())
	// The org's issuer is hosted here; keyless refuses to host an issuer
	// whose URL is already registered as an external provider, so it comes first.
	if _, err := f.srv.Issuers().Create(ctx, issuer.CreateRequest{Profile: "circleci", OrgID: org}); err != nil {
		t.Fatal(err)
	}
	d.must("init", "-input=false")
	d.must("apply", "-input=false", "-auto-approve")
	d.noChanges()

	tok := f.mint(t, org, project)
	roleARN := d.outputs()["role_arn"]
	if _, err := anonSTS(f.srv.URL).AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("CircleCI"), WebIdentityToken: aws.String(tok)}); err != nil {
		t.Errorf("the emitted role refuses its project's job token: %v", err)
	}

	d.must("destroy", "-input=false", "-auto-approve")
	if _, err := f.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("tfsetup")}); err == nil {
		t.Error("role tfsetup is left after destroy")
	} else {
		wantCode(t, err, "NoSuchEntity")
	}
	_, err = f.iam.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{
		OpenIDConnectProviderArn: aws.String("arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/" + org)})
	wantCode(t, err, "NoSuchEntity")
}

// outputs reads terraform's string outputs.
func (d *tfDir) outputs() map[string]string {
	d.t.Helper()
	var raw map[string]struct{ Value any }
	if err := json.Unmarshal([]byte(d.must("output", "-json")), &raw); err != nil {
		d.t.Fatalf("terraform output -json: %v", err)
	}
	m := map[string]string{}
	for k, v := range raw {
		m[k] = fmt.Sprint(v.Value)
	}
	return m
}

// checkChanged verifies through IAM that the v = 2 apply changed every
// attribute, and that the managed policy was pruned to 5 versions.
func (d *tfDir) checkChanged(c *iam.Client) {
	t := d.t
	t.Helper()
	ctx := context.Background()
	role, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("tfrole")})
	if err != nil {
		t.Fatal(err)
	}
	r := role.Role
	if aws.ToInt32(r.MaxSessionDuration) != 7200 || aws.ToString(r.Description) != "deploy 2" || aws.ToString(r.Path) != "/ci/v2/" ||
		r.PermissionsBoundary == nil || aws.ToString(r.PermissionsBoundary.PermissionsBoundaryArn) != "arn:aws:iam::123456789012:policy/tfboundary2" ||
		len(r.Tags) != 1 || aws.ToString(r.Tags[0].Value) != "2" || !strings.Contains(aws.ToString(r.AssumeRolePolicyDocument), "project-2") {
		t.Errorf("role after v=2: max %d, description %q, path %q, boundary %+v, tags %+v, trust %s", aws.ToInt32(r.MaxSessionDuration),
			aws.ToString(r.Description), aws.ToString(r.Path), r.PermissionsBoundary, r.Tags, aws.ToString(r.AssumeRolePolicyDocument))
	}
	inline, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String("tfrole")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(inline.PolicyNames, []string{"inline2"}) {
		t.Errorf("inline policies of tfrole = %v, want [inline2]", inline.PolicyNames)
	}
	attachedNames := func(role string) []string {
		out, err := c.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range out.AttachedPolicies {
			names = append(names, aws.ToString(p.PolicyName))
		}
		return names
	}
	if got := attachedNames("tfrole"); !slices.Equal(got, []string{"tfextra", "tfpolicy"}) {
		t.Errorf("tfrole attached = %v, want [tfextra tfpolicy]", got)
	}
	if got := attachedNames("tfrole2"); !slices.Equal(got, []string{"tfexclusive", "tfextra"}) {
		t.Errorf("tfrole2 attached = %v, want [tfexclusive tfextra]", got)
	}
	policyARN := aws.String("arn:aws:iam::123456789012:policy/ci/tfpolicy")
	versions, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: policyARN})
	if err != nil {
		t.Fatal(err)
	}
	// Five versions, the new one (v6) the default and v1 kept; which of
	// v2..v5 went depends on how the provider breaks a tie between equal
	// CreateDates (second precision), so any one of them may.
	ids := map[string]bool{}
	for _, v := range versions.Versions {
		ids[aws.ToString(v.VersionId)] = true
		if v.IsDefaultVersion != (aws.ToString(v.VersionId) == "v6") {
			t.Errorf("version %s IsDefaultVersion = %v", aws.ToString(v.VersionId), v.IsDefaultVersion)
		}
	}
	if len(ids) != 5 || !ids["v1"] || !ids["v6"] {
		t.Errorf("policy versions = %v, want 5 with v1 and v6", ids)
	}
	def, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: policyARN, VersionId: aws.String("v6")})
	if err != nil {
		t.Fatal(err)
	}
	if doc := aws.ToString(def.PolicyVersion.Document); !strings.Contains(doc, "bucket-2") {
		t.Errorf("default version document = %s", doc)
	}
	tags, err := c.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: policyARN})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "2" {
		t.Errorf("policy tags = %+v", tags.Tags)
	}
	prov, err := c.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{
		OpenIDConnectProviderArn: aws.String("arn:aws:iam::123456789012:oidc-provider/oidc.example.com/org/tf")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(prov.ClientIDList, []string{"aud-a", "aud-b"}) ||
		!slices.Equal(prov.ThumbprintList, []string{"1111111111111111111111111111111111111111"}) ||
		!slices.EqualFunc(prov.Tags, []types.Tag{{Key: aws.String("v"), Value: aws.String("2")}}, func(a, b types.Tag) bool {
			return aws.ToString(a.Key) == aws.ToString(b.Key) && aws.ToString(a.Value) == aws.ToString(b.Value)
		}) {
		t.Errorf("provider after v=2: clients %v, thumbprints %v, tags %+v", prov.ClientIDList, prov.ThumbprintList, prov.Tags)
	}
}
