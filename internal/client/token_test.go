package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestResolveToken(t *testing.T) {
	var ghCalls atomic.Int32
	gh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ghCalls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get("Authorization") != "Bearer req" || r.URL.Query().Get("audience") != "sts.amazonaws.com" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"value":"gh-token"}`))
	}))
	defer gh.Close()
	files := map[string]string{"/tok": "file-token\n", "/awsfile": "aws-file-token"}
	readFile := func(p string) ([]byte, error) {
		if v, ok := files[p]; ok {
			return []byte(v), nil
		}
		return nil, os.ErrNotExist
	}
	tests := []struct {
		name       string
		src        TokenSources
		env        map[string]string
		want, from string
		wantErr    string
	}{
		{name: "flag wins", src: TokenSources{Token: "flag", File: "/tok"}, env: map[string]string{"CIRCLE_OIDC_TOKEN_V2": "v2"}, want: "flag", from: "--web-identity-token"},
		{name: "file", src: TokenSources{File: "/tok"}, env: map[string]string{"CIRCLE_OIDC_TOKEN_V2": "v2"}, want: "file-token", from: "--web-identity-token-file /tok"},
		{name: "circle v2 before v1", env: map[string]string{"CIRCLE_OIDC_TOKEN_V2": "v2", "CIRCLE_OIDC_TOKEN": "v1"}, want: "v2", from: "CIRCLE_OIDC_TOKEN_V2"},
		{name: "circle v1", env: map[string]string{"CIRCLE_OIDC_TOKEN": "v1", "AWS_WEB_IDENTITY_TOKEN_FILE": "/awsfile"}, want: "v1", from: "CIRCLE_OIDC_TOKEN"},
		{name: "github retried", env: map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": gh.URL + "/x?api-version=2.0", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req"},
			want: "gh-token", from: "GitHub Actions (audience sts.amazonaws.com)"},
		{name: "token env", src: TokenSources{TokenEnv: "GL"}, env: map[string]string{"GL": "gl", "AWS_WEB_IDENTITY_TOKEN_FILE": "/awsfile"}, want: "gl", from: "GL"},
		{name: "aws file last", env: map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": "/awsfile"}, want: "aws-file-token", from: "AWS_WEB_IDENTITY_TOKEN_FILE /awsfile"},
		{name: "missing file", src: TokenSources{File: "/nope"}, wantErr: "read web identity token from --web-identity-token-file"},
		{name: "none on github", env: map[string]string{"GITHUB_ACTIONS": "true"}, wantErr: "id-token: write"},
		{name: "none names sources", wantErr: "looked for --web-identity-token, --web-identity-token-file, CIRCLE_OIDC_TOKEN_V2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{Sleep: func(context.Context, time.Duration) error { return nil }})
			if err != nil {
				t.Fatal(err)
			}
			src := tc.src
			src.Getenv = func(k string) string { return tc.env[k] }
			src.ReadFile = readFile
			got, err := c.ResolveToken(context.Background(), src)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				if strings.HasPrefix(tc.name, "none") && !errors.Is(err, ErrNoToken) {
					t.Errorf("error %v is not ErrNoToken", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Value != tc.want || got.Source != tc.from {
				t.Errorf("got %q from %q, want %q from %q", got.Value, got.Source, tc.want, tc.from)
			}
		})
	}
	if n := ghCalls.Load(); n != 2 {
		t.Errorf("GitHub endpoint called %d times, want 2 (one 503, one retry)", n)
	}
}
