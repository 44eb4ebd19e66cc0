package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/policy"
)

// SetupSpec describes the provider and role to provision for one CI.
type SetupSpec struct {
	CI string // circleci | github | gitlab
	// CircleCI: the organization and the projects allowed.
	OrgID      string
	ProjectIDs []string
	// GitHub: owner/repo; GitLab: group/project.
	Repo string
	// Branches and Environments pin the subject (GitHub: both; GitLab: branches).
	Branches, Environments []string
	// IssuerURL and Audience override the CI's defaults (self-hosted CI).
	IssuerURL, Audience string
	RoleName            string
	PolicyARNs          []string
	MaxSessionDuration  int32 // default 3600
	Thumbprints         []string
}

// Plan is a validated SetupSpec with everything derived from it.
type Plan struct {
	Spec        SetupSpec
	IssuerURL   string // https://…
	ProviderURL string // without scheme: the condition-key prefix
	ClientIDs   []string
	// Conditions of the trust policy's single statement, by operator.
	Conditions map[string]map[string][]string
}

// NewPlan validates spec and derives the least-privilege trust policy.
func NewPlan(spec SetupSpec) (*Plan, error) {
	if spec.RoleName == "" {
		return nil, errors.New("--role-name is required")
	}
	if spec.MaxSessionDuration == 0 {
		spec.MaxSessionDuration = 3600
	}
	if spec.MaxSessionDuration < 3600 || spec.MaxSessionDuration > 43200 {
		return nil, fmt.Errorf("max session duration must be 3600..43200 seconds, got %d", spec.MaxSessionDuration)
	}
	p := &Plan{Spec: spec, IssuerURL: spec.IssuerURL}
	var sub []string
	op := "StringEquals"
	switch spec.CI {
	case "circleci":
		if spec.OrgID == "" {
			return nil, errors.New("--org-id is required for CircleCI")
		}
		if len(spec.ProjectIDs) == 0 {
			return nil, errors.New("at least one --project-id is required: a trust policy for a whole organization is not least privilege")
		}
		if p.IssuerURL == "" {
			p.IssuerURL = ciclaims.CircleCIIssuerBase + spec.OrgID
		}
		p.ClientIDs = []string{or(spec.Audience, spec.OrgID)}
		op = "StringLike"
		for _, id := range spec.ProjectIDs {
			sub = append(sub, ciclaims.CircleCIProjectSubjects(spec.OrgID, id))
		}
	case "github":
		if !strings.Contains(spec.Repo, "/") {
			return nil, errors.New("--repo OWNER/REPO is required for GitHub")
		}
		if len(spec.Branches)+len(spec.Environments) == 0 {
			return nil, errors.New("--branch or --environment is required: the subject is pinned to a branch or an environment")
		}
		p.IssuerURL = or(p.IssuerURL, ciclaims.GitHubIssuerURL)
		p.ClientIDs = []string{or(spec.Audience, ciclaims.GitHubAudience)}
		for _, b := range spec.Branches {
			sub = append(sub, "repo:"+spec.Repo+":ref:refs/heads/"+strings.TrimPrefix(b, "refs/heads/"))
		}
		for _, e := range spec.Environments {
			sub = append(sub, "repo:"+spec.Repo+":environment:"+e)
		}
	case "gitlab":
		if !strings.Contains(spec.Repo, "/") {
			return nil, errors.New("--repo GROUP/PROJECT is required for GitLab")
		}
		if len(spec.Branches) == 0 {
			return nil, errors.New("--branch is required for GitLab: the subject is pinned to a branch")
		}
		p.IssuerURL = or(p.IssuerURL, ciclaims.GitLabIssuerURL)
		p.ClientIDs = []string{or(spec.Audience, p.IssuerURL)}
		for _, b := range spec.Branches {
			sub = append(sub, "project_path:"+spec.Repo+":ref_type:branch:ref:"+b)
		}
	default:
		return nil, fmt.Errorf("--ci must be circleci, github or gitlab, not %q", spec.CI)
	}
	u, err := url.Parse(p.IssuerURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("issuer URL %q must be an https URL", p.IssuerURL)
	}
	p.IssuerURL = strings.TrimRight(p.IssuerURL, "/")
	p.ProviderURL = strings.TrimPrefix(p.IssuerURL, "https://")
	p.Conditions = map[string]map[string][]string{"StringEquals": {p.ProviderURL + ":aud": p.ClientIDs}}
	if op == "StringEquals" {
		p.Conditions[op][p.ProviderURL+":sub"] = sub
	} else {
		p.Conditions[op] = map[string][]string{p.ProviderURL + ":sub": sub}
	}
	return p, nil
}

// TrustPolicy returns the trust policy document as a JSON-ready value with
// providerARN (a string, or a template reference) as the principal.
func (p *Plan) TrustPolicy(providerARN any) map[string]any {
	return policy.WebIdentityTrust(providerARN, p.Conditions)
}

// Change is one step Apply took (or would take).
type Change struct {
	Action string `json:"action"` // create-provider, add-client-id, create-role, update-trust-policy, update-max-session-duration, attach-policy
	Target string `json:"target"`
}

// Apply provisions the plan idempotently: the provider is created (or its
// missing client ids added), the role created (or its trust policy and
// MaxSessionDuration updated), the policies attached. With dryRun nothing
// changes. It returns the changes; none means everything was in place.
func (c *Client) Apply(ctx context.Context, p *Plan, dryRun bool) ([]Change, error) {
	if c.cfg.Credentials == nil {
		return nil, errNoCredentials
	}
	id, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("find the account (GetCallerIdentity): %w", err)
	}
	account := aws.ToString(id.Account)
	providerARN := arn.OIDCProvider(account, p.ProviderURL)
	var changes []Change
	do := func(ch Change, f func() error) error {
		changes = append(changes, ch)
		if dryRun {
			return nil
		}
		if err := f(); err != nil {
			return fmt.Errorf("%s %s: %w", ch.Action, ch.Target, err)
		}
		return nil
	}

	prov, err := c.iam.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(providerARN)})
	switch {
	case isNoSuchEntity(err):
		err = do(Change{"create-provider", providerARN}, func() error {
			_, err := c.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
				Url: aws.String(p.IssuerURL), ClientIDList: p.ClientIDs, ThumbprintList: p.Spec.Thumbprints})
			return err
		})
	case err != nil:
		return nil, fmt.Errorf("read provider %s: %w", providerARN, err)
	default:
		for _, cid := range p.ClientIDs {
			if contains(prov.ClientIDList, cid) {
				continue
			}
			if err = do(Change{"add-client-id", providerARN + " " + cid}, func() error {
				_, err := c.iam.AddClientIDToOpenIDConnectProvider(ctx, &iam.AddClientIDToOpenIDConnectProviderInput{
					OpenIDConnectProviderArn: aws.String(providerARN), ClientID: aws.String(cid)})
				return err
			}); err != nil {
				break
			}
		}
	}
	if err != nil {
		return changes, err
	}

	trust, _ := json.Marshal(p.TrustPolicy(providerARN))
	role, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p.Spec.RoleName)})
	switch {
	case isNoSuchEntity(err):
		if err := do(Change{"create-role", p.Spec.RoleName}, func() error {
			_, err := c.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(p.Spec.RoleName),
				AssumeRolePolicyDocument: aws.String(string(trust)), MaxSessionDuration: aws.Int32(p.Spec.MaxSessionDuration),
				Description: aws.String("CI role for " + p.IssuerURL + " (keyless setup)")})
			return err
		}); err != nil {
			return changes, err
		}
	case err != nil:
		return changes, fmt.Errorf("read role %s: %w", p.Spec.RoleName, err)
	default:
		cur, _ := url.QueryUnescape(aws.ToString(role.Role.AssumeRolePolicyDocument))
		if !sameJSON(cur, string(trust)) {
			if err := do(Change{"update-trust-policy", p.Spec.RoleName}, func() error {
				_, err := c.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
					RoleName: aws.String(p.Spec.RoleName), PolicyDocument: aws.String(string(trust))})
				return err
			}); err != nil {
				return changes, err
			}
		}
		if aws.ToInt32(role.Role.MaxSessionDuration) != p.Spec.MaxSessionDuration {
			if err := do(Change{"update-max-session-duration", fmt.Sprintf("%s %d", p.Spec.RoleName, p.Spec.MaxSessionDuration)}, func() error {
				_, err := c.iam.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String(p.Spec.RoleName),
					MaxSessionDuration: aws.Int32(p.Spec.MaxSessionDuration)})
				return err
			}); err != nil {
				return changes, err
			}
		}
	}

	var attached []string
	if role != nil && role.Role != nil {
		out, err := c.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(p.Spec.RoleName)})
		if err != nil {
			return changes, fmt.Errorf("list policies of %s: %w", p.Spec.RoleName, err)
		}
		for _, ap := range out.AttachedPolicies {
			attached = append(attached, aws.ToString(ap.PolicyArn))
		}
	}
	for _, pa := range p.Spec.PolicyARNs {
		if contains(attached, pa) {
			continue
		}
		if err := do(Change{"attach-policy", p.Spec.RoleName + " " + pa}, func() error {
			_, err := c.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(p.Spec.RoleName), PolicyArn: aws.String(pa)})
			return err
		}); err != nil {
			return changes, err
		}
	}
	return changes, nil
}

func isNoSuchEntity(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "NoSuchEntity" || api.ErrorCode() == "NoSuchEntityException")
}

func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
