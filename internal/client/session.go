package client

import (
	"regexp"
	"strings"
)

var invalidSessionChars = regexp.MustCompile(`[^\w+=,.@-]+`)

// SanitizeSessionName makes s a valid RoleSessionName: runs of characters
// outside [\w+=,.@-] become one '-', leading and trailing '-' are dropped,
// the result is cut to 64 characters, and a name shorter than 2 becomes
// fallback (itself sanitized).
func SanitizeSessionName(s, fallback string) string {
	s = strings.Trim(invalidSessionChars.ReplaceAllString(s, "-"), "-")
	if len(s) > 64 {
		s = strings.TrimRight(s[:64], "-")
	}
	if len(s) < 2 {
		if fallback == "" {
			return "keyless"
		}
		return SanitizeSessionName(fallback, "keyless")
	}
	return s
}

// DefaultSessionName derives a session name from the CI's job variables:
// CircleCI (project, job, build number), GitHub Actions (repository, run id
// and attempt), GitLab (project path, job id); "keyless" elsewhere.
func DefaultSessionName(getenv func(string) string) string {
	join := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			if v := getenv(p); v != "" {
				out = append(out, v)
			}
		}
		return strings.Join(out, "-")
	}
	var name string
	switch {
	case getenv("CIRCLECI") != "" || getenv("CIRCLE_JOB") != "":
		name = "circleci-" + join("CIRCLE_PROJECT_REPONAME", "CIRCLE_JOB", "CIRCLE_BUILD_NUM")
	case getenv("GITHUB_ACTIONS") != "":
		name = "GitHubActions-" + join("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT")
	case getenv("GITLAB_CI") != "":
		name = "gitlab-" + join("CI_PROJECT_PATH_SLUG", "CI_JOB_ID")
	}
	return SanitizeSessionName(name, "keyless")
}
