package policy

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWebIdentityTrust(t *testing.T) {
	const prov = "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/o"
	tests := []struct {
		name  string
		conds Conditions
		want  string
	}{
		{"one value is a string, several a list", Conditions{
			"StringEquals": {"oidc.circleci.com/org/o:aud": {"o"}},
			"StringLike":   {"oidc.circleci.com/org/o:sub": {"org/o/project/p/*", "org/o/project/q/*"}},
		}, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + prov + `"},` +
			`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"oidc.circleci.com/org/o:aud":"o"},` +
			`"StringLike":{"oidc.circleci.com/org/o:sub":["org/o/project/p/*","org/o/project/q/*"]}}}]}`},
		{"no conditions, no Condition block", nil,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + prov + `"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := WebIdentityTrustJSON(prov, tt.conds)
			asValue, err := json.Marshal(WebIdentityTrust(prov, tt.conds))
			if err != nil {
				t.Fatal(err)
			}
			var got, want, value any
			if err := json.Unmarshal(asValue, &value); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(doc), &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("JSON (-want +got):\n%s", d)
			}
			if d := cmp.Diff(want, value); d != "" {
				t.Errorf("value (-want +got):\n%s", d)
			}
			if _, err := Parse(doc, Trust); err != nil {
				t.Errorf("the policy engine refuses it: %v", err)
			}
		})
	}
}
