package iam

import (
	"fmt"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
)

// Coral reports every violated model constraint of a request in one
// ValidationError, list constraints included.
func TestValidationReportsEveryViolation(t *testing.T) {
	h := newHarness(t)
	p := params("RoleName", "a b", "AssumeRolePolicyDocument", trustDoc)
	for i := 1; i <= 51; i++ {
		p.Set(fmt.Sprintf("Tags.member.%d.Key", i), fmt.Sprintf("k%d", i))
		p.Set(fmt.Sprintf("Tags.member.%d.Value", i), "v")
	}
	_, err := h.call("CreateRole", p)
	wantErr(t, err, awserr.CodeValidation, 400, `2 validation errors detected: Value 'a b' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+; `+
		`Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50`)

	h.must("CreateRole", "RoleName", "deploy", "AssumeRolePolicyDocument", trustDoc)
	_, err = h.call("UntagRole", params("RoleName", "a b", "TagKeys.member.1", ""))
	wantErr(t, err, awserr.CodeValidation, 400, `2 validation errors detected: Value 'a b' at 'roleName'`)
}
