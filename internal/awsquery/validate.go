package awsquery

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/keylessci/keyless/internal/awserr"
)

// Validator collects model-constraint violations and renders them the way
// AWS's Coral frontend does:
//
//	1 validation error detected: Value 'a b' at 'roleSessionName' failed to
//	satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*
//
// Member names are the lowerCamelCase form of the parameter name.
type Validator struct {
	errs []string
}

func (v *Validator) add(value, member, constraint string) {
	v.errs = append(v.errs, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: Member must %s",
		value, lowerFirst(member), constraint))
}

// Required records a missing required parameter.
func (v *Validator) Required(member string, present bool) bool {
	if !present {
		v.errs = append(v.errs, fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(member)))
	}
	return present
}

// Length checks min <= len(value) <= max, counting characters. max 0 means no maximum.
func (v *Validator) Length(member, value string, min, max int) bool {
	n := utf8.RuneCountInString(value)
	switch {
	case n < min:
		v.add(value, member, fmt.Sprintf("have length greater than or equal to %d", min))
		return false
	case max > 0 && n > max:
		v.add(redact(value, member), member, fmt.Sprintf("have length less than or equal to %d", max))
		return false
	}
	return true
}

// Pattern checks value against re; pattern is the model's spelling shown in the message.
func (v *Validator) Pattern(member, value string, re *regexp.Regexp, pattern string) bool {
	if !re.MatchString(value) {
		v.add(redact(value, member), member, "satisfy regular expression pattern: "+pattern)
		return false
	}
	return true
}

// Range checks min <= n <= max.
func (v *Validator) Range(member string, n, min, max int) bool {
	switch {
	case n < min:
		v.add(fmt.Sprint(n), member, fmt.Sprintf("have value greater than or equal to %d", min))
		return false
	case n > max:
		v.add(fmt.Sprint(n), member, fmt.Sprintf("have value less than or equal to %d", max))
		return false
	}
	return true
}

// ListMembers records a constraint on the members of a list parameter, which
// Coral renders with the whole list and every constraint of the member shape:
// Value '[a, b]' at 'clientIDList' failed to satisfy constraint: Member must
// satisfy constraint: [Member must have length less than or equal to 255, …].
func (v *Validator) ListMembers(member string, values []string, constraints ...string) {
	v.errs = append(v.errs, fmt.Sprintf("Value '[%s]' at '%s' failed to satisfy constraint: Member must satisfy constraint: [%s]",
		redact(strings.Join(values, ", "), member), lowerFirst(member), strings.Join(constraints, ", ")))
}

// ListLength records a list parameter with more than max members; Coral
// shows no value for it.
func (v *Validator) ListLength(member string, max int) {
	v.errs = append(v.errs, fmt.Sprintf("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d",
		lowerFirst(member), max))
}

// Err returns the collected violations as one ValidationError, or nil.
func (v *Validator) Err() error {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return awserr.New(awserr.CodeValidation, http.StatusBadRequest, "1 validation error detected: "+v.errs[0])
	}
	return awserr.Newf(awserr.CodeValidation, http.StatusBadRequest, "%d validation errors detected: %s",
		len(v.errs), strings.Join(v.errs, "; "))
}

// redact keeps secrets (web identity tokens) and very long values out of
// messages, which AWS also does for sensitive members.
func redact(value, member string) string {
	if strings.EqualFold(member, "WebIdentityToken") || strings.EqualFold(member, "SAMLAssertion") {
		return "***"
	}
	if len(value) > 256 {
		return value[:256] + "..."
	}
	return value
}
