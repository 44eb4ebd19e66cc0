package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keylessci/keyless/internal/audit"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/testkit"
)

// TestTightenEndToEnd: a role trusted org-wide is used by several projects,
// users and branches of one CircleCI org; tighten proposes exactly what ran,
// --apply writes it, and then the observed identities still exchange while a
// project that never ran is refused.
func TestTightenEndToEnd(t *testing.T) {
	ctx := context.Background()
	srv := servertest.Start(t)
	org := testkit.UUID()
	p1, p2, p3 := testkit.UUID(), testkit.UUID(), testkit.UUID()
	if _, err := srv.Issuers().Create(ctx, issuer.CreateRequest{Profile: "circleci", OrgID: org}); err != nil {
		t.Fatalf("create issuer: %v", err)
	}
	root := credentials.NewStaticCredentialsProvider(servertest.RootAccessKeyID, servertest.RootSecretKey, "")
	ic := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{}, Credentials: root})
	sc := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{}})
	prov := "oidc.circleci.com/org/" + org
	if _, err := ic.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String("https://" + prov), ClientIDList: []string{org}}); err != nil {
		t.Fatalf("create provider: %v", err)
	}
	orgWide := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
 "Principal":{"Federated":"arn:aws:iam::%s:oidc-provider/%s"},"Action":"sts:AssumeRoleWithWebIdentity",
 "Condition":{"StringEquals":{"%s:aud":"%s"},"StringLike":{"%s:sub":"org/%s/*"}}}]}`, servertest.Account, prov, prov, org, prov, org)
	role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deploy"), AssumeRolePolicyDocument: aws.String(orgWide)})
	if err != nil {
		t.Fatalf("create role: %v", err)
	}
	exchange := func(project, user, ref string) error {
		t.Helper()
		p := ciclaims.Params{ProjectID: project, UserID: user}
		if ref != "" {
			p.V2, p.VCSOrigin, p.VCSRef = true, "github.com/acme/app", ref
		}
		tok, err := srv.Issuers().Mint(ctx, org, issuer.MintRequest{Params: p})
		if err != nil {
			t.Fatalf("mint: %v", err)
		}
		_, err = sc.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: role.Role.Arn,
			RoleSessionName: aws.String("ci"), WebIdentityToken: aws.String(tok)})
		return err
	}
	// What really ran: project 1 by two users, project 2 on two branches
	// by one user; and one refused exchange (another org's provider is not
	// registered: a token for an unknown audience).
	ran := []struct{ project, user, ref string }{
		{p1, "u1", ""}, {p1, "u2", ""}, {p1, "u1", ""},
		{p2, "u3", "refs/heads/main"}, {p2, "u3", "refs/heads/release"},
	}
	for _, r := range ran {
		if err := exchange(r.project, r.user, r.ref); err != nil {
			t.Fatalf("exchange %v: %v", r, err)
		}
	}
	if _, err := sc.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{RoleArn: role.Role.Arn,
		RoleSessionName: aws.String("ci"), WebIdentityToken: aws.String("not-a-token")}); err == nil {
		t.Fatal("a garbage token was accepted")
	}

	env := map[string]string{"AWS_ACCESS_KEY_ID": servertest.RootAccessKeyID, "AWS_SECRET_ACCESS_KEY": servertest.RootSecretKey,
		"AWS_REGION": "us-east-1"}
	run := func(args ...string) (int, string, string) {
		var out, errb strings.Builder
		e := Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
		code := Main(ctx, e, append([]string{"tighten", "deploy", "--endpoint-url", srv.URL}, args...))
		return code, out.String(), errb.String()
	}
	// The log is written off the request path: wait (with a generous
	// ceiling) until tighten sees every allowed exchange.
	var rep tightenReport
	for deadline := time.Now().Add(2 * time.Minute); ; {
		code, out, errOut := run("-o", "json")
		if code != 0 && !strings.Contains(errOut, "none re-evaluable") {
			t.Fatalf("tighten: exit %d: %s", code, errOut)
		}
		rep = tightenReport{}
		if code == 0 {
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("tighten -o json: %v\n%s", err, out)
			}
		}
		if rep.Observed == len(ran) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tighten saw %d allowed exchanges, want %d (exit %d: %s)", rep.Observed, len(ran), code, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
	sub := func(project, user string) string { return "org/" + org + "/project/" + project + "/user/" + user }
	vcs := func(ref string) string { return "/vcs-origin/github.com/acme/app/vcs-ref/" + ref }
	want := []string{sub(p1, "*"), sub(p2, "u3") + vcs("refs/heads/main"), sub(p2, "u3") + vcs("refs/heads/release")}
	if len(rep.Statements) != 1 || rep.Statements[0].Change != audit.ChangeRestricted ||
		strings.Join(slices.Sorted(slices.Values(rep.Statements[0].Subjects)), " ") != strings.Join(slices.Sorted(slices.Values(want)), " ") {
		t.Fatalf("statements %+v, want subjects %v", rep.Statements, want)
	}
	if !rep.Changed || rep.Applied || rep.Identities != 4 || len(rep.After) != 0 || rep.Narrowed == 0 {
		t.Fatalf("report: changed %v applied %v identities %d findings after %v narrowed %d",
			rep.Changed, rep.Applied, rep.Identities, rep.After, rep.Narrowed)
	}
	if !strings.Contains(rep.Diff, "+") || !strings.Contains(rep.Diff, `-          "`+prov+`:sub": "org/`+org+`/*"`) {
		t.Errorf("diff:\n%s", rep.Diff)
	}
	code, text, _ := run()
	for _, want := range []string{"5 allowed exchanges since 30d, 4 distinct identities", "restricted to 3 subject value(s) (4 observed)",
		"  " + sub(p1, "*") + "\n", "--- current\n+++ proposed\n", "Not applied: run again with --apply"} {
		if code != 0 || !strings.Contains(text, want) {
			t.Errorf("text output (exit %d) lacks %q:\n%s", code, want, text)
		}
	}
	if testing.Verbose() {
		t.Log(text)
	}
	// Nothing is written without --apply.
	if _, doc, _ := roleTrust(ctx, t, ic); !strings.Contains(doc, "org/"+org+"/*") {
		t.Fatalf("the role changed without --apply: %s", doc)
	}

	code, out, errOut := run("--apply")
	if code != 0 || !strings.Contains(out, "Applied:") {
		t.Fatalf("tighten --apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, doc, _ := roleTrust(ctx, t, ic); strings.Contains(doc, "org/"+org+"/*") || !strings.Contains(doc, sub(p1, "*")) {
		t.Fatalf("trust policy after --apply: %s", doc)
	}
	for _, tc := range []struct {
		name               string
		project, user, ref string
		wantDenied         bool
	}{
		{"observed project, new user", p1, "u9", "", false},
		{"observed project and branch", p2, "u3", "refs/heads/main", false},
		{"observed project, unobserved branch", p2, "u3", "refs/heads/evil", true},
		{"observed project, unobserved user", p2, "u4", "refs/heads/main", true},
		{"a project that never ran", p3, "u1", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := exchange(tc.project, tc.user, tc.ref)
			var ae smithy.APIError
			switch {
			case !tc.wantDenied && err != nil:
				t.Errorf("refused: %v", err)
			case tc.wantDenied && (!errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied"):
				t.Errorf("err = %v, want AccessDenied", err)
			}
		})
	}
}

func roleTrust(ctx context.Context, t *testing.T, ic *iam.Client) (string, string, error) {
	t.Helper()
	out, err := ic.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("deploy")})
	if err != nil {
		t.Fatal(err)
	}
	doc := aws.ToString(out.Role.AssumeRolePolicyDocument)
	if d, err := url.QueryUnescape(doc); err == nil {
		doc = d
	}
	return aws.ToString(out.Role.Arn), doc, nil
}
