package client

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/keylessci/keyless/internal/audit"
)

// cloudFormationRoles reads AWS::IAM::Role resources of a template. The
// trust policy (AssumeRolePolicyDocument) is resolved through the
// intrinsics whose inputs a template alone determines: Ref and Fn::Sub of
// parameters with a Default and of the pseudo parameters AWS::AccountId
// (the audit's stand-in account), AWS::Partition, AWS::Region and
// AWS::URLSuffix, and Fn::Join. Anything else (Fn::GetAtt, Fn::ImportValue,
// a parameter without default) leaves the role unresolved, reported as an
// error naming the role and the intrinsic.
func cloudFormationRoles(name string, tpl map[string]any, line func(string) int) ([]audit.Role, []AuditError) {
	params := map[string]any{
		"AWS::AccountId": "123456789012", "AWS::Partition": "aws", "AWS::Region": "us-east-1",
		"AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "stack",
	}
	if ps, ok := tpl["Parameters"].(map[string]any); ok {
		for k, v := range ps {
			if m, ok := v.(map[string]any); ok {
				if d, ok := m["Default"]; ok {
					params[k] = d
				}
			}
		}
	}
	res, _ := tpl["Resources"].(map[string]any)
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var roles []audit.Role
	var errs []AuditError
	for _, logical := range keys {
		r, _ := res[logical].(map[string]any)
		if r["Type"] != "AWS::IAM::Role" {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		src := name + ":" + logical
		resolved, err := resolveIntrinsics(props["AssumeRolePolicyDocument"], params)
		if err != nil {
			errs = append(errs, AuditError{src, "AssumeRolePolicyDocument: " + err.Error()})
			continue
		}
		var doc []byte
		switch v := resolved.(type) {
		case string:
			doc = []byte(v)
		case nil:
			errs = append(errs, AuditError{src, "no AssumeRolePolicyDocument"})
			continue
		default:
			doc, _ = json.Marshal(v)
		}
		roleName := logical
		if n, err := resolveIntrinsics(props["RoleName"], params); err == nil {
			if s, ok := n.(string); ok && s != "" {
				roleName = s
			}
		}
		var perms []string
		if arns, err := resolveIntrinsics(props["ManagedPolicyArns"], params); err == nil {
			if list, ok := arns.([]any); ok {
				for _, a := range list {
					perms = append(perms, fmt.Sprint(a))
				}
			}
		}
		if pols, ok := props["Policies"].([]any); ok {
			for _, p := range pols {
				if m, ok := p.(map[string]any); ok {
					perms = append(perms, fmt.Sprint(m["PolicyName"]))
				}
			}
		}
		roles = append(roles, audit.Role{Name: roleName, Source: src, TrustPolicy: string(doc), Permissions: perms, Line: line(logical)})
	}
	return roles, errs
}

// resolveIntrinsics evaluates the intrinsic functions whose inputs are known.
func resolveIntrinsics(v any, params map[string]any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				switch k {
				case "Ref":
					name, _ := arg.(string)
					if p, ok := params[name]; ok {
						return p, nil
					}
					return nil, fmt.Errorf("ref %s has no known value", name)
				case "Fn::Sub":
					return resolveSub(arg, params)
				case "Fn::Join":
					return resolveJoin(arg, params)
				case "Fn::GetAtt", "Fn::ImportValue", "Fn::If", "Fn::Select", "Fn::Split", "Fn::FindInMap", "Fn::GetAZs", "Fn::Base64":
					return nil, fmt.Errorf("%s cannot be resolved from the template alone", k)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := resolveIntrinsics(e, params)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := resolveIntrinsics(e, params)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

func resolveSub(arg any, params map[string]any) (any, error) {
	var tmpl string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		tmpl = a
	case []any:
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Sub takes a string or [string, map]")
		}
		tmpl, _ = a[0].(string)
		m, _ := a[1].(map[string]any)
		for k, v := range m {
			r, err := resolveIntrinsics(v, params)
			if err != nil {
				return nil, err
			}
			vars[k] = r
		}
	default:
		return nil, fmt.Errorf("Fn::Sub takes a string or [string, map]")
	}
	var b strings.Builder
	for {
		i := strings.Index(tmpl, "${")
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		b.WriteString(tmpl[:i])
		if strings.HasPrefix(tmpl[i:], "${!") {
			b.WriteString("${")
			tmpl = tmpl[i+3:]
			continue
		}
		j := strings.Index(tmpl[i:], "}")
		if j < 0 {
			return nil, fmt.Errorf("Fn::Sub: unterminated ${")
		}
		name := tmpl[i+2 : i+j]
		v, ok := vars[name]
		if !ok {
			v, ok = params[name]
		}
		if !ok {
			return nil, fmt.Errorf("Fn::Sub: ${%s} has no known value", name)
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Sub: ${%s} is not a string", name)
		}
		b.WriteString(s)
		tmpl = tmpl[i+j+1:]
	}
}

func resolveJoin(arg any, params map[string]any) (any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 2 {
		return nil, fmt.Errorf("Fn::Join takes [delimiter, list]")
	}
	sep, _ := a[0].(string)
	list, err := resolveIntrinsics(a[1], params)
	if err != nil {
		return nil, err
	}
	items, ok := list.([]any)
	if !ok {
		return nil, fmt.Errorf("Fn::Join: the list is not known")
	}
	parts := make([]string, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Join: element %d is not a string", i)
		}
		parts[i] = s
	}
	return strings.Join(parts, sep), nil
}
