package policy

import "testing"

func TestRewriteAWSPrincipals(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/x"
	bind := func(v string) (string, bool) {
		if v == role {
			return "AROAAAAAAAAAAAAAAAAAA", true
		}
		return "", false
	}
	tests := []struct {
		name, doc, want string
	}{
		{"single statement, single value",
			`{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + role + `"},"Action":"sts:AssumeRole"}}`,
			`{"Statement":{"Effect":"Allow","Principal":{"AWS":"AROAAAAAAAAAAAAAAAAAA"},"Action":"sts:AssumeRole"}}`},
		{"list of statements and values, whitespace kept",
			"{\"Version\": \"2012-10-17\",\n \"Statement\": [ {\"Principal\": {\"AWS\": [ \"123456789012\",\n  \"" + role + "\" ]}} ]}",
			"{\"Version\": \"2012-10-17\",\n \"Statement\": [ {\"Principal\": {\"AWS\": [ \"123456789012\",\n  \"AROAAAAAAAAAAAAAAAAAA\" ]}} ]}"},
		{"NotPrincipal too",
			`{"Statement":[{"NotPrincipal":{"AWS":"` + role + `"}}]}`,
			`{"Statement":[{"NotPrincipal":{"AWS":"AROAAAAAAAAAAAAAAAAAA"}}]}`},
		{"conditions, federated principals and other keys untouched",
			`{"Statement":[{"Principal":{"Federated":"` + role + `"},"Condition":{"ArnEquals":{"aws:PrincipalArn":"` + role + `"}},"Sid":"` + role + `"}]}`,
			`{"Statement":[{"Principal":{"Federated":"` + role + `"},"Condition":{"ArnEquals":{"aws:PrincipalArn":"` + role + `"}},"Sid":"` + role + `"}]}`},
		{"a Principal outside a statement is not one",
			`{"Principal":{"AWS":"` + role + `"},"Statement":[]}`,
			`{"Principal":{"AWS":"` + role + `"},"Statement":[]}`},
		{"escaped value",
			`{"Statement":[{"Principal":{"AWS":"arn:aws:iam::123456789012:role\/x"}}]}`,
			`{"Statement":[{"Principal":{"AWS":"AROAAAAAAAAAAAAAAAAAA"}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RewriteAWSPrincipals(tt.doc, bind)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	t.Run("malformed JSON is an error", func(t *testing.T) {
		if _, err := RewriteAWSPrincipals(`{"Statement":[`, bind); err == nil {
			t.Error("no error")
		}
	})
}

func TestIsUniqueID(t *testing.T) {
	for s, want := range map[string]bool{
		"AROAAAAAAAAAAAAAAAAAA": true, "AIDA0123456789ABCDEF": true, "AROA123": false,
		"ANPAAAAAAAAAAAAAAAAAA": false, "AROAaaaaaaaaaaaaaaaaa": false, "": false,
	} {
		if got := isUniqueID(s); got != want {
			t.Errorf("isUniqueID(%q) = %v", s, got)
		}
	}
}
