package iam

import (
	"encoding/xml"
	"strings"
	"testing"
)

// Optional members AWS leaves out, from moto's aws_verified
// test_iam_response_attributes (run against real AWS by moto's maintainers):
// Tags only when the entity has tags (an empty <Tags/> parses as [] and
// tells clients the role has a tag list); ListRoles never returns Tags,
// PermissionsBoundary or RoleLastUsed; CreatePolicy does not echo
// Description; GetPolicy returns Description when set and Tags always;
// ListPolicies returns neither.
func TestOptionalMembersOmitted(t *testing.T) {
	h := newHarness(t)
	boundary := h.must("CreatePolicy", "PolicyName", "Boundary", "PolicyDocument", permDoc).(createPolicyResult).Policy.Arn
	marshal := func(v any) string {
		t.Helper()
		b, err := xml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	check := func(what, doc string, has, lacks []string) {
		t.Helper()
		for _, s := range has {
			if !strings.Contains(doc, s) {
				t.Errorf("%s lacks %s:\n%s", what, s, doc)
			}
		}
		for _, s := range lacks {
			if strings.Contains(doc, s) {
				t.Errorf("%s has %s:\n%s", what, s, doc)
			}
		}
	}

	plain := marshal(h.must("CreateRole", "RoleName", "plain", "AssumeRolePolicyDocument", trustDoc, "Description", "d").(createRoleResult).Role)
	check("CreateRole without tags", plain, []string{"<Description>d</Description>"}, []string{"<Tags", "PermissionsBoundary"})
	check("GetRole without tags", marshal(h.must("GetRole", "RoleName", "plain").(getRoleResult).Role),
		[]string{"<RoleLastUsed>"}, []string{"<Tags", "PermissionsBoundary"})

	full := marshal(h.must("CreateRole", "RoleName", "full", "AssumeRolePolicyDocument", trustDoc, "PermissionsBoundary", boundary,
		"Tags.member.1.Key", "k", "Tags.member.1.Value", "v").(createRoleResult).Role)
	check("CreateRole with tags", full, []string{"<Tags><member><Key>k</Key><Value>v</Value></member></Tags>", "<PermissionsBoundaryArn>"}, nil)
	check("GetRole with tags", marshal(h.must("GetRole", "RoleName", "full").(getRoleResult).Role),
		[]string{"<Tags><member>", "<PermissionsBoundaryArn>"}, nil)
	check("ListRoles", marshal(h.must("ListRoles").(listRolesResult)),
		[]string{"<RoleName>full</RoleName>", "<MaxSessionDuration>"}, []string{"<Tags", "PermissionsBoundary", "RoleLastUsed"})

	created := marshal(h.must("CreatePolicy", "PolicyName", "Described", "PolicyDocument", permDoc, "Description", "read").(createPolicyResult).Policy)
	check("CreatePolicy", created, nil, []string{"Description", "<Tags"})
	tagged := marshal(h.must("CreatePolicy", "PolicyName", "Tagged", "PolicyDocument", permDoc,
		"Tags.member.1.Key", "k", "Tags.member.1.Value", "v").(createPolicyResult).Policy)
	check("CreatePolicy with tags", tagged, []string{"<Tags><member><Key>k</Key><Value>v</Value></member></Tags>"}, nil)
	check("GetPolicy", marshal(h.must("GetPolicy", "PolicyArn", "arn:aws:iam::123456789012:policy/Described").(getPolicyResult).Policy),
		[]string{"<Description>read</Description>", "<Tags></Tags>"}, nil)
	check("ListPolicies", marshal(h.must("ListPolicies").(listPoliciesResult)),
		[]string{"<PolicyName>Described</PolicyName>", "<PolicyName>Tagged</PolicyName>"}, []string{"Description", "<Tags"})
}
