package arn

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want ARN
		ok   bool
	}{
		{"arn:aws:iam::123456789012:role/a/b/name", ARN{"aws", "iam", "", "123456789012", "role/a/b/name"}, true},
		{"arn:aws:iam::123456789012:oidc-provider/localhost:8443/ci", ARN{"aws", "iam", "", "123456789012", "oidc-provider/localhost:8443/ci"}, true},
		{"arn:aws:iam:nothing-valid-here", ARN{}, false},
		{"arn:aws:iam::123456789012:", ARN{}, false},
		{"nope:aws:iam::1:x", ARN{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("Parse = %+v, %v", got, err)
			}
			if tt.ok && got.String() != tt.in {
				t.Errorf("String() = %s", got.String())
			}
		})
	}
}

func TestBuilders(t *testing.T) {
	tests := map[string]string{
		Role("123456789012", "", "r"):                           "arn:aws:iam::123456789012:role/r",
		Role("123456789012", "/ci/", "r"):                       "arn:aws:iam::123456789012:role/ci/r",
		AssumedRole("123456789012", "r", "s"):                   "arn:aws:sts::123456789012:assumed-role/r/s",
		OIDCProvider("123456789012", "oidc.circleci.com/org/x"): "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/x",
		Policy("123456789012", "", "p"):                         "arn:aws:iam::123456789012:policy/p",
		Root("123456789012"):                                    "arn:aws:iam::123456789012:root",
		FederatedUser("123456789012", "runner-org"):             "arn:aws:sts::123456789012:federated-user/runner-org",
		Issuer("123456789012", "org"):                           "arn:aws:keyless::123456789012:issuer/org",
		Issuer("123456789012", "*"):                             "arn:aws:keyless::123456789012:issuer/*",
	}
	for got, want := range tests {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	if !IsAccountID("000000000000") || IsAccountID("12345") || IsAccountID("12345678901a") {
		t.Error("IsAccountID")
	}
}
