package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/sts"
)

func TestQuickstartNarratesTheSeedFlow(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the ephemeral data dir lands here; it must be gone afterwards
	var stdout, stderr bytes.Buffer
	env := Env{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if code := Main(ctx, env, []string{"quickstart"}); code != 0 {
		t.Fatalf("quickstart exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	org := regexp.MustCompile(`organization id: ([0-9a-f-]{36})`).FindStringSubmatch(out)
	if org == nil {
		t.Fatalf("no organization id in the narration:\n%s", out)
	}
	proj := regexp.MustCompile(`admits only project ([0-9a-f-]{36})`).FindStringSubmatch(out)
	other := regexp.MustCompile(`A job of another project \(([0-9a-f-]{36})\)`).FindStringSubmatch(out)
	if proj == nil || other == nil || proj[1] == other[1] {
		t.Fatalf("projects not narrated (or equal):\n%s", out)
	}
	for _, want := range []string{
		"issuer URL:      https://oidc.circleci.com/org/" + org[1],
		"provider: arn:aws:iam::" + quickstartAccount + ":oidc-provider/oidc.circleci.com/org/" + org[1],
		`"oidc.circleci.com/org/` + org[1] + `:sub": "org/` + org[1] + `/project/` + proj[1] + `/*"`,
		"allowed: ",
		"caller: arn:aws:sts::" + quickstartAccount + ":assumed-role/circleci-deploy/CircleCI",
		"denied: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity",
		`trust policy, statement 1: sub is "org/` + org[1] + `/project/` + other[1] + `/user/`,
		`the policy expects "org/` + org[1] + `/project/` + proj[1] + `/*"`,
		"aws --endpoint-url $EP sts assume-role-with-web-identity",
		"keyless serve --data-dir",
		"keyless issuer create --profile circleci --org-id $ORG",
		"TOKEN=$(keyless token --org-id $ORG --project-id $PROJ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("narration lacks %q", want)
		}
	}
	// The allow comes before the caller and the denial after it.
	if a, c, d := strings.Index(out, "allowed: "), strings.Index(out, "caller: "), strings.Index(out, "denied: "); !(a < c && c < d) {
		t.Errorf("steps out of order: allowed@%d caller@%d denied@%d", a, c, d)
	}
	if t.Failed() {
		t.Logf("narration:\n%s", out)
	}
	dir := regexp.MustCompile(`data in (\S+), removed at the end`).FindStringSubmatch(out)
	if dir == nil {
		t.Fatal("data dir not narrated")
	}
	if _, err := os.Stat(dir[1]); err == nil {
		t.Errorf("data dir %s still exists", dir[1])
	}
}

func TestExplainDenial(t *testing.T) {
	const org = "0c9b626b-1d74-4f76-8348-8b537982b830"
	host := "oidc.circleci.com/org/" + org
	prov := "arn:aws:iam::123456789012:oidc-provider/" + host
	trust := seedTrustPolicy(prov, host, org, "P")
	in := sts.WebIdentityInput{ProviderURL: host, ProviderARN: prov, Audience: org,
		RoleARN: "arn:aws:iam::123456789012:role/r", SessionName: "s", Now: time.Unix(1700000000, 0)}
	tests := []struct {
		name     string
		sub      string
		wantMiss string
		wantErr  bool
	}{
		{name: "other project", sub: "org/" + org + "/project/Q/user/U",
			wantMiss: `sub is "org/` + org + `/project/Q/user/U", the policy expects "org/` + org + `/project/P/*"`},
		{name: "allowed project is not a denial", sub: "org/" + org + "/project/P/user/U", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := unsignedToken(t, `{"iss":"https://`+host+`","aud":"`+org+`","sub":"`+tt.sub+`","iat":1700000000,"exp":1700003600}`)
			miss, where, err := explainDenial(tok, trust, in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if miss != tt.wantMiss || where != "trust policy, statement 1" {
				t.Errorf("got %q at %q, want %q", miss, where, tt.wantMiss)
			}
		})
	}
}

// unsignedToken builds a compact JWS with the given claims and a dummy
// signature: explainDenial evaluates claims and never verifies signatures.
func unsignedToken(t *testing.T, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT","kid":"k"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("sig"))
}
