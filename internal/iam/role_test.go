package iam

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/store"
)

const trustDoc = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}, "Action": "sts:AssumeRoleWithWebIdentity", "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:org/*"}}}]}`

func TestCreateRole(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{"RoleName": "deploy", "AssumeRolePolicyDocument": trustDoc}
	}
	tests := []struct {
		name   string
		mutate func(map[string]string)
		code   string
		status int
		msg    string
	}{
		{"baseline", func(map[string]string) {}, "", 0, ""},
		{"all options", func(p map[string]string) {
			p["Path"] = "/ci/github/"
			p["Description"] = "deploys things"
			p["MaxSessionDuration"] = "43200"
			p["Tags.member.1.Key"], p["Tags.member.1.Value"] = "team", "infra"
		}, "", 0, ""},
		{"missing name", func(p map[string]string) { delete(p, "RoleName") }, awserr.CodeValidation, 400, "Value null at 'roleName'"},
		{"bad name", func(p map[string]string) { p["RoleName"] = "a b" }, awserr.CodeValidation, 400, `at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`},
		{"long name", func(p map[string]string) { p["RoleName"] = strings.Repeat("a", 65) }, awserr.CodeValidation, 400, "Member must have length less than or equal to 64"},
		{"bad path", func(p map[string]string) { p["Path"] = "ci" }, awserr.CodeValidation, 400, "at 'path'"},
		{"duration low", func(p map[string]string) { p["MaxSessionDuration"] = "3599" }, awserr.CodeValidation, 400, "at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"},
		{"duration high", func(p map[string]string) { p["MaxSessionDuration"] = "43201" }, awserr.CodeValidation, 400, "less than or equal to 43200"},
		{"duration nan", func(p map[string]string) { p["MaxSessionDuration"] = "x" }, awserr.CodeValidation, 400, "Member must be a number"},
		{"two errors", func(p map[string]string) { p["RoleName"] = ""; p["Path"] = "x" }, awserr.CodeValidation, 400, "2 validation errors detected"},
		{"missing document", func(p map[string]string) { delete(p, "AssumeRolePolicyDocument") }, awserr.CodeValidation, 400, "Value null at 'assumeRolePolicyDocument'"},
		{"invalid json", func(p map[string]string) { p["AssumeRolePolicyDocument"] = "{" }, awserr.CodeMalformedPolicy, 400, "This policy contains invalid Json"},
		{"resource in trust", func(p map[string]string) {
			p["AssumeRolePolicyDocument"] = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}]}`
		}, awserr.CodeMalformedPolicy, 400, "Has prohibited field Resource"},
		{"trust too large", func(p map[string]string) {
			p["AssumeRolePolicyDocument"] = strings.Replace(trustDoc, "repo:org/*", "repo:org/"+strings.Repeat("x", 2048), 1)
		}, awserr.CodeLimitExceeded, 409, "Cannot exceed quota for ACLSizePerRole: 2048"},
		{"missing boundary", func(p map[string]string) {
			p["PermissionsBoundary"] = "arn:aws:iam::123456789012:policy/nope"
		}, awserr.CodeNoSuchEntity, 404, "Scope ARN: arn:aws:iam::123456789012:policy/nope does not exist or is not attachable."},
		{"malformed boundary", func(p map[string]string) {
			p["PermissionsBoundary"] = "arn:aws:s3:::bucket/thing-name"
		}, awserr.CodeInvalidInput, 400, "is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			p := base()
			tt.mutate(p)
			vals := url.Values{}
			for k, v := range p {
				vals.Set(k, v)
			}
			res, err := h.call("CreateRole", vals)
			if tt.code != "" {
				wantErr(t, err, tt.code, tt.status, tt.msg)
				if h.roleCount() != 0 {
					t.Error("failed create stored a role")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := res.(createRoleResult).Role
			path := p["Path"]
			if path == "" {
				path = "/"
			}
			if r.Arn != "arn:aws:iam::123456789012:role"+path+"deploy" || r.Path != path || len(r.RoleID) != 21 || !strings.HasPrefix(r.RoleID, "AROA") {
				t.Errorf("role %+v", r)
			}
			if r.MaxSessionDuration != nil || r.RoleLastUsed != nil {
				t.Errorf("CreateRole returned MaxSessionDuration/RoleLastUsed: %+v", r)
			}
			if back, _ := url.PathUnescape(r.AssumeRolePolicyDocument); back != trustDoc {
				t.Errorf("document round trip: %q", back)
			}
			stored := h.role("deploy")
			if want := map[bool]int{true: 43200, false: 3600}[p["MaxSessionDuration"] != ""]; stored.MaxSessionDuration != want {
				t.Errorf("stored MaxSessionDuration %d, want %d", stored.MaxSessionDuration, want)
			}
			if h.authz[0] != "iam:CreateRole "+r.Arn {
				t.Errorf("authz %v", h.authz)
			}
		})
	}
}

func TestCreateRoleDuplicateIgnoresCase(t *testing.T) {
	h := newHarness(t)
	h.must("CreateRole", "RoleName", "Deploy", "AssumeRolePolicyDocument", trustDoc)
	_, err := h.call("CreateRole", params("RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc))
	wantErr(t, err, awserr.CodeEntityAlreadyExists, 409, "Role with name deploy already exists.")
}

func TestGetRoleShapes(t *testing.T) {
	h := newHarness(t)
	h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc, "Path", "/ci/",
		"Tags.member.1.Key", "team", "Tags.member.1.Value", "infra")
	got := h.must("GetRole", "RoleName", "DEPLOY").(getRoleResult).Role
	if got.RoleName != "deploy" || got.MaxSessionDuration == nil || *got.MaxSessionDuration != 3600 || got.RoleLastUsed == nil {
		t.Errorf("GetRole %+v", got)
	}
	b, err := xml.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<MaxSessionDuration>3600</MaxSessionDuration>", "<RoleLastUsed></RoleLastUsed>",
		"<Tags><member><Key>team</Key><Value>infra</Value></member></Tags>", "<CreateDate>2026-03-01T12:00:00Z</CreateDate>",
		"<Arn>arn:aws:iam::123456789012:role/ci/deploy</Arn>"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("GetRole XML lacks %s:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "Description") || strings.Contains(string(b), "PermissionsBoundary") {
		t.Errorf("GetRole XML has empty optional members:\n%s", b)
	}

	_, err = h.call("GetRole", params("RoleName", "nope"))
	wantErr(t, err, awserr.CodeNoSuchEntity, 404, "The role with name nope cannot be found.")
	if last := h.authz[len(h.authz)-1]; last != "iam:GetRole arn:aws:iam::123456789012:role/nope" {
		t.Errorf("authorized %q", last)
	}
	h.deny = true
	_, err = h.call("GetRole", params("RoleName", "nope"))
	wantErr(t, err, awserr.CodeAccessDenied, 403, "")
}

func TestListRoles(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"c", "A", "b", "d"} {
		path := "/"
		if n == "d" {
			path = "/other/"
		}
		h.must("CreateRole", "RoleName", n, "AssumeRolePolicyDocument", trustDoc, "Path", path, "Tags.member.1.Key", "k", "Tags.member.1.Value", "v")
	}
	var names []string
	marker := ""
	for pages := 0; ; pages++ {
		kv := []string{"MaxItems", "3"}
		if marker != "" {
			kv = append(kv, "Marker", marker)
		}
		res := h.must("ListRoles", kv...).(listRolesResult)
		for _, r := range res.Roles {
			names = append(names, r.RoleName)
			if r.MaxSessionDuration == nil || r.RoleLastUsed != nil || r.Tags != nil {
				t.Errorf("ListRoles member shape %+v", r)
			}
		}
		if res.IsTruncated != (res.Marker != "") {
			t.Fatalf("IsTruncated %v with marker %q", res.IsTruncated, res.Marker)
		}
		if !res.IsTruncated {
			if pages != 1 {
				t.Errorf("%d pages, want 2", pages+1)
			}
			break
		}
		marker = res.Marker
	}
	if diff := cmp.Diff([]string{"A", "b", "c", "d"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	res := h.must("ListRoles", "PathPrefix", "/other").(listRolesResult)
	if len(res.Roles) != 1 || res.Roles[0].RoleName != "d" {
		t.Errorf("PathPrefix: %+v", res.Roles)
	}
	for _, bad := range [][]string{{"MaxItems", "0"}, {"MaxItems", "1001"}, {"PathPrefix", "x"}, {"Marker", ""}} {
		_, err := h.call("ListRoles", params(bad...))
		wantErr(t, err, awserr.CodeValidation, 400, "at '"+strings.ToLower(bad[0][:1])+bad[0][1:]+"'")
	}
	_, err := h.call("ListRoles", params("Marker", "%%%"))
	wantErr(t, err, awserr.CodeInvalidInput, 400, "Marker")
}

func TestRoleUpdates(t *testing.T) {
	h := newHarness(t)
	h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc, "Description", "old")
	h.must("UpdateRole", "RoleName", "deploy", "MaxSessionDuration", "7200")
	r := h.role("deploy")
	if r.MaxSessionDuration != 7200 || r.Description != "old" {
		t.Errorf("after UpdateRole(MaxSessionDuration) %+v", r)
	}
	h.must("UpdateRole", "RoleName", "deploy", "Description", "")
	if r := h.role("deploy"); r.Description != "" || r.MaxSessionDuration != 7200 {
		t.Errorf("after UpdateRole(Description) %+v", r)
	}
	res := h.must("UpdateRoleDescription", "RoleName", "deploy", "Description", "new").(updateRoleDescriptionResult)
	if res.Role.Description != "new" || *res.Role.MaxSessionDuration != 7200 {
		t.Errorf("UpdateRoleDescription %+v", res.Role)
	}
	newTrust := strings.Replace(trustDoc, "repo:org/*", "repo:org/app:*", 1)
	h.must("UpdateAssumeRolePolicy", "RoleName", "deploy", "PolicyDocument", newTrust)
	if r := h.role("deploy"); r.TrustPolicy != newTrust {
		t.Errorf("trust policy not replaced")
	}
	tests := []struct {
		name, action string
		kv           []string
		code         string
		status       int
		msg          string
	}{
		{"update missing role", "UpdateRole", []string{"RoleName", "nope"}, awserr.CodeNoSuchEntity, 404, "The role with name nope cannot be found."},
		{"update bad duration", "UpdateRole", []string{"RoleName", "deploy", "MaxSessionDuration", "100"}, awserr.CodeValidation, 400, "maxSessionDuration"},
		{"description required", "UpdateRoleDescription", []string{"RoleName", "deploy"}, awserr.CodeValidation, 400, "Value null at 'description'"},
		{"description charset", "UpdateRoleDescription", []string{"RoleName", "deploy", "Description", "a\x01"}, awserr.CodeValidation, 400, "at 'description'"},
		{"trust malformed", "UpdateAssumeRolePolicy", []string{"RoleName", "deploy", "PolicyDocument", "[]"}, awserr.CodeMalformedPolicy, 400, ""},
		{"trust missing principal", "UpdateAssumeRolePolicy", []string{"RoleName", "deploy", "PolicyDocument",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`}, awserr.CodeMalformedPolicy, 400, "Missing required field Principal"},
		{"trust missing role", "UpdateAssumeRolePolicy", []string{"RoleName", "nope", "PolicyDocument", trustDoc}, awserr.CodeNoSuchEntity, 404, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.call(tt.action, params(tt.kv...))
			wantErr(t, err, tt.code, tt.status, tt.msg)
		})
	}
	if r := h.role("deploy"); r.TrustPolicy != newTrust || r.MaxSessionDuration != 7200 {
		t.Errorf("failed updates changed the role: %+v", r)
	}
}

func TestRoleTags(t *testing.T) {
	h := newHarness(t)
	h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc, "Tags.member.1.Key", "a", "Tags.member.1.Value", "1")
	h.must("TagRole", "RoleName", "deploy", "Tags.member.1.Key", "b", "Tags.member.1.Value", "2")
	h.must("UntagRole", "RoleName", "deploy", "TagKeys.member.1", "A")
	res := h.must("ListRoleTags", "RoleName", "deploy").(listTagsResult)
	if diff := cmp.Diff([]xmlTag{{"b", "2"}}, res.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	_, err := h.call("TagRole", params("RoleName", "deploy"))
	wantErr(t, err, awserr.CodeValidation, 400, "Value null at 'tags'")
	_, err = h.call("UntagRole", params("RoleName", "deploy", "TagKeys.member.1", ""))
	wantErr(t, err, awserr.CodeValidation, 400, "at 'tagKeys'")
	_, err = h.call("ListRoleTags", params("RoleName", "nope"))
	wantErr(t, err, awserr.CodeNoSuchEntity, 404, "nope")
	if err := h.store.UpdateRole(t.Context(), "deploy", func(r *store.Role) error {
		r.Tags = nil
		for i := range 50 {
			r.Tags = append(r.Tags, store.Tag{Key: fmt.Sprintf("k%d", i), Value: "v"})
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = h.call("TagRole", params("RoleName", "deploy", "Tags.member.1.Key", "new", "Tags.member.1.Value", ""))
	wantErr(t, err, awserr.CodeLimitExceeded, 409, "TagsPerRole: 50")
}
