package client

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keylessci/keyless/internal/audit"
)

// isYAML reports whether data looks like a CloudFormation YAML template.
func isYAML(data []byte) bool {
	return bytes.Contains(data, []byte("Resources:"))
}

// parseCloudFormationYAML reads a YAML template, turning the short-form
// intrinsics (!Ref, !Sub, !Join, !GetAtt, ...) into their long JSON forms.
func parseCloudFormationYAML(name string, data []byte) ([]audit.Role, []AuditError) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, []AuditError{{name, "invalid YAML: " + err.Error()}}
	}
	if len(root.Content) == 0 {
		return nil, []AuditError{{name, "empty YAML document"}}
	}
	v, err := yamlValue(root.Content[0])
	if err != nil {
		return nil, []AuditError{{name, err.Error()}}
	}
	tpl, ok := v.(map[string]any)
	if !ok {
		return nil, []AuditError{{name, "not a CloudFormation template"}}
	}
	lines := map[string]int{}
	if res := mappingValue(root.Content[0], "Resources"); res != nil {
		for i := 0; i+1 < len(res.Content); i += 2 {
			lines[res.Content[i].Value] = res.Content[i].Line
		}
	}
	return cloudFormationRoles(name, tpl, func(l string) int {
		if n := lines[l]; n > 0 {
			return n
		}
		return 1
	})
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func yamlValue(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			e, err := yamlValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = e
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			e, err := yamlValue(c)
			if err != nil {
				return nil, err
			}
			l = append(l, e)
		}
		v = l
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float":
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !strings.HasPrefix(n.Value, "0") {
				v = f
			} else {
				v = n.Value
			}
		case "!!bool":
			v = n.Value == "true"
		case "!!null":
			v = nil
		default:
			v = n.Value
		}
	default:
		return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		fn := n.Tag[1:]
		switch fn {
		case "Ref", "Condition":
			return map[string]any{fn: v}, nil
		case "GetAtt":
			if s, ok := v.(string); ok {
				a, b, _ := strings.Cut(s, ".")
				v = []any{a, b}
			}
		}
		return map[string]any{"Fn::" + fn: v}, nil
	}
	return v, nil
}
