package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keylessci/keyless/internal/server/servertest"
)

// TestRunnerCredentials: a CI system holding an issuer's runner credentials
// can mint that issuer's tokens and do nothing else.
func TestRunnerCredentials(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	root := aws.Credentials{AccessKeyID: servertest.RootAccessKeyID, SecretAccessKey: servertest.RootSecretKey}
	if _, err := f.srv.Issuers().Create(ctx, issuerCreate("other-org")); err != nil {
		t.Fatal(err)
	}
	status, body := adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers/"+f.org+"/runner-credentials", `{"ttl":"1h"}`, &root)
	if status != 200 {
		t.Fatalf("runner-credentials: %d %v", status, body)
	}
	var rc struct {
		Version                                                int
		AccessKeyId, SecretAccessKey, SessionToken, Expiration string
	}
	raw, _ := json.Marshal(body)
	if err := json.Unmarshal(raw, &rc); err != nil || rc.Version != 1 || !strings.HasPrefix(rc.AccessKeyId, "ASIA") {
		t.Fatalf("runner credentials %s: %v", raw, err)
	}
	if exp, err := time.Parse(time.RFC3339, rc.Expiration); err != nil || time.Until(exp) > time.Hour+time.Minute {
		t.Errorf("expiration %s", rc.Expiration)
	}
	runner := aws.Credentials{AccessKeyID: rc.AccessKeyId, SecretAccessKey: rc.SecretAccessKey, SessionToken: rc.SessionToken}
	mint := `{"project_id":"` + f.project + `","user_id":"u"}`

	tests := []struct {
		name, method, path, body string
		cr                       *aws.Credentials
		status                   int
		want                     string // the token field, or the error code
	}{
		{"mints for its issuer", http.MethodPost, "/_keyless/issuers/" + f.org + "/token", mint, &runner, 200, "token"},
		{"not for another issuer", http.MethodPost, "/_keyless/issuers/other-org/token", mint, &runner, 403, "AccessDenied"},
		{"cannot list issuers", http.MethodGet, "/_keyless/issuers", "", &runner, 403, "AccessDenied"},
		{"cannot rotate", http.MethodPost, "/_keyless/issuers/" + f.org + "/rotate", "", &runner, 403, "AccessDenied"},
		{"cannot issue more runner credentials", http.MethodPost, "/_keyless/issuers/" + f.org + "/runner-credentials", "", &runner, 403, "AccessDenied"},
		{"unsigned", http.MethodPost, "/_keyless/issuers/" + f.org + "/token", mint, nil, 403, "MissingAuthenticationToken"},
		{"unknown issuer", http.MethodPost, "/_keyless/issuers/nope/runner-credentials", "", &root, 404, "NoSuchEntity"},
		{"bad ttl", http.MethodPost, "/_keyless/issuers/" + f.org + "/runner-credentials", `{"ttl":"10s"}`, &root, 400, "InvalidInput"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := adminCall(t, f.srv.URL, tt.method, tt.path, tt.body, tt.cr)
			_, hasField := body[tt.want]
			if status != tt.status || !hasField && body["code"] != tt.want {
				t.Errorf("%d %v; want %d %s", status, body, tt.status, tt.want)
			}
		})
	}
	t.Run("its token is exchangeable", func(t *testing.T) {
		_, body := adminCall(t, f.srv.URL, http.MethodPost, "/_keyless/issuers/"+f.org+"/token", mint, &runner)
		tok, _ := body["token"].(string)
		if _, err := f.assume(ctx, tok, nil); err != nil {
			t.Errorf("exchange of a runner-minted token: %v", err)
		}
	})
	t.Run("no IAM or STS role access", func(t *testing.T) {
		c := iamClient(f.srv.URL, runner.AccessKeyID, runner.SecretAccessKey, runner.SessionToken)
		_, err := c.ListRoles(ctx, &iam.ListRolesInput{})
		wantCode(t, err, "AccessDenied")
		s := stsClient(f.srv.URL, runner.AccessKeyID, runner.SecretAccessKey, runner.SessionToken)
		id, err := s.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || aws.ToString(id.Arn) != "arn:aws:sts::123456789012:federated-user/runner-"+f.org {
			t.Errorf("GetCallerIdentity = %v, %v", id, err)
		}
		_, err = s.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(f.roleARN), RoleSessionName: aws.String("runner")})
		wantCode(t, err, "AccessDenied")
	})
}
