package issuer

import "testing"

func TestCanonicalProviderURL(t *testing.T) {
	tests := []struct{ a, b string }{
		{"https://ci.example.com/tenant", "ci.example.com/tenant"},
		{"https://CI.Example.COM/tenant", "ci.example.com/tenant"},
		{"ci.example.com:443/tenant/", "ci.example.com/tenant"},
		{"https://ci.example.com", "ci.example.com/"},
	}
	for _, tt := range tests {
		t.Run(tt.a, func(t *testing.T) {
			if a, b := canonicalProviderURL(tt.a), canonicalProviderURL(tt.b); a != b {
				t.Errorf("%q → %q, %q → %q: want the same provider", tt.a, a, tt.b, b)
			}
		})
	}
	for _, d := range [][2]string{
		{"ci.example.com/tenant", "ci.example.com/Tenant"},
		{"ci.example.com/tenant", "ci.example.com:8443/tenant"},
		{"ci.example.com/tenant", "ci.example.com/tenant/x"},
	} {
		if canonicalProviderURL(d[0]) == canonicalProviderURL(d[1]) {
			t.Errorf("%q and %q compare equal; AWS keeps them apart", d[0], d[1])
		}
	}
}

func TestClaimedURL(t *testing.T) {
	tests := []struct {
		name string
		req  CreateRequest
		want string
	}{
		{"generic", CreateRequest{Profile: "generic", URL: "https://CI.example.com:443/a/"}, "https://ci.example.com/a"},
		{"scheme in capitals", CreateRequest{Profile: "generic", URL: "HTTPS://ci.example.com:443/a"}, "https://ci.example.com/a"},
		{"circleci default", CreateRequest{OrgID: "o-1"}, "https://oidc.circleci.com/org/o-1"},
		{"github default", CreateRequest{Profile: "github"}, "https://token.actions.githubusercontent.com"},
		{"generated id", CreateRequest{Profile: "circleci"}, ""},
		{"bad url", CreateRequest{Profile: "generic", URL: "https://x/.well-known/y"}, ""},
		{"unknown profile", CreateRequest{Profile: "jenkins"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClaimedURL(tt.req); got != tt.want {
				t.Errorf("ClaimedURL = %q, want %q", got, tt.want)
			}
		})
	}
}
