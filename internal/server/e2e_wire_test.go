package server_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/testkit"
)

func issuerCreate(org string) issuer.CreateRequest {
	return issuer.CreateRequest{Profile: "circleci", OrgID: org}
}

func mintParams(org string) issuer.MintRequest {
	return issuer.MintRequest{Params: ciclaims.Params{ProjectID: "p", UserID: "u", OrgID: org}}
}

// rawSigned sends a form body signed with root credentials for service.
func rawSigned(t *testing.T, endpoint, service, body string) (int, string) {
	t.Helper()
	cr := aws.Credentials{AccessKeyID: servertest.RootAccessKeyID, SecretAccessKey: servertest.RootSecretKey}
	return do(t, testkit.SignedRequest(t, http.MethodPost, endpoint+"/", body, cr, service, "us-east-1", time.Now()))
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestWireErrors(t *testing.T) {
	srv := servertest.Start(t)
	post := func(body string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return do(t, req)
	}
	tests := []struct {
		name, body string
		hdr        map[string]string
		status     int
		code       string
	}{
		{"unsigned signed action", "Action=GetCallerIdentity&Version=2011-06-15", nil, 403, "MissingAuthenticationToken"},
		{"unsigned IAM", "Action=ListRoles&Version=2010-05-08", nil, 403, "MissingAuthenticationToken"},
		{"garbage authorization", "Action=GetCallerIdentity&Version=2011-06-15",
			map[string]string{"Authorization": "AWS4-HMAC-SHA256 garbage", "X-Amz-Date": "20260101T000000Z"}, 400, "IncompleteSignature"},
		{"unknown action", "Action=Frobnicate&Version=2011-06-15", nil, 400, "InvalidAction"},
		{"missing action", "Version=2011-06-15", nil, 400, "MissingAction"},
		{"web identity without parameters", "Action=AssumeRoleWithWebIdentity&Version=2011-06-15", nil, 400, "ValidationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(tt.body, tt.hdr)
			if status != tt.status || !strings.Contains(body, "<Code>"+tt.code+"</Code>") {
				t.Errorf("status %d body %s; want %d %s", status, body, tt.status, tt.code)
			}
			if !strings.Contains(body, "<ErrorResponse") || !strings.Contains(body, "<RequestId>") {
				t.Errorf("not an AWS error response: %s", body)
			}
		})
	}
	t.Run("oversized body", func(t *testing.T) {
		status, body := post("Action=GetCallerIdentity&X="+strings.Repeat("a", 2<<20), nil)
		if status != 413 || !strings.Contains(body, "RequestEntityTooLarge") {
			t.Errorf("status %d body %.200s", status, body)
		}
	})
	t.Run("presigned GetCallerIdentity", func(t *testing.T) {
		ps := sts.NewPresignClient(stsClient(srv.URL, servertest.RootAccessKeyID, servertest.RootSecretKey, ""))
		p, err := ps.PresignGetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(p.Method, p.URL, nil)
		for k, v := range p.SignedHeader {
			req.Header[k] = v
		}
		status, body := do(t, req)
		if status != 200 || !strings.Contains(body, "arn:aws:iam::123456789012:root") {
			t.Errorf("presigned: %d %s", status, body)
		}
	})
}

// TestBadInputNever5xx throws malformed requests at every route; none may
// produce a 5xx, a hang or a panic.
func TestBadInputNever5xx(t *testing.T) {
	srv := servertest.Start(t)
	r := rand.New(rand.NewPCG(1, 2))
	actions := []string{"AssumeRoleWithWebIdentity", "AssumeRole", "GetCallerIdentity", "CreateRole", "GetRole",
		"CreateOpenIDConnectProvider", "PutRolePolicy", "ListRoles", ""}
	params := []string{"RoleArn", "RoleSessionName", "WebIdentityToken", "DurationSeconds", "Policy", "PolicyArns.member.1.arn",
		"RoleName", "AssumeRolePolicyDocument", "Url", "ClientIDList.member.1", "Tags.member.1.Key", "Version", "MaxItems", "Marker"}
	junk := []string{"", "%", "%00", "a", "-1", "99999999999999999999", "{", `{"Statement":[]}`, "arn:aws:iam::123456789012:role/x",
		strings.Repeat("x", 3000), "\xff\xfe", "a.b.c", "https://", "${*}", "0"}
	paths := []string{"/", "/_keyless/issuers", "/_keyless/issuers/x/token", "/org/x/.well-known/openid-configuration",
		"/.well-known/jwks.json", "/_keyless/nope", "/%2e%2e/"}
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; i < 300; i++ {
		var sb strings.Builder
		sb.WriteString("Action=" + actions[r.IntN(len(actions))])
		for j := r.IntN(6); j > 0; j-- {
			sb.WriteString("&" + params[r.IntN(len(params))] + "=" + junk[r.IntN(len(junk))])
		}
		method := []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete}[r.IntN(4)]
		path := paths[r.IntN(len(paths))]
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(sb.String()))
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", []string{"application/x-www-form-urlencoded", "application/json", "text/plain;;", ""}[r.IntN(4)])
		if r.IntN(3) == 0 {
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+junk[r.IntN(len(junk))]+", SignedHeaders=host, Signature=00")
			req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d (%s %s %q): %v", i, method, path, sb.String(), err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("request %d (%s %s %q) got %d", i, method, path, sb.String(), resp.StatusCode)
		}
	}
	if strings.Contains(srv.Log(), `"msg":"panic"`) {
		t.Errorf("server panicked:\n%s", srv.Log())
	}
}
