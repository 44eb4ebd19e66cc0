// Package ciclaims owns the claim profiles of the CI systems keyless imitates:
// CircleCI, GitHub Actions, GitLab CI and a generic profile. For each it knows
// the default issuer URL and audience, the shape of `sub`, the claim set a real
// job token carries, and which claims AWS STS exposes as provider-specific
// condition keys.
//
// It is pure: no network, no storage, no clock. Random identifiers come from
// an injected io.Reader. It does not sign tokens and does not set the
// time-based claims (iat, exp, nbf) or jti; package issuer does.
package ciclaims

import (
	"errors"
	"fmt"
	"strings"
)

// Profile names a CI claim profile.
type Profile string

// The supported profiles.
const (
	CircleCI Profile = "circleci"
	GitHub   Profile = "github"
	GitLab   Profile = "gitlab"
	Generic  Profile = "generic"
)

// ErrUnknownProfile is returned for a profile name that is not supported.
var ErrUnknownProfile = errors.New("unknown claim profile")

// profiles lists the supported profiles in a stable order.
func profiles() []Profile { return []Profile{CircleCI, GitHub, GitLab, Generic} }

// ParseProfile returns the profile named s (case-insensitive).
func ParseProfile(s string) (Profile, error) {
	p := Profile(strings.ToLower(strings.TrimSpace(s)))
	switch p {
	case CircleCI, GitHub, GitLab, Generic:
		return p, nil
	}
	return "", fmt.Errorf("%w %q (want circleci, github, gitlab or generic)", ErrUnknownProfile, s)
}

// Default issuer URLs of the real CI systems.
const (
	CircleCIIssuerBase = "https://oidc.circleci.com/org/"
	GitHubIssuerURL    = "https://token.actions.githubusercontent.com"
	GitLabIssuerURL    = "https://gitlab.com"
	GitHubAudience     = "sts.amazonaws.com"
)

// DefaultIssuerURL returns the issuer URL the real CI uses: CircleCI
// https://oidc.circleci.com/org/<orgID>, GitHub
// https://token.actions.githubusercontent.com, GitLab https://gitlab.com.
// The generic profile has none and returns an error.
func DefaultIssuerURL(p Profile, orgID string) (string, error) {
	switch p {
	case CircleCI:
		if orgID == "" {
			return "", errors.New("circleci: an org id is required for the default issuer url")
		}
		return CircleCIIssuerBase + orgID, nil
	case GitHub:
		return GitHubIssuerURL, nil
	case GitLab:
		return GitLabIssuerURL, nil
	case Generic:
		return "", errors.New("generic: an issuer url must be given")
	}
	return "", fmt.Errorf("%w %q", ErrUnknownProfile, p)
}

// DefaultAudience returns the audience a job token carries when none is
// asked for: CircleCI the org id, GitHub sts.amazonaws.com (what
// configure-aws-credentials requests), GitLab the instance URL, generic the
// issuer URL.
func DefaultAudience(p Profile, orgID, issuerURL string) []string {
	switch p {
	case CircleCI:
		return []string{orgID}
	case GitHub:
		return []string{GitHubAudience}
	case GitLab, Generic:
		return []string{issuerURL}
	}
	return nil
}

// SubjectFormat describes the default `sub` of a profile, for help texts.
func SubjectFormat(p Profile) string {
	switch p {
	case CircleCI:
		return "org/<org>/project/<project>/user/<user> (v2: .../vcs-origin/<origin>/vcs-ref/<ref>)"
	case GitHub:
		return "repo:<owner>/<repo>:ref:<ref> | repo:<owner>/<repo>:environment:<env> | repo:<owner>/<repo>:pull_request"
	case GitLab:
		return "project_path:<group>/<project>:ref_type:<branch|tag>:ref:<ref>"
	case Generic:
		return "as given with --claim sub=..."
	}
	return ""
}

// CircleCIProjectSubjects is the `sub` pattern (for StringLike) that every
// job of one CircleCI project matches, whoever triggered it.
func CircleCIProjectSubjects(orgID, projectID string) string {
	return "org/" + orgID + "/project/" + projectID + "/*"
}

// JWKSFileName is the name of the JWKS document under <iss>/.well-known/:
// CircleCI publishes jwks-pub.json, the others jwks.json.
func JWKSFileName(p Profile) string {
	if p == CircleCI {
		return "jwks-pub.json"
	}
	return "jwks.json"
}

// circleciPrefix prefixes CircleCI's private claims.
const circleciPrefix = "oidc.circleci.com/"

var standardClaims = []string{"aud", "exp", "iat", "iss", "jti", "sub"}

// ClaimsSupported lists the claims a profile's tokens carry, for the
// discovery document's claims_supported.
func ClaimsSupported(p Profile) []string {
	out := append([]string(nil), standardClaims...)
	switch p {
	case CircleCI:
		for _, c := range []string{"context-ids", "job-id", "org-id", "pipeline-definition-id", "pipeline-id",
			"project-id", "ssh-rerun", "vcs-origin", "vcs-ref", "workflow-id"} {
			out = append(out, circleciPrefix+c)
		}
	case GitHub:
		out = append(out, "nbf", "actor", "actor_id", "base_ref", "enterprise", "enterprise_id", "environment",
			"event_name", "head_ref", "job_workflow_ref", "job_workflow_sha", "ref", "ref_type",
			"repository", "repository_id", "repository_owner", "repository_owner_id", "repository_visibility",
			"run_attempt", "run_id", "run_number", "runner_environment", "sha", "workflow", "workflow_ref", "workflow_sha")
	case GitLab:
		out = append(out, "nbf", "namespace_id", "namespace_path", "project_id", "project_path", "user_id",
			"user_login", "user_email", "user_access_level", "pipeline_id", "pipeline_source", "job_id", "ref",
			"ref_type", "ref_path", "ref_protected", "environment", "environment_protected", "runner_id",
			"runner_environment", "sha", "ci_config_ref_uri", "ci_config_sha", "project_visibility")
	}
	return out
}

// conditionKeys lists, per CI system, the claims AWS STS exposes as
// provider-specific condition keys (<provider url>:<claim>) in
// AssumeRoleWithWebIdentity trust policies, besides aud, sub and amr.
var conditionKeys = map[string][]string{
	"circleci": {"oidc.circleci.com/project-id"},
	"github": {"actor", "actor_id", "enterprise_id", "environment", "job_workflow_ref", "ref",
		"repository", "repository_id", "repository_owner_id", "workflow"},
	"gitlab": {"namespace_id", "pipeline_source", "project_id", "ref_protected", "runner_environment",
		"user_access_level", "user_email", "user_id", "user_login"},
	"buildkite": {"build_branch", "cluster_id", "cluster_name", "organization_id", "organization_slug",
		"pipeline_id", "pipeline_slug"},
	"oci": {"rpst_id"},
}

// ProviderClaimKeys returns the extra claims AWS exposes as condition keys
// for a registered OIDC provider, given its URL without scheme as IAM stores
// it (oidc.circleci.com/org/X, token.actions.githubusercontent.com,
// gitlab.com, agent.buildkite.com, …). Providers AWS has no list for return
// nil: only aud, sub and amr apply to them. The result is a fresh slice.
func ProviderClaimKeys(providerURL string) []string {
	u := strings.TrimPrefix(strings.TrimPrefix(providerURL, "https://"), "http://")
	host, path, _ := strings.Cut(u, "/")
	host = strings.ToLower(host)
	system := ""
	switch {
	case host == "oidc.circleci.com" && strings.HasPrefix(path, "org/") && len(path) > len("org/") &&
		!strings.Contains(path[len("org/"):], "/"):
		system = "circleci"
	case host == "token.actions.githubusercontent.com":
		system = "github"
	case strings.HasPrefix(host, "token.actions.") && strings.HasSuffix(host, ".ghe.com") && path == "":
		system = "github"
	case host == "github.com" && strings.HasPrefix(path, "enterprises/") && len(path) > len("enterprises/"):
		system = "github"
	case host == "gitlab.com" && path == "":
		system = "gitlab"
	case host == "agent.buildkite.com" && path == "":
		system = "buildkite"
	case strings.HasPrefix(host, "agent.") && path == "" &&
		(strings.HasSuffix(host, ".buildkite.dev") || strings.HasSuffix(host, ".buildkite.site")):
		system = "buildkite"
	case strings.HasPrefix(host, "idcs-") && strings.HasSuffix(host, ".identity.oraclecloud.com"):
		system = "oci"
	}
	if system == "" {
		return nil
	}
	return append([]string(nil), conditionKeys[system]...)
}
