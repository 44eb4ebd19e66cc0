package iam

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/store"
)

const (
	thumbA = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
	thumbB = "6938fd4d98bab03faadb97b34396831e3780aea1"
	ghURL  = "https://token.actions.githubusercontent.com"
	ghARN  = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
)

func TestCreateOpenIDConnectProvider(t *testing.T) {
	base := func() []string {
		return []string{"Url", "https://localhost:8443/ci", "ClientIDList.member.1", "sts.amazonaws.com",
			"ThumbprintList.member.1", thumbA, "Tags.member.1.Key", "team", "Tags.member.1.Value", "infra"}
	}
	tests := []struct {
		name   string
		mutate func([]string) []string
		code   string
		status int
		msg    string
	}{
		{"baseline", nil, "", 0, ""},
		{"no thumbprints", func(p []string) []string { return p[:4] }, "", 0, ""},
		{"empty client list", func(p []string) []string { return []string{"Url", "https://a.example", "ClientIDList", ""} }, "", 0, ""},
		{"missing url", func(p []string) []string { return p[2:] }, awserr.CodeValidation, 400, "Value null at 'url' failed to satisfy constraint: Member must not be null"},
		{"http url", func(p []string) []string { p[1] = "http://a.example"; return p }, awserr.CodeInvalidInput, 400, "https://"},
		{"query", func(p []string) []string { p[1] = "https://a.example/?x=1"; return p }, awserr.CodeInvalidInput, 400, "Invalid Open ID Connect Provider URL"},
		{"fragment", func(p []string) []string { p[1] = "https://a.example#x"; return p }, awserr.CodeInvalidInput, 400, "Invalid Open ID Connect Provider URL"},
		{"no host", func(p []string) []string { p[1] = "https://"; return p }, awserr.CodeInvalidInput, 400, "Invalid Open ID Connect Provider URL"},
		{"bad port", func(p []string) []string { p[1] = "https://a.example:x/"; return p }, awserr.CodeInvalidInput, 400, "Invalid Open ID Connect Provider URL"},
		{"too long", func(p []string) []string { p[1] = "https://" + strings.Repeat("a", 250); return p }, awserr.CodeValidation, 400, "at 'url' failed to satisfy constraint: Member must have length less than or equal to 255"},
		{"short thumbprint", func(p []string) []string { p[5] = "abc"; return p }, awserr.CodeValidation, 400, "at 'thumbprintList' failed to satisfy constraint"},
		{"non-hex thumbprint", func(p []string) []string { p[5] = strings.Repeat("z", 40); return p }, awserr.CodeInvalidInput, 400, "not a valid"},
		{"six thumbprints", func(p []string) []string {
			for i, c := range "123456" {
				p = append(p, "ThumbprintList.member."+string(c), strings.Repeat(string("abcdef"[i]), 40))
			}
			return p
		}, awserr.CodeInvalidInput, 400, "Thumbprint list must contain fewer than 5 entries."},
		{"empty client id", func(p []string) []string { p[3] = ""; return p }, awserr.CodeValidation, 400, "at 'clientIDList'"},
		{"bad tag key", func(p []string) []string { p[7] = "a*b"; return p }, awserr.CodeValidation, 400, "at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{"duplicate tag", func(p []string) []string {
			return append(p, "Tags.member.2.Key", "TEAM", "Tags.member.2.Value", "x")
		}, awserr.CodeInvalidInput, 400, "Duplicate tag keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			p := base()
			if tt.mutate != nil {
				p = tt.mutate(p)
			}
			res, err := h.call("CreateOpenIDConnectProvider", params(p...))
			if tt.code != "" {
				wantErr(t, err, tt.code, tt.status, tt.msg)
				if h.providerCount() != 0 || h.changes != 0 {
					t.Error("failed create wrote something")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := res.(createProviderResult)
			if !strings.HasPrefix(r.OpenIDConnectProviderArn, "arn:aws:iam::123456789012:oidc-provider/") || h.changes != 1 {
				t.Errorf("result %+v, changes %d", r, h.changes)
			}
			if h.authz[0] != "iam:CreateOpenIDConnectProvider "+r.OpenIDConnectProviderArn {
				t.Errorf("authorized %v", h.authz)
			}
		})
	}
}

func TestCreateProviderStoresWithoutScheme(t *testing.T) {
	h := newHarness(t)
	h.must("CreateOpenIDConnectProvider", "Url", "HTTPS://localhost:8443/Org/", "ClientIDList.member.1", "a", "ClientIDList.member.2", "a")
	p, err := h.store.GetProvider(t.Context(), "localhost:8443/Org/")
	if err != nil {
		t.Fatalf("not stored without its scheme: %v", err)
	}
	if diff := cmp.Diff([]string{"a"}, p.ClientIDs); diff != "" {
		t.Errorf("client ids deduplicated (-want +got):\n%s", diff)
	}
	if !p.CreateDate.Equal(testNow) {
		t.Errorf("CreateDate %v", p.CreateDate)
	}
	res := h.must("GetOpenIDConnectProvider", "OpenIDConnectProviderArn", "arn:aws:iam::123456789012:oidc-provider/localhost:8443/Org/").(getProviderResult)
	if res.URL != "localhost:8443/Org/" || res.CreateDate != "2026-03-01T12:00:00Z" {
		t.Errorf("Get = %+v", res)
	}
}

func TestCreateProviderConflicts(t *testing.T) {
	h := newHarness(t)
	h.must("CreateOpenIDConnectProvider", "Url", ghURL)
	_, err := h.call("CreateOpenIDConnectProvider", params("Url", ghURL))
	wantErr(t, err, awserr.CodeEntityAlreadyExists, 409, "Provider with url https://token.actions.githubusercontent.com already exists.")

	for i := h.providerCount(); i < maxProviders; i++ {
		if err := h.store.CreateProvider(t.Context(), store.Provider{URL: strings.Repeat("x", i+1) + ".example"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = h.call("CreateOpenIDConnectProvider", params("Url", "https://new.example"))
	wantErr(t, err, awserr.CodeLimitExceeded, 409, "OpenIdConnectProvidersPerAccount: 100")
}

func TestProviderARNParameter(t *testing.T) {
	tests := []struct {
		name, arn string
		code      string
		status    int
		msg       string
	}{
		{"found", ghARN, "", 0, ""},
		{"missing", "arn:aws:iam::123456789012:oidc-provider/other.example", awserr.CodeNoSuchEntity, 404, "OpenIDConnect Provider not found for arn arn:aws:iam::123456789012:oidc-provider/other.example"},
		{"other account", "arn:aws:iam::210987654321:oidc-provider/token.actions.githubusercontent.com", awserr.CodeNoSuchEntity, 404, "not found"},
		{"not an arn", "token.actions.githubusercontent.com", awserr.CodeInvalidInput, 400, "is not valid"},
		{"role arn", "arn:aws:iam::123456789012:role/deploy-role", awserr.CodeInvalidInput, 400, "is not valid"},
		{"empty url", "arn:aws:iam::123456789012:oidc-provider/", awserr.CodeInvalidInput, 400, "is not valid"},
		{"too short", "arn:aws:iam::1:x", awserr.CodeValidation, 400, "at 'openIDConnectProviderArn' failed to satisfy constraint: Member must have length greater than or equal to 20"},
		{"absent", "", awserr.CodeValidation, 400, "Value null at 'openIDConnectProviderArn'"},
	}
	actions := []struct {
		name  string
		extra []string
	}{
		{"GetOpenIDConnectProvider", nil},
		{"ListOpenIDConnectProviderTags", nil},
		{"AddClientIDToOpenIDConnectProvider", []string{"ClientID", "x"}},
		{"RemoveClientIDFromOpenIDConnectProvider", []string{"ClientID", "x"}},
		{"UpdateOpenIDConnectProviderThumbprint", []string{"ThumbprintList.member.1", thumbB}},
		{"TagOpenIDConnectProvider", []string{"Tags.member.1.Key", "k", "Tags.member.1.Value", "v"}},
		{"UntagOpenIDConnectProvider", []string{"TagKeys.member.1", "k"}},
		{"DeleteOpenIDConnectProvider", nil},
	}
	for _, a := range actions {
		for _, tt := range tests {
			t.Run(a.name+"/"+tt.name, func(t *testing.T) {
				h := newHarness(t)
				h.must("CreateOpenIDConnectProvider", "Url", ghURL)
				h.authz = nil
				p := params(a.extra...)
				if tt.arn != "" {
					p.Set("OpenIDConnectProviderArn", tt.arn)
				}
				_, err := h.call(a.name, p)
				if a.name == "DeleteOpenIDConnectProvider" && tt.code == awserr.CodeNoSuchEntity {
					// botocore: "This operation is idempotent; it does not fail or
					// return an error if you call the operation for a provider that
					// does not exist." (moto agrees; see TestDeleteProviderIdempotent.)
					if err != nil {
						t.Fatalf("delete of a missing provider: %v", err)
					}
					return
				}
				if tt.code == "" {
					if err != nil {
						t.Fatal(err)
					}
					if len(h.authz) != 1 || h.authz[0] != "iam:"+a.name+" "+ghARN {
						t.Errorf("authorized %v", h.authz)
					}
					return
				}
				wantErr(t, err, tt.code, tt.status, tt.msg)
			})
		}
	}
}

func TestProviderLifecycle(t *testing.T) {
	h := newHarness(t)
	h.must("CreateOpenIDConnectProvider", "Url", ghURL, "ClientIDList.member.1", "sts.amazonaws.com", "ThumbprintList.member.1", thumbA)
	get := func() getProviderResult {
		t.Helper()
		return h.must("GetOpenIDConnectProvider", "OpenIDConnectProviderArn", ghARN).(getProviderResult)
	}
	step := func(action string, kv ...string) {
		t.Helper()
		h.must(action, append([]string{"OpenIDConnectProviderArn", ghARN}, kv...)...)
	}

	step("AddClientIDToOpenIDConnectProvider", "ClientID", "other")
	step("AddClientIDToOpenIDConnectProvider", "ClientID", "other") // idempotent
	if diff := cmp.Diff([]string{"sts.amazonaws.com", "other"}, get().ClientIDList); diff != "" {
		t.Errorf("after add (-want +got):\n%s", diff)
	}
	step("RemoveClientIDFromOpenIDConnectProvider", "ClientID", "sts.amazonaws.com")
	step("RemoveClientIDFromOpenIDConnectProvider", "ClientID", "never-there")
	if diff := cmp.Diff([]string{"other"}, get().ClientIDList); diff != "" {
		t.Errorf("after remove (-want +got):\n%s", diff)
	}
	step("UpdateOpenIDConnectProviderThumbprint", "ThumbprintList.member.1", thumbB)
	if diff := cmp.Diff([]string{thumbB}, get().ThumbprintList); diff != "" {
		t.Errorf("thumbprints replaced (-want +got):\n%s", diff)
	}
	step("TagOpenIDConnectProvider", "Tags.member.1.Key", "a", "Tags.member.1.Value", "1", "Tags.member.2.Key", "b", "Tags.member.2.Value", "2")
	step("TagOpenIDConnectProvider", "Tags.member.1.Key", "A", "Tags.member.1.Value", "3")
	step("UntagOpenIDConnectProvider", "TagKeys.member.1", "b")
	tags := h.must("ListOpenIDConnectProviderTags", "OpenIDConnectProviderArn", ghARN).(listTagsResult)
	if diff := cmp.Diff(listTagsResult{Tags: []xmlTag{{"A", "3"}}}, tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(xmlTagList{{"A", "3"}}, get().Tags); diff != "" {
		t.Errorf("Get tags (-want +got):\n%s", diff)
	}

	list := h.must("ListOpenIDConnectProviders").(listProvidersResult)
	if diff := cmp.Diff([]providerListEntry{{Arn: ghARN}}, list.OpenIDConnectProviderList); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	step("DeleteOpenIDConnectProvider")
	_, err := h.call("GetOpenIDConnectProvider", params("OpenIDConnectProviderArn", ghARN))
	wantErr(t, err, awserr.CodeNoSuchEntity, 404, "not found")
	if h.changes != 10 {
		t.Errorf("OnChange called %d times, want 10 (one per write)", h.changes)
	}
}

func TestProviderQuotas(t *testing.T) {
	h := newHarness(t)
	h.must("CreateOpenIDConnectProvider", "Url", ghURL)
	if err := h.store.UpdateProvider(t.Context(), "token.actions.githubusercontent.com", func(p *store.Provider) error {
		p.ClientIDs = nil
		for i := range maxClientIDs {
			p.ClientIDs = append(p.ClientIDs, fmt.Sprintf("client-%d", i))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := h.call("AddClientIDToOpenIDConnectProvider", params("OpenIDConnectProviderArn", ghARN, "ClientID", "one-more"))
	wantErr(t, err, awserr.CodeLimitExceeded, 409, "ClientIdsPerOpenIdConnectProvider: 100")

	var kv []string
	for i := 0; i < 30; i++ {
		kv = append(kv, "Tags.member."+fmt6(i+1)+".Key", "k"+fmt6(i), "Tags.member."+fmt6(i+1)+".Value", "v")
	}
	h.must("TagOpenIDConnectProvider", append([]string{"OpenIDConnectProviderArn", ghARN}, kv...)...)
	for i := range kv {
		if i%4 == 1 {
			kv[i] = "j" + kv[i][1:]
		}
	}
	_, err = h.call("TagOpenIDConnectProvider", params(append([]string{"OpenIDConnectProviderArn", ghARN}, kv...)...))
	wantErr(t, err, awserr.CodeLimitExceeded, 409, "TagsPerOpenIdConnectProvider: 50")

	pg := h.must("ListOpenIDConnectProviderTags", "OpenIDConnectProviderArn", ghARN, "MaxItems", "20").(listTagsResult)
	if len(pg.Tags) != 20 || !pg.IsTruncated || pg.Marker == "" {
		t.Fatalf("first page: %d tags, truncated %v", len(pg.Tags), pg.IsTruncated)
	}
	pg2 := h.must("ListOpenIDConnectProviderTags", "OpenIDConnectProviderArn", ghARN, "Marker", pg.Marker).(listTagsResult)
	if len(pg2.Tags) != 10 || pg2.IsTruncated || pg2.Tags[0].Key != "k000020" {
		t.Errorf("second page: %+v", pg2)
	}
}

func TestProviderAccessDenied(t *testing.T) {
	h := newHarness(t)
	h.deny = true
	_, err := h.call("CreateOpenIDConnectProvider", params("Url", ghURL))
	wantErr(t, err, awserr.CodeAccessDenied, 403, "")
	if h.providerCount() != 0 {
		t.Error("denied create wrote a provider")
	}
	_, err = h.call("ListOpenIDConnectProviders", nil)
	wantErr(t, err, awserr.CodeAccessDenied, 403, "")
	if h.authz[1] != "iam:ListOpenIDConnectProviders *" {
		t.Errorf("authz %v", h.authz)
	}
}

func TestDeleteProviderIdempotent(t *testing.T) {
	h := newHarness(t)
	h.must("CreateOpenIDConnectProvider", "Url", ghURL)
	h.must("DeleteOpenIDConnectProvider", "OpenIDConnectProviderArn", ghARN)
	_, err := h.call("GetOpenIDConnectProvider", params("OpenIDConnectProviderArn", ghARN))
	wantErr(t, err, awserr.CodeNoSuchEntity, 404, "OpenIDConnect Provider not found for arn "+ghARN)
	h.must("DeleteOpenIDConnectProvider", "OpenIDConnectProviderArn", ghARN) // again: no error
	_, err = h.call("DeleteOpenIDConnectProvider", params("OpenIDConnectProviderArn", "arn:aws:iam::123456789012:role/x"))
	wantErr(t, err, awserr.CodeInvalidInput, 400, "is not valid")
}

// Coral checks every model constraint before answering, and reports them
// together in the order of the request shape's members.
func TestCreateProviderReportsEveryViolation(t *testing.T) {
	h := newHarness(t)
	_, err := h.call("CreateOpenIDConnectProvider", params("Url", strings.Repeat("b", 256),
		"ThumbprintList.member.1", strings.Repeat("b", 41), "ClientIDList.member.1", strings.Repeat("b", 256)))
	want := "3 validation errors detected: Value '" + strings.Repeat("b", 256) + "' at 'url' failed to satisfy constraint: Member must have length less than or equal to 255; " +
		"Value '[" + strings.Repeat("b", 256) + "]' at 'clientIDList' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 1]; " +
		"Value '[" + strings.Repeat("b", 41) + "]' at 'thumbprintList' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 40, Member must have length greater than or equal to 40]"
	var ae *awserr.Error
	if !errors.As(err, &ae) || ae.Code != awserr.CodeValidation || ae.Message != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if h.providerCount() != 0 {
		t.Error("refused provider stored")
	}
}
