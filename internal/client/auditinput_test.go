package client

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolveIntrinsics(t *testing.T) {
	params := map[string]any{"AWS::AccountId": "123456789012", "AWS::Partition": "aws", "Org": "acme"}
	tests := []struct {
		name    string
		in      any
		want    any
		wantErr string
	}{
		{"ref", map[string]any{"Ref": "Org"}, "acme", ""},
		{"sub", map[string]any{"Fn::Sub": "repo:${Org}/*"}, "repo:acme/*", ""},
		{"sub with map", map[string]any{"Fn::Sub": []any{"repo:${O}/${Org}", map[string]any{"O": "x"}}}, "repo:x/acme", ""},
		{"sub literal", map[string]any{"Fn::Sub": "${!Org}"}, "${Org}", ""},
		{"join", map[string]any{"Fn::Join": []any{":", []any{"arn", map[string]any{"Ref": "AWS::Partition"}, "iam"}}}, "arn:aws:iam", ""},
		{"nested", map[string]any{"A": []any{map[string]any{"Ref": "Org"}}}, map[string]any{"A": []any{"acme"}}, ""},
		{"unknown ref", map[string]any{"Ref": "Nope"}, nil, "ref Nope has no known value"},
		{"getatt", map[string]any{"Fn::GetAtt": []any{"P", "Arn"}}, nil, "Fn::GetAtt cannot be resolved"},
		{"sub unknown", map[string]any{"Fn::Sub": "${Nope}"}, nil, "${Nope} has no known value"},
		{"sub unterminated", map[string]any{"Fn::Sub": "${Org"}, nil, "unterminated"},
		{"join bad", map[string]any{"Fn::Join": "x"}, nil, "Fn::Join takes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveIntrinsics(tc.in, params)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestParseAuditInputKinds(t *testing.T) {
	tests := []struct {
		name, data string
		roles      []string
		errs       int
	}{
		{"policy", `{"Statement":[]}`, []string{"trust"}, 0},
		{"cloudformation json", `{"Resources":{"R":{"Type":"AWS::IAM::Role","Properties":{"AssumeRolePolicyDocument":{"Statement":[]}}},"B":{"Type":"AWS::S3::Bucket"}}}`, []string{"R"}, 0},
		{"cloudformation yaml", "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: !Sub '${AWS::Region}-ci'\n      AssumeRolePolicyDocument:\n        Statement: []\n", []string{"us-east-1-ci"}, 0},
		{"terraform plan", `{"format_version":"1.2","planned_values":{"root_module":{"resources":[{"address":"aws_iam_role.r","mode":"managed","type":"aws_iam_role","values":{"name":"r","assume_role_policy":"{\"Statement\":[]}"}}]}}}`, []string{"r"}, 0},
		{"unknown json", `{"a":1}`, nil, 1},
		{"garbage", `hello`, nil, 1},
		{"invalid json", `{"Statement":`, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			roles, errs := ParseAuditInput("dir/trust.json", []byte(tc.data))
			var names []string
			for _, r := range roles {
				names = append(names, r.Name)
			}
			if diff := cmp.Diff(tc.roles, names); diff != "" || len(errs) != tc.errs {
				t.Errorf("roles %v errs %v", names, errs)
			}
		})
	}
}
