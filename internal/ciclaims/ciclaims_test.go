package ciclaims

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/build"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	org     = "a64b0a19-f221-4291-b000-8d24bd842b72"
	project = "5a301f56-eaa7-4cce-9441-37810f7c8452"
	user    = "0b1c2d3e-0000-4000-8000-000000000001"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// zeroRand is a deterministic random source.
func zeroRand() *bytes.Reader { return bytes.NewReader(make([]byte, 4096)) }

func TestBuildCircleCI(t *testing.T) {
	base := Params{Issuer: CircleCIIssuerBase + org, OrgID: org, ProjectID: project, UserID: user, Rand: zeroRand()}
	tests := []struct {
		name   string
		mutate func(*Params)
		want   map[string]any // subset checked
		absent []string
	}{
		{name: "v1", mutate: func(*Params) {},
			want: map[string]any{
				"iss": CircleCIIssuerBase + org, "aud": org,
				"sub":                          "org/" + org + "/project/" + project + "/user/" + user,
				"oidc.circleci.com/project-id": project, "oidc.circleci.com/org-id": org,
				"oidc.circleci.com/ssh-rerun": false,
			},
			absent: []string{"oidc.circleci.com/context-ids", "oidc.circleci.com/vcs-origin", "exp", "iat", "nbf"}},
		{name: "v1 ignores vcs in sub", mutate: func(p *Params) { p.VCSOrigin, p.VCSRef = "github.com/o/r", "refs/heads/main" },
			want: map[string]any{
				"sub":                          "org/" + org + "/project/" + project + "/user/" + user,
				"oidc.circleci.com/vcs-origin": "github.com/o/r", "oidc.circleci.com/vcs-ref": "refs/heads/main",
			}},
		{name: "v2", mutate: func(p *Params) { p.V2, p.VCSOrigin, p.VCSRef = true, "github.com/o/r", "refs/heads/main" },
			want: map[string]any{
				"sub": "org/" + org + "/project/" + project + "/user/" + user + "/vcs-origin/github.com/o/r/vcs-ref/refs/heads/main",
			}},
		{name: "v2 custom webhook has no vcs", mutate: func(p *Params) { p.V2 = true },
			want: map[string]any{"sub": "org/" + org + "/project/" + project + "/user/" + user}},
		{name: "contexts and audiences", mutate: func(p *Params) {
			p.ContextIDs = []string{"c1", "c2"}
			p.Audience = []string{"a", "b"}
			p.SSHRerun = true
		},
			want: map[string]any{"oidc.circleci.com/context-ids": []string{"c1", "c2"}, "aud": []string{"a", "b"},
				"oidc.circleci.com/ssh-rerun": true}},
		{name: "extra overrides", mutate: func(p *Params) {
			p.Extra = map[string]string{"aud": "pypi", "n": "42", "b": "true", "arr": `["x",1]`, "s": "hello", "o": `{"a":1}`}
		},
			want: map[string]any{"aud": "pypi", "n": json.Number("42"), "b": true, "arr": []any{"x", float64(1)},
				"s": "hello", "o": map[string]any{"a": 1.0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := base
			p.Rand = zeroRand()
			tc.mutate(&p)
			got, err := Build(CircleCI, p)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if d := cmp.Diff(v, got[k]); d != "" {
					t.Errorf("claim %s (-want +got):\n%s", k, d)
				}
			}
			for _, k := range tc.absent {
				if _, ok := got[k]; ok {
					t.Errorf("claim %s present: %v", k, got[k])
				}
			}
			for _, k := range []string{"job-id", "workflow-id", "pipeline-id", "pipeline-definition-id"} {
				if s, _ := got["oidc.circleci.com/"+k].(string); !uuidRE.MatchString(s) {
					t.Errorf("%s = %q, want a generated uuid", k, s)
				}
			}
		})
	}
}

func TestBuildGeneratesDistinctIDs(t *testing.T) {
	got, err := Build(CircleCI, Params{OrgID: org, ProjectID: project})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[any]bool{}
	for _, k := range []string{"job-id", "workflow-id", "pipeline-id", "pipeline-definition-id"} {
		v := got["oidc.circleci.com/"+k]
		if seen[v] {
			t.Errorf("%s repeats %v", k, v)
		}
		seen[v] = true
	}
	if s := got["sub"].(string); !strings.HasPrefix(s, "org/"+org+"/project/"+project+"/user/") || !uuidRE.MatchString(s[strings.LastIndex(s, "/")+1:]) {
		t.Errorf("sub = %q, want a generated user uuid", s)
	}
}

func TestBuildGitHub(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		want map[string]any
	}{
		{name: "branch", p: Params{Repository: "octo/app"},
			want: map[string]any{"sub": "repo:octo/app:ref:refs/heads/main", "aud": "sts.amazonaws.com",
				"ref": "refs/heads/main", "ref_type": "branch", "repository_owner": "octo", "actor": "octo",
				"event_name": "push", "workflow_ref": "octo/app/.github/workflows/ci.yml@refs/heads/main",
				"job_workflow_ref": "octo/app/.github/workflows/ci.yml@refs/heads/main", "run_attempt": "1",
				"runner_environment": "github-hosted"}},
		{name: "bare branch name", p: Params{Repository: "octo/app", Ref: "dev"},
			want: map[string]any{"sub": "repo:octo/app:ref:refs/heads/dev", "ref": "refs/heads/dev"}},
		{name: "tag", p: Params{Repository: "octo/app", Ref: "refs/tags/v1"},
			want: map[string]any{"sub": "repo:octo/app:ref:refs/tags/v1", "ref_type": "tag"}},
		{name: "environment", p: Params{Repository: "octo/app", Environment: "prod:eu"},
			want: map[string]any{"sub": "repo:octo/app:environment:prod%3Aeu", "environment": "prod:eu"}},
		{name: "pull request", p: Params{Repository: "octo/app", EventName: "pull_request"},
			want: map[string]any{"sub": "repo:octo/app:pull_request", "ref": "refs/pull/1/merge"}},
		{name: "given ids", p: Params{Repository: "octo/app", RepositoryID: "7", ActorID: "9", Actor: "mona", RunID: "11", SHA: "abc"},
			want: map[string]any{"repository_id": "7", "actor_id": "9", "actor": "mona", "run_id": "11", "sha": "abc", "workflow_sha": "abc"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.p.Issuer = GitHubIssuerURL
			got, err := Build(GitHub, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if d := cmp.Diff(v, got[k]); d != "" {
					t.Errorf("claim %s (-want +got):\n%s", k, d)
				}
			}
			for _, k := range []string{"repository_id", "repository_owner_id", "actor_id", "run_id"} {
				if s, _ := got[k].(string); !regexp.MustCompile(`^[0-9]+$`).MatchString(s) {
					t.Errorf("%s = %#v, want a numeric string", k, got[k])
				}
			}
		})
	}
}

func TestBuildGitHubSubjectFormat(t *testing.T) {
	ownerID, repoID := derivedGitHubID("octo"), derivedGitHubID("octo/app")
	byID := "repo:octo@" + ownerID + "/app@" + repoID
	tests := []struct {
		name    string
		p       Params
		wantSub string
		wantIDs [2]string // repository_owner_id, repository_id
	}{
		{name: "name form by default", p: Params{}, wantSub: "repo:octo/app:ref:refs/heads/main", wantIDs: [2]string{ownerID, repoID}},
		{name: "name form asked for", p: Params{SubjectFormat: SubjectByName}, wantSub: "repo:octo/app:ref:refs/heads/main", wantIDs: [2]string{ownerID, repoID}},
		{name: "id form branch", p: Params{SubjectFormat: SubjectByID}, wantSub: byID + ":ref:refs/heads/main", wantIDs: [2]string{ownerID, repoID}},
		{name: "id form tag", p: Params{SubjectFormat: SubjectByID, Ref: "refs/tags/v1"}, wantSub: byID + ":ref:refs/tags/v1", wantIDs: [2]string{ownerID, repoID}},
		{name: "id form environment", p: Params{SubjectFormat: SubjectByID, Environment: "prod"}, wantSub: byID + ":environment:prod", wantIDs: [2]string{ownerID, repoID}},
		{name: "id form pull request", p: Params{SubjectFormat: SubjectByID, EventName: "pull_request"}, wantSub: byID + ":pull_request", wantIDs: [2]string{ownerID, repoID}},
		{name: "id form given ids", p: Params{SubjectFormat: SubjectByID, RepositoryOwnerID: "123456", RepositoryID: "456789"},
			wantSub: "repo:octo@123456/app@456789:ref:refs/heads/main", wantIDs: [2]string{"123456", "456789"}},
		{name: "name form given ids", p: Params{RepositoryOwnerID: "123456", RepositoryID: "456789"},
			wantSub: "repo:octo/app:ref:refs/heads/main", wantIDs: [2]string{"123456", "456789"}},
		{name: "derived ids ignore case", p: Params{Repository: "Octo/App", SubjectFormat: SubjectByID},
			wantSub: "repo:Octo@" + ownerID + "/App@" + repoID + ":ref:refs/heads/main", wantIDs: [2]string{ownerID, repoID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.p.Repository == "" {
				tc.p.Repository = "octo/app"
			}
			got, err := Build(GitHub, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if got["sub"] != tc.wantSub {
				t.Errorf("sub = %v, want %s", got["sub"], tc.wantSub)
			}
			if got["repository_owner_id"] != tc.wantIDs[0] || got["repository_id"] != tc.wantIDs[1] {
				t.Errorf("repository_owner_id, repository_id = %v, %v, want %v", got["repository_owner_id"], got["repository_id"], tc.wantIDs)
			}
		})
	}
	if ownerID == repoID || derivedGitHubID("octo/other") == repoID {
		t.Errorf("derived ids collide: owner %s repo %s", ownerID, repoID)
	}
	if !regexp.MustCompile(`^[1-9][0-9]{8}$`).MatchString(repoID) {
		t.Errorf("derived id %q, want 9 digits", repoID)
	}
}

func TestBuildGitHubSubjectFormatErrors(t *testing.T) {
	tests := []struct {
		name string
		p    Params
	}{
		{"unknown format", Params{Repository: "octo/app", SubjectFormat: "immutable"}},
		{"non-numeric repository id", Params{Repository: "octo/app", RepositoryID: "abc"}},
		{"leading zero owner id", Params{Repository: "octo/app", RepositoryOwnerID: "0123"}},
		{"negative id", Params{Repository: "octo/app", RepositoryID: "-1"}},
		{"id already in the name", Params{Repository: "octo@1/app@2", SubjectFormat: SubjectByID}},
		{"no repository name", Params{Repository: "octo/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Build(GitHub, tc.p); err == nil {
				t.Errorf("Build(%+v) succeeded, want an error", tc.p)
			}
		})
	}
}

func TestBuildGitLab(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		want map[string]any
	}{
		{name: "default", p: Params{ProjectPath: "grp/sub/proj"},
			want: map[string]any{"sub": "project_path:grp/sub/proj:ref_type:branch:ref:main", "aud": "https://gitlab.com",
				"namespace_path": "grp/sub", "project_path": "grp/sub/proj", "ref": "main", "ref_type": "branch",
				"ref_path": "refs/heads/main", "ref_protected": "false", "user_login": "keyless",
				"pipeline_source": "push", "runner_environment": "gitlab-hosted", "user_access_level": "developer"}},
		{name: "tag from refs", p: Params{ProjectPath: "g/p", Ref: "refs/tags/v2", RefProtected: true},
			want: map[string]any{"sub": "project_path:g/p:ref_type:tag:ref:v2", "ref_path": "refs/tags/v2", "ref_protected": "true"}},
		{name: "given ids", p: Params{ProjectPath: "g/p", ProjectID: "42", UserID: "7", UserEmail: "a@b.c", NamespaceID: "3"},
			want: map[string]any{"project_id": "42", "user_id": "7", "user_email": "a@b.c", "namespace_id": "3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.p.Issuer = GitLabIssuerURL
			got, err := Build(GitLab, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if d := cmp.Diff(v, got[k]); d != "" {
					t.Errorf("claim %s (-want +got):\n%s", k, d)
				}
			}
			if _, ok := got["runner_id"].(int64); !ok {
				t.Errorf("runner_id = %#v, want a number", got["runner_id"])
			}
		})
	}
}

func TestBuildGeneric(t *testing.T) {
	got, err := Build(Generic, Params{Issuer: "https://ci.example.com", Extra: map[string]string{"sub": "job:1"}, OrgID: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"iss": "https://ci.example.com", "sub": "job:1"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		profile Profile
		p       Params
		is      error
	}{
		{name: "circleci no org", profile: CircleCI, p: Params{ProjectID: project}},
		{name: "circleci no project", profile: CircleCI, p: Params{OrgID: org}},
		{name: "github no repo", profile: GitHub, p: Params{}},
		{name: "github bad repo", profile: GitHub, p: Params{Repository: "octo/"}},
		{name: "gitlab bad path", profile: GitLab, p: Params{ProjectPath: "proj"}},
		{name: "gitlab bad ref type", profile: GitLab, p: Params{ProjectPath: "g/p", RefType: "sha"}},
		{name: "reserved iss", profile: Generic, p: Params{Extra: map[string]string{"iss": "x"}}, is: ErrReservedClaim},
		{name: "reserved exp", profile: CircleCI, p: Params{OrgID: org, ProjectID: project, Extra: map[string]string{"exp": "1"}}, is: ErrReservedClaim},
		{name: "reserved iat", profile: Generic, p: Params{Extra: map[string]string{"iat": "1"}}, is: ErrReservedClaim},
		{name: "empty claim name", profile: Generic, p: Params{Extra: map[string]string{"": "1"}}},
		{name: "unknown profile", profile: "jenkins", p: Params{}, is: ErrUnknownProfile},
		{name: "rand fails", profile: CircleCI, p: Params{OrgID: org, ProjectID: project, Rand: bytes.NewReader(nil)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(tc.profile, tc.p)
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
		})
	}
}

func TestClaimValue(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"true", true}, {"false", false}, {"12", json.Number("12")}, {"-1.5e3", json.Number("-1.5e3")},
		{`["a","b"]`, []any{"a", "b"}}, {"[broken", "[broken"}, {"12abc", "12abc"}, {"", ""},
		{"null", "null"}, {`{"a":1}`, map[string]any{"a": 1.0}}, {`{broken`, `{broken`}, {"True", "True"}, {"refs/heads/main", "refs/heads/main"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if d := cmp.Diff(tc.want, claimValue(tc.in)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseClaim(t *testing.T) {
	k, v, err := ParseClaim("a=b=c")
	if err != nil || k != "a" || v != "b=c" {
		t.Errorf("ParseClaim = %q %q %v", k, v, err)
	}
	for _, bad := range []string{"novalue", "=x"} {
		if _, _, err := ParseClaim(bad); err == nil {
			t.Errorf("ParseClaim(%q) succeeded", bad)
		}
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		profile Profile
		url     string
		aud     []string
		jwks    string
	}{
		{CircleCI, "https://oidc.circleci.com/org/" + org, []string{org}, "jwks-pub.json"},
		{GitHub, "https://token.actions.githubusercontent.com", []string{"sts.amazonaws.com"}, "jwks.json"},
		{GitLab, "https://gitlab.com", []string{"https://gitlab.com"}, "jwks.json"},
	}
	for _, tc := range tests {
		t.Run(string(tc.profile), func(t *testing.T) {
			u, err := DefaultIssuerURL(tc.profile, org)
			if err != nil || u != tc.url {
				t.Errorf("DefaultIssuerURL = %q, %v; want %q", u, err, tc.url)
			}
			if d := cmp.Diff(tc.aud, DefaultAudience(tc.profile, org, u)); d != "" {
				t.Errorf("DefaultAudience (-want +got):\n%s", d)
			}
			if got := JWKSFileName(tc.profile); got != tc.jwks {
				t.Errorf("JWKSFileName = %q", got)
			}
			if SubjectFormat(tc.profile) == "" {
				t.Error("no subject format")
			}
		})
	}
	if _, err := DefaultIssuerURL(Generic, ""); err == nil {
		t.Error("generic has a default issuer url")
	}
	if _, err := DefaultIssuerURL(CircleCI, ""); err == nil {
		t.Error("circleci without org has a default issuer url")
	}
	for _, p := range profiles() {
		if got, err := ParseProfile(strings.ToUpper(string(p))); err != nil || got != p {
			t.Errorf("ParseProfile(%s) = %q, %v", p, got, err)
		}
	}
	if _, err := ParseProfile("jenkins"); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("ParseProfile(jenkins) err = %v", err)
	}
}

func TestClaimsSupportedCoversBuild(t *testing.T) {
	params := map[Profile]Params{
		CircleCI: {OrgID: org, ProjectID: project, VCSOrigin: "o", VCSRef: "r", ContextIDs: []string{"c"}},
		GitHub:   {Repository: "o/r", Environment: "e"},
		GitLab:   {ProjectPath: "g/p", Environment: "e"},
	}
	for p, in := range params {
		t.Run(string(p), func(t *testing.T) {
			got, err := Build(p, in)
			if err != nil {
				t.Fatal(err)
			}
			supported := map[string]bool{}
			for _, c := range ClaimsSupported(p) {
				supported[c] = true
			}
			for k := range got {
				if !supported[k] {
					t.Errorf("claim %q built but not in ClaimsSupported", k)
				}
			}
		})
	}
}

func TestProviderClaimKeys(t *testing.T) {
	gh := conditionKeys["github"]
	tests := []struct {
		url  string
		want []string
	}{
		{"oidc.circleci.com/org/" + org, []string{"oidc.circleci.com/project-id"}},
		{"https://oidc.circleci.com/org/" + org, []string{"oidc.circleci.com/project-id"}},
		{"OIDC.CircleCI.com/org/x", []string{"oidc.circleci.com/project-id"}},
		{"oidc.circleci.com", nil},
		{"oidc.circleci.com/org/", nil},
		{"oidc.circleci.com/org/x/y", nil},
		{"token.actions.githubusercontent.com", gh},
		{"token.actions.githubusercontent.com/octo-enterprise", gh},
		{"token.actions.acme.ghe.com", gh},
		{"github.com/enterprises/acme", gh},
		{"github.com", nil},
		{"gitlab.com", conditionKeys["gitlab"]},
		{"gitlab.example.com", nil},
		{"agent.buildkite.com", conditionKeys["buildkite"]},
		{"agent.eu.buildkite.dev", conditionKeys["buildkite"]},
		{"agent.x.buildkite.site", conditionKeys["buildkite"]},
		{"idcs-abc.identity.oraclecloud.com", []string{"rpst_id"}},
		{"localhost:8443/ci", nil},
		{"", nil},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			if d := cmp.Diff(tc.want, ProviderClaimKeys(tc.url)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	// The result is a copy: callers may modify it.
	ProviderClaimKeys("gitlab.com")[0] = "mutated"
	if conditionKeys["gitlab"][0] == "mutated" {
		t.Error("ProviderClaimKeys returned the shared slice")
	}
}

// TestPure enforces that the package imports no network, storage or SDK code.
func TestPure(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "net") || strings.Contains(imp, "store") || strings.Contains(imp, "aws") ||
			imp == "os" || strings.Contains(imp, ".") {
			t.Errorf("pure package imports %q", imp)
		}
	}
}
