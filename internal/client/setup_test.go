package client

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewPlan(t *testing.T) {
	base := SetupSpec{CI: "circleci", OrgID: "o", ProjectIDs: []string{"p"}, RoleName: "r"}
	tests := []struct {
		name     string
		mod      func(*SetupSpec)
		wantErr  string
		wantURL  string
		wantCond map[string]map[string][]string
	}{
		{name: "circleci", wantURL: "https://oidc.circleci.com/org/o", wantCond: map[string]map[string][]string{
			"StringEquals": {"oidc.circleci.com/org/o:aud": {"o"}},
			"StringLike":   {"oidc.circleci.com/org/o:sub": {"org/o/project/p/*"}}}},
		{name: "circleci two projects", mod: func(s *SetupSpec) { s.ProjectIDs = []string{"p", "q"} }, wantURL: "https://oidc.circleci.com/org/o",
			wantCond: map[string]map[string][]string{
				"StringEquals": {"oidc.circleci.com/org/o:aud": {"o"}},
				"StringLike":   {"oidc.circleci.com/org/o:sub": {"org/o/project/p/*", "org/o/project/q/*"}}}},
		{name: "circleci self-hosted issuer", mod: func(s *SetupSpec) { s.IssuerURL = "https://ci.example.com:8443/org/o/" },
			wantURL: "https://ci.example.com:8443/org/o", wantCond: map[string]map[string][]string{
				"StringEquals": {"ci.example.com:8443/org/o:aud": {"o"}},
				"StringLike":   {"ci.example.com:8443/org/o:sub": {"org/o/project/p/*"}}}},
		{name: "github", mod: func(s *SetupSpec) {
			*s = SetupSpec{CI: "github", Repo: "a/b", Branches: []string{"refs/heads/main"}, Environments: []string{"prod"}, RoleName: "r"}
		}, wantURL: "https://token.actions.githubusercontent.com", wantCond: map[string]map[string][]string{
			"StringEquals": {"token.actions.githubusercontent.com:aud": {"sts.amazonaws.com"},
				"token.actions.githubusercontent.com:sub": {"repo:a/b:ref:refs/heads/main", "repo:a/b:environment:prod"}}}},
		{name: "gitlab", mod: func(s *SetupSpec) {
			*s = SetupSpec{CI: "gitlab", Repo: "g/p", Branches: []string{"main"}, RoleName: "r"}
		},
			wantURL: "https://gitlab.com", wantCond: map[string]map[string][]string{
				"StringEquals": {"gitlab.com:aud": {"https://gitlab.com"}, "gitlab.com:sub": {"project_path:g/p:ref_type:branch:ref:main"}}}},
		{name: "no project", mod: func(s *SetupSpec) { s.ProjectIDs = nil }, wantErr: "--project-id"},
		{name: "no org", mod: func(s *SetupSpec) { s.OrgID = "" }, wantErr: "--org-id"},
		{name: "no role", mod: func(s *SetupSpec) { s.RoleName = "" }, wantErr: "--role-name"},
		{name: "github unpinned", mod: func(s *SetupSpec) { *s = SetupSpec{CI: "github", Repo: "a/b", RoleName: "r"} }, wantErr: "--branch or --environment"},
		{name: "http issuer", mod: func(s *SetupSpec) { s.IssuerURL = "http://x" }, wantErr: "https"},
		{name: "session too long", mod: func(s *SetupSpec) { s.MaxSessionDuration = 50000 }, wantErr: "3600..43200"},
		{name: "unknown ci", mod: func(s *SetupSpec) { s.CI = "jenkins" }, wantErr: "--ci"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := base
			spec.ProjectIDs = append([]string(nil), base.ProjectIDs...)
			if tc.mod != nil {
				tc.mod(&spec)
			}
			p, err := NewPlan(spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewPlan error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewPlan: %v", err)
			}
			if p.IssuerURL != tc.wantURL {
				t.Errorf("IssuerURL = %q, want %q", p.IssuerURL, tc.wantURL)
			}
			if d := cmp.Diff(tc.wantCond, p.Conditions); d != "" {
				t.Errorf("conditions (-want +got):\n%s", d)
			}
			if p.Spec.MaxSessionDuration != 3600 {
				t.Errorf("MaxSessionDuration = %d, want default 3600", p.Spec.MaxSessionDuration)
			}
			doc, err := json.Marshal(p.TrustPolicy("arn:aws:iam::123456789012:oidc-provider/" + p.ProviderURL))
			if err != nil || !strings.Contains(string(doc), `"Federated":"arn:aws:iam::123456789012:oidc-provider/`+p.ProviderURL+`"`) {
				t.Errorf("trust policy = %s (%v)", doc, err)
			}
		})
	}
}
