package ciclaims

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Params are the inputs of one job token. Fields a profile does not use are
// ignored; identifiers left empty are generated from Rand. The JSON names are
// the admin API's wire names.
type Params struct {
	// Issuer is the iss claim; set by the issuer, never by the caller.
	Issuer string `json:"-"`
	// Audience is the aud claim; empty means the profile default. One value
	// is encoded as a string (as CircleCI does), several as an array.
	Audience []string `json:"audience,omitempty"`

	// CircleCI (ProjectID, UserID, PipelineID and JobID are shared with GitLab,
	// which uses numeric ids).
	OrgID                string   `json:"org_id,omitempty"`
	ProjectID            string   `json:"project_id,omitempty"`
	UserID               string   `json:"user_id,omitempty"`
	VCSOrigin            string   `json:"vcs_origin,omitempty"`
	VCSRef               string   `json:"vcs_ref,omitempty"`
	ContextIDs           []string `json:"context_ids,omitempty"`
	V2                   bool     `json:"v2,omitempty"`
	SSHRerun             bool     `json:"ssh_rerun,omitempty"`
	JobID                string   `json:"job_id,omitempty"`
	WorkflowID           string   `json:"workflow_id,omitempty"`
	PipelineID           string   `json:"pipeline_id,omitempty"`
	PipelineDefinitionID string   `json:"pipeline_definition_id,omitempty"`

	// GitHub Actions. Ref is shared with GitLab: GitHub wants refs/heads/x
	// (a bare name is taken as a branch), GitLab the bare name.
	Repository        string `json:"repository,omitempty"` // owner/repo
	RepositoryID      string `json:"repository_id,omitempty"`
	RepositoryOwnerID string `json:"repository_owner_id,omitempty"`
	// SubjectFormat chooses GitHub's default sub: SubjectByName ("" too)
	// repo:OWNER/REPO:…, or SubjectByID, the immutable form
	// repo:OWNER@OWNER_ID/REPO@REPO_ID:… that GitHub gives repositories
	// created or renamed from 2026-07-15 on, and others that opt in.
	SubjectFormat     string `json:"subject_format,omitempty"`
	Ref               string `json:"ref,omitempty"`
	RefType           string `json:"ref_type,omitempty"` // branch | tag
	SHA               string `json:"sha,omitempty"`
	Workflow          string `json:"workflow,omitempty"`
	JobWorkflowRef    string `json:"job_workflow_ref,omitempty"`
	Environment       string `json:"environment,omitempty"`
	Actor             string `json:"actor,omitempty"`
	ActorID           string `json:"actor_id,omitempty"`
	RunID             string `json:"run_id,omitempty"`
	RunNumber         string `json:"run_number,omitempty"`
	RunAttempt        string `json:"run_attempt,omitempty"`
	EventName         string `json:"event_name,omitempty"`
	RunnerEnvironment string `json:"runner_environment,omitempty"`

	// GitLab CI.
	ProjectPath     string `json:"project_path,omitempty"` // group/project
	NamespaceID     string `json:"namespace_id,omitempty"`
	UserLogin       string `json:"user_login,omitempty"`
	UserEmail       string `json:"user_email,omitempty"`
	UserAccessLevel string `json:"user_access_level,omitempty"`
	PipelineSource  string `json:"pipeline_source,omitempty"`
	RefProtected    bool   `json:"ref_protected,omitempty"`

	// Extra are claims from --claim k=v. They override generated claims
	// (sub and aud included); values are typed by claimValue.
	Extra map[string]string `json:"claims,omitempty"`

	// Rand supplies generated identifiers; nil means crypto/rand.
	Rand io.Reader `json:"-"`
}

// reservedClaims are set by the issuer from its own clock and state and
// cannot be given through Extra.
var reservedClaims = []string{"iss", "iat", "exp", "nbf", "jti"}

// ErrReservedClaim is returned when Extra tries to set a reserved claim.
var ErrReservedClaim = errors.New("claim cannot be overridden")

// Build returns the claim set of a job token of profile p, exactly as the
// real CI shapes it, without the time claims and jti. It errors when a
// required field is missing (CircleCI org and project, GitHub repository,
// GitLab project path) or Extra names a reserved claim.
func Build(p Profile, in Params) (map[string]any, error) {
	for _, k := range reservedClaims {
		if _, ok := in.Extra[k]; ok {
			return nil, fmt.Errorf("%w: %q is set by the issuer", ErrReservedClaim, k)
		}
	}
	g := gen{r: in.Rand}
	if g.r == nil {
		g.r = rand.Reader
	}
	c := map[string]any{}
	var err error
	switch p {
	case CircleCI:
		err = buildCircleCI(c, &in, &g)
	case GitHub:
		err = buildGitHub(c, &in, &g)
	case GitLab:
		err = buildGitLab(c, &in, &g)
	case Generic:
	default:
		err = fmt.Errorf("%w %q", ErrUnknownProfile, p)
	}
	if err == nil {
		err = g.err
	}
	if err != nil {
		return nil, err
	}
	if in.Issuer != "" {
		c["iss"] = in.Issuer
	}
	aud := in.Audience
	if len(aud) == 0 && p != Generic {
		aud = DefaultAudience(p, in.OrgID, in.Issuer)
	}
	switch len(aud) {
	case 0:
	case 1:
		c["aud"] = aud[0]
	default:
		c["aud"] = append([]string(nil), aud...)
	}
	for k, v := range in.Extra {
		if k == "" {
			return nil, errors.New("claim with an empty name")
		}
		c[k] = claimValue(v)
	}
	return c, nil
}

func buildCircleCI(c map[string]any, in *Params, g *gen) error {
	if in.OrgID == "" {
		return errors.New("circleci: org id is required")
	}
	if in.ProjectID == "" {
		return errors.New("circleci: project id is required")
	}
	user := or(in.UserID, g.uuid)
	sub := "org/" + in.OrgID + "/project/" + in.ProjectID + "/user/" + user
	if in.V2 && in.VCSOrigin != "" && in.VCSRef != "" {
		// Custom-webhook pipelines have no VCS info and keep the v1 form.
		sub += "/vcs-origin/" + in.VCSOrigin + "/vcs-ref/" + in.VCSRef
	}
	c["sub"] = sub
	c[circleciPrefix+"org-id"] = in.OrgID
	c[circleciPrefix+"project-id"] = in.ProjectID
	if len(in.ContextIDs) > 0 {
		c[circleciPrefix+"context-ids"] = append([]string(nil), in.ContextIDs...)
	}
	if in.VCSOrigin != "" {
		c[circleciPrefix+"vcs-origin"] = in.VCSOrigin
	}
	if in.VCSRef != "" {
		c[circleciPrefix+"vcs-ref"] = in.VCSRef
	}
	c[circleciPrefix+"ssh-rerun"] = in.SSHRerun
	c[circleciPrefix+"job-id"] = or(in.JobID, g.uuid)
	c[circleciPrefix+"workflow-id"] = or(in.WorkflowID, g.uuid)
	c[circleciPrefix+"pipeline-id"] = or(in.PipelineID, g.uuid)
	c[circleciPrefix+"pipeline-definition-id"] = or(in.PipelineDefinitionID, g.uuid)
	return nil
}

// GitHub subject formats (Params.SubjectFormat).
const (
	SubjectByName = "name"
	SubjectByID   = "id"
)

func buildGitHub(c map[string]any, in *Params, g *gen) error {
	owner, name, ok := strings.Cut(in.Repository, "/")
	if !ok || owner == "" || name == "" || strings.ContainsAny(in.Repository, "@:") {
		return fmt.Errorf("github: repository must be owner/repo, got %q", in.Repository)
	}
	byID := false
	switch in.SubjectFormat {
	case "", SubjectByName:
	case SubjectByID:
		byID = true
	default:
		return fmt.Errorf("github: subject format must be %s or %s, got %q", SubjectByName, SubjectByID, in.SubjectFormat)
	}
	ownerID, repoID := in.RepositoryOwnerID, in.RepositoryID
	for _, id := range []*string{&ownerID, &repoID} {
		if *id != "" && !isDecimalID(*id) {
			return fmt.Errorf("github: repository and owner ids are positive decimal numbers, got %q", *id)
		}
	}
	if ownerID == "" {
		ownerID = derivedGitHubID(owner)
	}
	if repoID == "" {
		repoID = derivedGitHubID(in.Repository)
	}
	subjectRepo := in.Repository
	if byID {
		subjectRepo = owner + "@" + ownerID + "/" + name + "@" + repoID
	}
	event := or(in.EventName, constant("push"))
	ref := in.Ref
	switch {
	case ref == "" && event == "pull_request":
		ref = "refs/pull/1/merge"
	case ref == "":
		ref = "refs/heads/main"
	case !strings.HasPrefix(ref, "refs/") && in.RefType == "tag":
		ref = "refs/tags/" + ref
	case !strings.HasPrefix(ref, "refs/"):
		ref = "refs/heads/" + ref
	}
	refType := in.RefType
	if refType == "" {
		refType = "branch"
		if strings.HasPrefix(ref, "refs/tags/") {
			refType = "tag"
		}
	}
	esc := func(s string) string { return strings.ReplaceAll(s, ":", "%3A") }
	switch {
	case in.Environment != "":
		c["sub"] = "repo:" + subjectRepo + ":environment:" + esc(in.Environment)
		c["environment"] = in.Environment
	case event == "pull_request":
		c["sub"] = "repo:" + subjectRepo + ":pull_request"
	default:
		c["sub"] = "repo:" + subjectRepo + ":ref:" + esc(ref)
	}
	sha := or(in.SHA, g.sha)
	workflowRef := in.Repository + "/.github/workflows/ci.yml@" + ref
	c["repository"] = in.Repository
	c["repository_id"] = repoID
	c["repository_owner"] = owner
	c["repository_owner_id"] = ownerID
	c["repository_visibility"] = "private"
	c["ref"] = ref
	c["ref_type"] = refType
	c["sha"] = sha
	c["workflow"] = or(in.Workflow, constant("CI"))
	c["workflow_ref"] = workflowRef
	c["workflow_sha"] = sha
	c["job_workflow_ref"] = or(in.JobWorkflowRef, constant(workflowRef))
	c["job_workflow_sha"] = sha
	c["actor"] = or(in.Actor, constant(owner))
	c["actor_id"] = or(in.ActorID, g.number)
	c["run_id"] = or(in.RunID, g.number)
	c["run_number"] = or(in.RunNumber, constant("1"))
	c["run_attempt"] = or(in.RunAttempt, constant("1"))
	c["event_name"] = event
	c["base_ref"] = ""
	c["head_ref"] = ""
	c["runner_environment"] = or(in.RunnerEnvironment, constant("github-hosted"))
	return nil
}

func buildGitLab(c map[string]any, in *Params, g *gen) error {
	i := strings.LastIndex(in.ProjectPath, "/")
	if i <= 0 || i == len(in.ProjectPath)-1 {
		return fmt.Errorf("gitlab: project path must be group/project, got %q", in.ProjectPath)
	}
	ref, refType := in.Ref, in.RefType
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		ref, refType = strings.TrimPrefix(ref, "refs/heads/"), or(refType, constant("branch"))
	case strings.HasPrefix(ref, "refs/tags/"):
		ref, refType = strings.TrimPrefix(ref, "refs/tags/"), or(refType, constant("tag"))
	}
	ref = or(ref, constant("main"))
	refType = or(refType, constant("branch"))
	if refType != "branch" && refType != "tag" {
		return fmt.Errorf("gitlab: ref type must be branch or tag, got %q", refType)
	}
	refPath := "refs/heads/" + ref
	if refType == "tag" {
		refPath = "refs/tags/" + ref
	}
	login := or(in.UserLogin, constant("keyless"))
	sha := or(in.SHA, g.sha)
	host := strings.TrimPrefix(strings.TrimPrefix(in.Issuer, "https://"), "http://")
	if host == "" {
		host = "gitlab.com"
	}
	c["sub"] = "project_path:" + in.ProjectPath + ":ref_type:" + refType + ":ref:" + ref
	c["namespace_id"] = or(in.NamespaceID, g.number)
	c["namespace_path"] = in.ProjectPath[:i]
	c["project_id"] = or(in.ProjectID, g.number)
	c["project_path"] = in.ProjectPath
	c["project_visibility"] = "private"
	c["user_id"] = or(in.UserID, g.number)
	c["user_login"] = login
	c["user_email"] = or(in.UserEmail, constant(login+"@example.com"))
	c["user_access_level"] = or(in.UserAccessLevel, constant("developer"))
	c["pipeline_id"] = or(in.PipelineID, g.number)
	c["pipeline_source"] = or(in.PipelineSource, constant("push"))
	c["job_id"] = or(in.JobID, g.number)
	c["ref"] = ref
	c["ref_type"] = refType
	c["ref_path"] = refPath
	c["ref_protected"] = strconv.FormatBool(in.RefProtected)
	c["runner_id"] = g.int()
	c["runner_environment"] = or(in.RunnerEnvironment, constant("gitlab-hosted"))
	c["sha"] = sha
	c["ci_config_ref_uri"] = host + "/" + in.ProjectPath + "//.gitlab-ci.yml@" + refPath
	c["ci_config_sha"] = sha
	if in.Environment != "" {
		c["environment"] = in.Environment
		c["environment_protected"] = "false"
	}
	return nil
}

// claimValue types a --claim value: JSON true/false, numbers, arrays and objects keep
// their JSON type; anything else (null included) is the string
// itself.
func claimValue(v string) any {
	t := strings.TrimSpace(v)
	if t == "" {
		return v
	}
	switch {
	case t == "true":
		return true
	case t == "false":
		return false
	case t[0] == '[':
		var a []any
		if json.Unmarshal([]byte(t), &a) == nil {
			return a
		}
	case t[0] == '{':
		// Objects too: AWS's session-tags claim (https://aws.amazon.com/tags) is one.
		var o map[string]any
		if json.Unmarshal([]byte(t), &o) == nil {
			return o
		}
	case t[0] == '-' || (t[0] >= '0' && t[0] <= '9'):
		var n json.Number
		if json.Unmarshal([]byte(t), &n) == nil {
			return n
		}
	}
	return v
}

// ParseClaim splits a --claim flag value "k=v".
func ParseClaim(s string) (key, value string, err error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return "", "", fmt.Errorf("claim %q: want key=value", s)
	}
	return strings.TrimSpace(k), v, nil
}

// gen produces identifiers from a random source, remembering the first error.
type gen struct {
	r   io.Reader
	err error
}

func (g *gen) read(n int) []byte {
	b := make([]byte, n)
	if g.err == nil {
		if _, err := io.ReadFull(g.r, b); err != nil {
			g.err = fmt.Errorf("generate id: %w", err)
		}
	}
	return b
}

// uuid returns a random (version 4) UUID.
func (g *gen) uuid() string {
	b := g.read(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// int returns a positive number below 10^9.
func (g *gen) int() int64 {
	return int64(binary.BigEndian.Uint64(g.read(8))%900_000_000) + 100_000_000
}

// number returns a numeric id as a string, the way GitHub and GitLab send them.
func (g *gen) number() string { return strconv.FormatInt(g.int(), 10) }

// derivedGitHubID is the numeric id keyless gives a GitHub owner ("acme")
// or repository ("acme/app") whose id is not given: the first 8 bytes of
// SHA-256 of the lower-cased name, reduced to 9 digits (100000000 to
// 999999999). A repository thus keeps one id across tokens, as on GitHub, and
// a trust policy for the immutable subject can be written before any token.
func derivedGitHubID(name string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(name)))
	return strconv.FormatUint(binary.BigEndian.Uint64(sum[:8])%900_000_000+100_000_000, 10)
}

func isDecimalID(s string) bool {
	if s == "" || len(s) > 19 || s[0] == '0' {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// sha returns a random 40-hex-digit commit id.
func (g *gen) sha() string { return hex.EncodeToString(g.read(20)) }

func or(v string, def func() string) string {
	if v != "" {
		return v
	}
	return def()
}

func constant(s string) func() string { return func() string { return s } }
