package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keylessci/keyless/internal/audit"
)

// AuditError is an input `keyless audit` could not analyse.
type AuditError struct {
	Source  string `json:"source"`
	Message string `json:"message"`
}

// ParseAuditInput reads the roles of one input file: a trust policy
// document, a CloudFormation template (JSON; AWS::IAM::Role resources) or a
// Terraform plan (`terraform show -json`; aws_iam_role resources). name is
// the file name reported as the source. Roles whose trust policy cannot be
// resolved (an unknown intrinsic, a value known only after apply) are
// returned as errors naming the role.
func ParseAuditInput(name string, data []byte) ([]audit.Role, []AuditError) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		if isYAML(data) {
			return parseCloudFormationYAML(name, data)
		}
		return nil, []AuditError{{name, "not a JSON trust policy, CloudFormation template or Terraform plan"}}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, []AuditError{{name, "invalid JSON: " + err.Error()}}
	}
	switch {
	case top["Statement"] != nil:
		return []audit.Role{{Name: roleNameFromFile(name), Source: name, TrustPolicy: string(data), Line: lineOf(data, `"Statement"`)}}, nil
	case top["Resources"] != nil:
		var tpl map[string]any
		if err := json.Unmarshal(data, &tpl); err != nil {
			return nil, []AuditError{{name, err.Error()}}
		}
		return cloudFormationRoles(name, tpl, func(logical string) int { return lineOf(data, `"`+logical+`"`) })
	case top["planned_values"] != nil || top["resource_changes"] != nil || top["terraform_version"] != nil:
		return terraformPlanRoles(name, data)
	}
	return nil, []AuditError{{name, "not a trust policy (no Statement), CloudFormation template (no Resources) or Terraform plan (no planned_values)"}}
}

// roleNameFromFile names a role read from a bare policy file after the file.
func roleNameFromFile(name string) string {
	base := name
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	if i := strings.Index(base, "."); i > 0 {
		base = base[:i]
	}
	return base
}

// lineOf returns the 1-based line of the first occurrence of s, or 1.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 1
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// terraformPlanRoles reads aws_iam_role resources from the plan's planned
// values (root and child modules); assume_role_policy is a JSON string.
func terraformPlanRoles(name string, data []byte) ([]audit.Role, []AuditError) {
	var plan struct {
		PlannedValues struct {
			RootModule tfModule `json:"root_module"`
		} `json:"planned_values"`
		ResourceChanges []struct {
			Address string `json:"address"`
			Type    string `json:"type"`
			Change  struct {
				AfterUnknown map[string]any `json:"after_unknown"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal(data, &plan); err != nil {
		return nil, []AuditError{{name, "terraform plan: " + err.Error()}}
	}
	unknown := map[string]bool{}
	for _, rc := range plan.ResourceChanges {
		if rc.Type == "aws_iam_role" && rc.Change.AfterUnknown["assume_role_policy"] == true {
			unknown[rc.Address] = true
		}
	}
	var roles []audit.Role
	var errs []AuditError
	var walk func(m tfModule)
	walk = func(m tfModule) {
		for _, r := range m.Resources {
			if r.Type != "aws_iam_role" || r.Mode == "data" {
				continue
			}
			doc, _ := r.Values["assume_role_policy"].(string)
			roleName, _ := r.Values["name"].(string)
			if roleName == "" {
				roleName = r.Address
			}
			if doc == "" || unknown[r.Address] {
				errs = append(errs, AuditError{name + ":" + r.Address, "assume_role_policy is known only after apply"})
				continue
			}
			var perms []string
			if arns, ok := r.Values["managed_policy_arns"].([]any); ok {
				for _, a := range arns {
					perms = append(perms, fmt.Sprint(a))
				}
			}
			roles = append(roles, audit.Role{Name: roleName, Source: name + ":" + r.Address, TrustPolicy: doc, Permissions: perms,
				Line: lineOf(data, `"`+r.Address+`"`)})
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(plan.PlannedValues.RootModule)
	return roles, errs
}

type tfModule struct {
	Resources []struct {
		Address string         `json:"address"`
		Mode    string         `json:"mode"`
		Type    string         `json:"type"`
		Values  map[string]any `json:"values"`
	} `json:"resources"`
	ChildModules []tfModule `json:"child_modules"`
}

// AuditRoles lists every role of the account with ListRoles (all pages)
// and the names of its attached policies (ListAttachedRolePolicies), which
// the deploy heuristic reads.
func (c *Client) AuditRoles(ctx context.Context) ([]audit.Role, []AuditError, error) {
	var roles []audit.Role
	var errs []AuditError
	p := iam.NewListRolesPaginator(c.iam, &iam.ListRolesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("list roles: %w", err)
		}
		for _, r := range page.Roles {
			arn := aws.ToString(r.Arn)
			doc, err := url.QueryUnescape(aws.ToString(r.AssumeRolePolicyDocument))
			if err != nil {
				errs = append(errs, AuditError{arn, "trust policy is not URL-encoded: " + err.Error()})
				continue
			}
			roles = append(roles, audit.Role{Name: aws.ToString(r.RoleName), ARN: arn, Source: arn, TrustPolicy: doc, Line: 1})
		}
	}
	for i := range roles {
		ap := iam.NewListAttachedRolePoliciesPaginator(c.iam, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(roles[i].Name)})
		for ap.HasMorePages() {
			page, err := ap.NextPage(ctx)
			if err != nil {
				errs = append(errs, AuditError{roles[i].ARN, "list attached role policies: " + err.Error()})
				break
			}
			for _, a := range page.AttachedPolicies {
				roles[i].Permissions = append(roles[i].Permissions, aws.ToString(a.PolicyName))
			}
		}
	}
	sort.Slice(roles, func(i, j int) bool { return roles[i].Name < roles[j].Name })
	return roles, errs, nil
}
