package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keylessci/keyless/internal/audit"
	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/store"
)

// corpusAccount is the account the audit corpus's provider ARNs name.
const corpusAccount = "111122223333"

type corpusFile struct {
	Role        string   `json:"role"`
	Owner       string   `json:"owner"`
	Permissions []string `json:"permissions"`
	Want        []struct {
		Rule      string `json:"rule"`
		Statement int    `json:"statement"`
	} `json:"want"`
	Policy json.RawMessage `json:"policy"`
}

// TestAuditProveCorpus loads every policy of the audit corpus as a role of
// a real keyless server, registers the providers the policies name, runs
// `keyless audit --endpoint-url … --prove`, and checks that the findings
// are the corpus's ground truth and that every witness was minted by an
// impersonating issuer and exchanged for credentials of that role.
func TestAuditProveCorpus(t *testing.T) {
	srv := servertest.Start(t, func(c *server.Config) { c.Account = corpusAccount })
	ctx := context.Background()
	ic := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(servertest.RootAccessKeyID, servertest.RootSecretKey, "")})
	files, err := filepath.Glob(filepath.Join("..", "audit", "testdata", "corpus", "*.json"))
	if err != nil || len(files) < 80 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	want := map[string][]string{} // role name -> rules
	providers := map[string]bool{}
	var adminPolicy string
	legacyRoles := 0
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var c corpusFile
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		if c.Owner != "" {
			t.Fatalf("%s: --owner differs per policy; this test runs one audit", f)
		}
		name := fmt.Sprintf("%s-%03d", c.Role, i)
		res, err := audit.Analyze(audit.Role{Name: name, TrustPolicy: string(c.Policy), Permissions: c.Permissions}, audit.Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range res.Findings {
			url := strings.TrimPrefix(fd.Witness["iss"].(string), "https://")
			providers[url+"\x00"+fmt.Sprint(fd.Witness["aud"])] = true
		}
		var rules []string
		for _, w := range c.Want {
			rules = append(rules, w.Rule)
		}
		sort.Strings(rules)
		want[name] = rules
		if legacy, err := createRole(ctx, srv, ic, name, string(c.Policy)); err != nil {
			t.Fatalf("create role %s (%s): %v", name, f, err)
		} else if legacy {
			legacyRoles++
		}
		for _, p := range c.Permissions {
			if adminPolicy == "" {
				out, err := ic.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(p[strings.LastIndex(p, "/")+1:]),
					PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
				if err != nil {
					t.Fatal(err)
				}
				adminPolicy = aws.ToString(out.Policy.Arn)
			}
			if _, err := ic.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(adminPolicy)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	clientIDs := map[string][]string{}
	for k := range providers {
		url, aud, _ := strings.Cut(k, "\x00")
		clientIDs[url] = append(clientIDs[url], aud)
	}
	env := map[string]string{
		"AWS_ACCESS_KEY_ID": servertest.RootAccessKeyID, "AWS_SECRET_ACCESS_KEY": servertest.RootSecretKey,
		"KEYLESS_ROOT_ACCESS_KEY_ID": servertest.RootAccessKeyID, "KEYLESS_ROOT_SECRET_ACCESS_KEY": servertest.RootSecretKey,
	}
	// The issuers that impersonate the providers come first: a provider
	// registered before a hosted issuer at its URL is an external one.
	for url := range clientIDs {
		var out, errb strings.Builder
		e := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
		if code := Main(ctx, e, []string{"issuer", "create", "--endpoint-url", srv.URL, "--profile", "generic", "--issuer-url", "https://" + url}); code != 0 {
			t.Fatalf("issuer create %s: %s", url, errb.String())
		}
	}
	for url, ids := range clientIDs {
		if _, err := ic.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
			Url: aws.String("https://" + url), ClientIDList: ids}); err != nil {
			t.Fatalf("create provider %s: %v", url, err)
		}
	}
	code, out, errOut := runAudit(t, "", env, "--endpoint-url", srv.URL, "--prove", "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
	}
	rep := decodeReport(t, out)
	if len(rep.Errors) != 0 {
		t.Errorf("errors: %+v", rep.Errors)
	}
	if len(rep.Roles) != len(files) {
		t.Errorf("audited %d roles, want %d", len(rep.Roles), len(files))
	}
	proven := 0
	for _, r := range rep.Roles {
		var got []string
		for _, f := range r.Findings {
			got = append(got, f.Rule)
			switch {
			case f.Proof == nil:
				t.Errorf("%s %s: no proof", r.Name, f.Rule)
			case f.Proof.Error != "":
				t.Errorf("%s %s: not proven: %s", r.Name, f.Rule, f.Proof.Error)
			case !strings.HasPrefix(f.Proof.AssumedRoleARN, "arn:aws:sts::"+corpusAccount+":assumed-role/"+r.Name+"/"):
				t.Errorf("%s %s: assumed %s", r.Name, f.Rule, f.Proof.AssumedRoleARN)
			default:
				proven++
			}
		}
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(want[r.Name], ",") {
			t.Errorf("%s: findings %v, ground truth %v", r.Name, got, want[r.Name])
		}
		if r.Source != r.ARN || !strings.HasPrefix(r.ARN, "arn:aws:iam::"+corpusAccount+":role/") {
			t.Errorf("%s: source %q arn %q", r.Name, r.Source, r.ARN)
		}
	}
	if proven == 0 {
		t.Fatal("nothing proven")
	}
	t.Logf("%d roles (%d created as pre-guardrail roles), %d findings proven by exchanging their witnesses", len(rep.Roles), legacyRoles, proven)
}

// createRole creates a role through IAM. A trust policy IAM's 2025
// shared-provider guardrail refuses (aud-only GitHub roles and the like)
// is written straight to the store instead: such roles still exist in
// accounts from before June 2025, which AWS never re-validated, and they
// are exactly what audit is for. It reports whether it did so.
func createRole(ctx context.Context, srv *servertest.Server, ic *iam.Client, name, doc string) (legacy bool, err error) {
	_, err = ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(doc)})
	if err == nil || !strings.Contains(err.Error(), "which is not scoped to all") {
		return false, err
	}
	id := fmt.Sprintf("AROA%017X", len(name)*1_000_003+int(name[len(name)-1])*7919+len(doc))
	return true, srv.Server.Store().CreateRole(ctx, store.Role{Name: name, Path: "/", ID: id, TrustPolicy: doc,
		MaxSessionDuration: 3600, CreateDate: time.Now().UTC().Add(-2 * 365 * 24 * time.Hour)})
}

// TestAuditThousandRolesThroughIAM audits a keyless account of 1,000 roles
// through ListRoles paging (and ListAttachedRolePolicies per role).
func TestAuditThousandRolesThroughIAM(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1,000 roles through the IAM API; skipped with -short")
	}
	srv := servertest.Start(t)
	ctx := context.Background()
	ic := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(servertest.RootAccessKeyID, servertest.RootSecretKey, "")})
	const n = 1000
	open := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::` + servertest.Account +
		`:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}`
	pinned := strings.Replace(open, `"sts.amazonaws.com"}`, `"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"repo:acme/infra:ref:refs/heads/main"}`, 1)
	for i := 0; i < n; i++ {
		doc := pinned
		if i%10 == 0 {
			doc = open
		}
		if _, err := createRole(ctx, srv, ic, fmt.Sprintf("role-%04d", i), doc); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": servertest.RootAccessKeyID, "AWS_SECRET_ACCESS_KEY": servertest.RootSecretKey}
	code, out, errOut := runAudit(t, "", env, "--endpoint-url", srv.URL, "-o", "json")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
	}
	rep := decodeReport(t, out)
	findings := 0
	for _, r := range rep.Roles {
		findings += len(r.Findings)
		if open := strings.HasSuffix(r.Name, "0"); open != (len(r.Findings) == 1) {
			t.Errorf("%s: %d findings", r.Name, len(r.Findings))
		}
	}
	if len(rep.Roles) != n || findings != n/10 || len(rep.Errors) != 0 {
		t.Errorf("%d roles, %d findings, errors %v; want %d roles, %d findings", len(rep.Roles), findings, rep.Errors, n, n/10)
	}
}
