package audit

import (
	"slices"
	"strings"

	"github.com/keylessci/keyless/internal/ciclaims"
)

// Identity is one CI job as the audit reasons about it: the tenant that owns
// it, the repository (project, workspace, pipeline) it runs in and the ref
// or environment it runs for. A witness token is built from an Identity.
type Identity struct {
	Owner   string // GitHub owner, GitLab top-level group, CircleCI org id, TFC/Buildkite organization, Bitbucket workspace
	OwnerID string // GitHub immutable owner id
	Repo    string // repository, project, workspace or pipeline
	RepoID  string // GitHub immutable repository id
	Project string // HCP Terraform project
	Kind    string // branch, tag, pull_request, environment; HCP Terraform: plan or apply
	Ref     string // branch or tag name, without refs/heads/ or refs/tags/
	Env     string // environment name (Kind environment)
	// Immutable selects GitHub's repo:OWNER@ID/REPO@ID subject form.
	Immutable bool
	// Subject, when set, is the sub verbatim (generic providers).
	Subject string
}

// Provider is a claim profile as the audit needs it.
type Provider struct {
	// Name is the profile: github, gitlab, circleci, terraform, buildkite,
	// bitbucket or generic.
	Name string
	// Shared is true when one issuer serves every tenant of the platform, so
	// the trust policy alone separates tenants. CircleCI and Bitbucket
	// issuers are per organization/workspace: the tenant is in the URL.
	Shared bool
	// CallerControlled are claims any job picks for itself (aud where the
	// workflow requests it, actor, workflow names).
	CallerControlled []string
	// TenantClaims carry the tenant or repository: a condition on one of them
	// is what scopes a role to its owner.
	TenantClaims []string
	parse        func(sub string) (Identity, bool)
	format       func(Identity) string
	claims       func(iss, aud string, id Identity, rng *detRand) map[string]any
	ownerScope   func(owner string) string // sub pattern admitting every job of owner
	mainRef      func(id Identity) string  // sub of id on the default branch
}

// detectProvider returns the profile of a provider URL (without scheme). A
// host keyless does not know is recognised by the grammar of the subjects
// the policy uses (a GHES or self-managed GitLab), else it is generic.
func detectProvider(url string, subs []string) *Provider {
	host, path, _ := strings.Cut(url, "/")
	host = strings.ToLower(host)
	switch {
	case host == "oidc.circleci.com":
		return circleci
	case host == "token.actions.githubusercontent.com", strings.HasPrefix(host, "token.actions.") && strings.HasSuffix(host, ".ghe.com"),
		strings.HasSuffix(path, "_services/token"):
		return github
	case host == "gitlab.com":
		return gitlab
	case host == "app.terraform.io":
		return terraform
	case host == "agent.buildkite.com":
		return buildkite
	case host == "api.bitbucket.org":
		return bitbucket
	}
	for _, s := range subs {
		switch {
		case strings.HasPrefix(s, "repo:"):
			return github
		case strings.HasPrefix(s, "project_path:"):
			return gitlab
		case strings.HasPrefix(s, "organization:") && strings.Contains(s, ":workspace:"):
			return terraform
		case strings.HasPrefix(s, "organization:") && strings.Contains(s, ":pipeline:"):
			return buildkite
		}
	}
	return generic
}

// tenantOfURL returns the tenant named by a per-tenant issuer URL.
func tenantOfURL(url string) string {
	host, path, _ := strings.Cut(url, "/")
	switch strings.ToLower(host) {
	case "oidc.circleci.com":
		return strings.TrimPrefix(path, "org/")
	case "api.bitbucket.org":
		p := strings.TrimPrefix(path, "2.0/workspaces/")
		ws, _, _ := strings.Cut(p, "/")
		return ws
	}
	return ""
}

var github = &Provider{
	Name: "github", Shared: true,
	CallerControlled: []string{"aud", "actor", "actor_id", "workflow", "workflow_ref", "run_id", "run_number", "run_attempt", "event_name", "head_ref", "base_ref", "runner_environment"},
	TenantClaims:     []string{"sub", "repository", "repository_id", "repository_owner", "repository_owner_id", "job_workflow_ref", "enterprise", "enterprise_id"},
	parse:            parseGitHub,
	format:           formatGitHub,
	claims:           githubClaims,
	ownerScope:       func(o string) string { return "repo:" + o + "/*" },
	mainRef: func(id Identity) string {
		id.Kind, id.Ref, id.Env = "branch", "main", ""
		return formatGitHub(id)
	},
}

func parseGitHub(sub string) (Identity, bool) {
	rest, ok := strings.CutPrefix(sub, "repo:")
	if !ok {
		return Identity{}, false
	}
	or, ctx, ok := strings.Cut(rest, ":")
	if !ok {
		return Identity{}, false
	}
	owner, repo, ok := strings.Cut(or, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return Identity{}, false
	}
	id := Identity{}
	if o, oid, ok := strings.Cut(owner, "@"); ok {
		r, rid, ok2 := strings.Cut(repo, "@")
		if !ok2 || !digits(oid) || !digits(rid) {
			return Identity{}, false
		}
		id.Immutable, id.OwnerID, id.RepoID, owner, repo = true, oid, rid, o, r
	}
	id.Owner, id.Repo = owner, repo
	switch {
	case ctx == "pull_request":
		id.Kind = "pull_request"
	case strings.HasPrefix(ctx, "ref:refs/heads/") && len(ctx) > len("ref:refs/heads/"):
		id.Kind, id.Ref = "branch", strings.TrimPrefix(ctx, "ref:refs/heads/")
	case strings.HasPrefix(ctx, "ref:refs/tags/") && len(ctx) > len("ref:refs/tags/"):
		id.Kind, id.Ref = "tag", strings.TrimPrefix(ctx, "ref:refs/tags/")
	case strings.HasPrefix(ctx, "environment:") && len(ctx) > len("environment:"):
		id.Kind, id.Env = "environment", strings.TrimPrefix(ctx, "environment:")
	default:
		return Identity{}, false
	}
	if strings.ContainsAny(id.Owner+id.Repo+id.Ref+id.Env, ":* ?") {
		return Identity{}, false
	}
	return id, true
}

func formatGitHub(id Identity) string {
	or := id.Owner + "/" + id.Repo
	if id.Immutable {
		or = id.Owner + "@" + id.OwnerID + "/" + id.Repo + "@" + id.RepoID
	}
	switch id.Kind {
	case "pull_request":
		return "repo:" + or + ":pull_request"
	case "tag":
		return "repo:" + or + ":ref:refs/tags/" + id.Ref
	case "environment":
		return "repo:" + or + ":environment:" + id.Env
	}
	return "repo:" + or + ":ref:refs/heads/" + id.Ref
}

func githubClaims(iss, aud string, id Identity, rng *detRand) map[string]any {
	p := ciclaims.Params{
		Issuer: iss, Audience: []string{aud}, Repository: id.Owner + "/" + id.Repo,
		RepositoryID: id.RepoID, RepositoryOwnerID: id.OwnerID, Environment: id.Env, Rand: rng,
		Workflow: "deploy", JobWorkflowRef: id.Owner + "/" + id.Repo + "/.github/workflows/deploy.yml@" + githubRef(id),
	}
	switch id.Kind {
	case "pull_request":
		p.EventName, p.Ref = "pull_request", "refs/pull/1/merge"
		p.JobWorkflowRef = id.Owner + "/" + id.Repo + "/.github/workflows/deploy.yml@refs/pull/1/merge"
	case "tag":
		p.Ref, p.RefType = "refs/tags/"+id.Ref, "tag"
	case "environment":
		p.Ref = "refs/heads/main"
	default:
		p.Ref = "refs/heads/" + id.Ref
	}
	c, err := ciclaims.Build(ciclaims.GitHub, p)
	if err != nil {
		return nil
	}
	c["sub"] = formatGitHub(id)
	if id.Kind == "pull_request" {
		c["head_ref"], c["base_ref"] = "keyless-audit-branch", "main"
	}
	return c
}

func githubRef(id Identity) string {
	switch id.Kind {
	case "tag":
		return "refs/tags/" + id.Ref
	case "environment":
		return "refs/heads/main"
	}
	return "refs/heads/" + id.Ref
}

var gitlab = &Provider{
	Name: "gitlab", Shared: true,
	CallerControlled: []string{"aud", "pipeline_source", "environment"},
	TenantClaims:     []string{"sub", "namespace_id", "namespace_path", "project_id", "project_path", "ci_config_ref_uri"},
	parse:            parseGitLab,
	format: func(id Identity) string {
		kind := id.Kind
		if kind != "tag" {
			kind = "branch"
		}
		return "project_path:" + id.Owner + "/" + id.Repo + ":ref_type:" + kind + ":ref:" + gitlabRef(id)
	},
	claims:     gitlabClaims,
	ownerScope: func(o string) string { return "project_path:" + o + "/*" },
	mainRef: func(id Identity) string {
		return "project_path:" + id.Owner + "/" + id.Repo + ":ref_type:branch:ref:main"
	},
}

func parseGitLab(sub string) (Identity, bool) {
	rest, ok := strings.CutPrefix(sub, "project_path:")
	if !ok {
		return Identity{}, false
	}
	path, ref, ok := strings.Cut(rest, ":ref_type:")
	if !ok {
		return Identity{}, false
	}
	kind, name, ok := strings.Cut(ref, ":ref:")
	if !ok || (kind != "branch" && kind != "tag") || name == "" {
		return Identity{}, false
	}
	owner, repo, ok := strings.Cut(path, "/")
	if !ok || owner == "" || repo == "" || strings.ContainsAny(path+name, ":* ?") || strings.HasSuffix(repo, "/") {
		return Identity{}, false
	}
	return Identity{Owner: owner, Repo: repo, Kind: kind, Ref: name}, true
}

func gitlabClaims(iss, aud string, id Identity, rng *detRand) map[string]any {
	p := ciclaims.Params{Issuer: iss, Audience: []string{aud}, ProjectPath: id.Owner + "/" + id.Repo, Ref: gitlabRef(id), RefType: id.Kind, Rand: rng}
	if id.Kind == "pull_request" {
		p.RefType, p.PipelineSource = "branch", "merge_request_event"
	}
	if id.Kind == "environment" {
		p.RefType, p.Environment = "branch", id.Env
	}
	c, err := ciclaims.Build(ciclaims.GitLab, p)
	if err != nil {
		return nil
	}
	return c
}

var circleci = &Provider{
	Name:         "circleci",
	TenantClaims: []string{"sub", "oidc.circleci.com/project-id", "oidc.circleci.com/context-ids"},
	parse: func(sub string) (Identity, bool) {
		// v1: org/O/project/P/user/U; v2 adds /vcs-origin/X/vcs-ref/R,
		// where X (github.com/org/repo) and R (refs/heads/main) hold
		// slashes of their own.
		f := strings.Split(sub, "/")
		if len(f) < 6 || len(f) == 7 || f[0] != "org" || f[2] != "project" || f[4] != "user" {
			return Identity{}, false
		}
		if strings.ContainsAny(sub, "*? ") {
			return Identity{}, false
		}
		id := Identity{Owner: f[1], Repo: f[3], Kind: "branch", Ref: "main"}
		if len(f) > 6 {
			k := slices.Index(f[7:], "vcs-ref") + 7
			if f[6] != "vcs-origin" || k < 8 || k == len(f)-1 {
				return Identity{}, false
			}
			id.Env = strings.Join(f[7:k], "/") // the vcs origin
		}
		return id, true
	},
	format: func(id Identity) string {
		return "org/" + id.Owner + "/project/" + id.Repo + "/user/00000000-0000-4000-8000-00000000a0d1"
	},
	claims: func(iss, aud string, id Identity, rng *detRand) map[string]any {
		c, err := ciclaims.Build(ciclaims.CircleCI, ciclaims.Params{Issuer: iss, Audience: []string{aud}, OrgID: id.Owner, ProjectID: id.Repo,
			UserID: "00000000-0000-4000-8000-00000000a0d1", Rand: rng})
		if err != nil {
			return nil
		}
		return c
	},
	ownerScope: func(o string) string { return "org/" + o + "/project/*" },
	mainRef:    func(id Identity) string { return "org/" + id.Owner + "/project/" + id.Repo + "/user/*" },
}

var terraform = &Provider{
	Name: "terraform", Shared: true,
	CallerControlled: []string{"aud"},
	TenantClaims:     []string{"sub", "terraform_organization_id", "terraform_organization_name", "terraform_workspace_id", "terraform_project_id"},
	parse: func(sub string) (Identity, bool) {
		f := strings.Split(sub, ":")
		if len(f) != 8 || f[0] != "organization" || f[2] != "project" || f[4] != "workspace" || f[6] != "run_phase" ||
			strings.ContainsAny(sub, "*? ") || f[1] == "" || f[3] == "" || f[5] == "" || (f[7] != "plan" && f[7] != "apply") {
			return Identity{}, false
		}
		return Identity{Owner: f[1], Project: f[3], Repo: f[5], Kind: f[7]}, true
	},
	format: func(id Identity) string {
		return "organization:" + id.Owner + ":project:" + or(id.Project, "Default Project") + ":workspace:" + id.Repo + ":run_phase:" + or(id.Kind, "apply")
	},
	claims: func(iss, aud string, id Identity, rng *detRand) map[string]any {
		return map[string]any{
			"iss": iss, "aud": aud, "sub": "organization:" + id.Owner + ":project:" + or(id.Project, "Default Project") + ":workspace:" + id.Repo + ":run_phase:" + or(id.Kind, "apply"),
			"terraform_run_phase": or(id.Kind, "apply"), "terraform_workspace_id": "ws-" + rng.hex(8), "terraform_workspace_name": id.Repo,
			"terraform_full_workspace":  "organization:" + id.Owner + ":project:" + or(id.Project, "Default Project") + ":workspace:" + id.Repo,
			"terraform_organization_id": "org-" + rng.hex(8), "terraform_organization_name": id.Owner,
			"terraform_project_id": "prj-" + rng.hex(8), "terraform_project_name": or(id.Project, "Default Project"), "terraform_run_id": "run-" + rng.hex(8),
		}
	},
	ownerScope: func(o string) string { return "organization:" + o + ":*" },
	mainRef: func(id Identity) string {
		return "organization:" + id.Owner + ":project:*:workspace:" + id.Repo + ":run_phase:*"
	},
}

var buildkite = &Provider{
	Name: "buildkite", Shared: true,
	CallerControlled: []string{"aud", "build_branch", "build_tag", "step_key"},
	TenantClaims:     []string{"sub", "organization_slug", "organization_id", "pipeline_slug", "pipeline_id", "cluster_id", "cluster_name"},
	parse: func(sub string) (Identity, bool) {
		f := strings.Split(sub, ":")
		if len(f) != 10 || f[0] != "organization" || f[2] != "pipeline" || f[4] != "ref" || f[6] != "commit" || f[8] != "step" ||
			strings.ContainsAny(sub, "*? ") || f[1] == "" || f[3] == "" {
			return Identity{}, false
		}
		id := Identity{Owner: f[1], Repo: f[3], Kind: "branch", Ref: strings.TrimPrefix(f[5], "refs/heads/")}
		if strings.HasPrefix(f[5], "refs/tags/") {
			id.Kind, id.Ref = "tag", strings.TrimPrefix(f[5], "refs/tags/")
		}
		return id, true
	},
	format: func(id Identity) string { return buildkiteSub(id, "0000000000000000000000000000000000000000") },
	claims: func(iss, aud string, id Identity, rng *detRand) map[string]any {
		sha := rng.hex(20)
		c := map[string]any{"iss": iss, "aud": aud, "sub": buildkiteSub(id, sha),
			"organization_slug": id.Owner, "pipeline_slug": id.Repo, "build_number": 1, "build_commit": sha,
			"step_key": "deploy", "job_id": rng.uuid(), "agent_id": rng.uuid(), "organization_id": rng.uuid(), "pipeline_id": rng.uuid()}
		if id.Kind == "tag" {
			c["build_tag"] = id.Ref
		} else {
			c["build_branch"] = id.Ref
		}
		return c
	},
	ownerScope: func(o string) string { return "organization:" + o + ":*" },
	mainRef: func(id Identity) string {
		return "organization:" + id.Owner + ":pipeline:" + id.Repo + ":ref:refs/heads/main:*"
	},
}

func buildkiteSub(id Identity, sha string) string {
	ref := "refs/heads/" + id.Ref
	if id.Kind == "tag" {
		ref = "refs/tags/" + id.Ref
	}
	return "organization:" + id.Owner + ":pipeline:" + id.Repo + ":ref:" + ref + ":commit:" + sha + ":step:deploy"
}

var bitbucket = &Provider{
	Name:         "bitbucket",
	TenantClaims: []string{"sub", "repositoryUuid", "workspaceUuid"},
	parse: func(sub string) (Identity, bool) {
		f := strings.Split(sub, ":")
		if len(f) < 2 || len(f) > 3 || strings.ContainsAny(sub, "*? ") {
			return Identity{}, false
		}
		return Identity{Repo: f[0], Kind: "branch", Ref: "main"}, true
	},
	format: func(id Identity) string { return id.Repo + ":{00000000-0000-4000-8000-00000000a0d1}" },
	claims: func(iss, aud string, id Identity, rng *detRand) map[string]any {
		return map[string]any{"iss": iss, "aud": aud, "sub": id.Repo + ":{00000000-0000-4000-8000-00000000a0d1}",
			"repositoryUuid": id.Repo, "stepUuid": "{00000000-0000-4000-8000-00000000a0d1}", "branchName": id.Ref,
			"workspaceUuid": "{" + rng.uuid() + "}", "pipelineUuid": "{" + rng.uuid() + "}"}
	},
	ownerScope: func(string) string { return "*" },
	mainRef:    func(id Identity) string { return id.Repo + ":*" },
}

var generic = &Provider{
	Name: "generic", Shared: true,
	TenantClaims: []string{"sub"},
	parse:        func(sub string) (Identity, bool) { return Identity{Subject: sub}, !strings.ContainsAny(sub, "*?") },
	format:       func(id Identity) string { return id.Subject },
	claims: func(iss, aud string, id Identity, rng *detRand) map[string]any {
		return map[string]any{"iss": iss, "aud": aud, "sub": id.Subject}
	},
	ownerScope: func(string) string { return "SUBJECT" },
	mainRef:    func(id Identity) string { return id.Subject },
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func gitlabRef(id Identity) string {
	switch {
	case id.Ref != "":
		return id.Ref
	case id.Kind == "pull_request":
		return newBranch
	}
	return "main"
}

// literalRepos returns the repositories (projects, workspaces, pipelines)
// the policy's subject values name without a wildcard: the ones the owner
// meant. Any other repository an admitted token names is one the policy
// lets in by accident.
func literalRepos(prov *Provider, subs []string) map[string]bool {
	out := map[string]bool{}
	seg := func(v, start, end string) {
		i := strings.Index(v, start)
		if i < 0 {
			return
		}
		r := v[i+len(start):]
		if j := strings.Index(r, end); j >= 0 {
			r = r[:j]
		} else if end != "" {
			return
		}
		if r != "" && !hasWildcard(r) {
			if k := strings.Index(r, "@"); k >= 0 && prov == github {
				r = r[:k]
			}
			out[r] = true
		}
	}
	for _, v := range subs {
		switch prov {
		case github:
			if rest, ok := strings.CutPrefix(v, "repo:"); ok {
				if _, after, ok := strings.Cut(rest, "/"); ok {
					seg(":"+after, ":", ":")
				}
			}
		case gitlab:
			if rest, ok := strings.CutPrefix(v, "project_path:"); ok {
				if _, after, ok := strings.Cut(rest, "/"); ok {
					seg(":"+after, ":", ":")
				}
			}
		case circleci:
			seg(v, "/project/", "/")
		case terraform:
			seg(v, ":workspace:", ":")
		case buildkite:
			seg(v, ":pipeline:", ":")
		case bitbucket:
			seg(":"+v, ":", ":")
		}
	}
	return out
}
