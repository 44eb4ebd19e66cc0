package iam

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// Model patterns (IAM service-2.json), anchored, with the spelling AWS
// shows in ValidationError messages.
var (
	reName       = regexp.MustCompile(`^[\w+=,.@-]+$`)
	patName      = `[\w+=,.@-]+`
	reRolePath   = regexp.MustCompile(`^(/|/[\x{21}-\x{7E}]+/)$`)
	patRolePath  = `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`
	rePathPrefix = regexp.MustCompile(`^/[\x{21}-\x{7F}]*$`)
	patPrefix    = `\u002F[\u0021-\u007F]*`
	rePolicyPath = regexp.MustCompile(`^((/[A-Za-z0-9.,+@=_-]+)*)/$`)
	patPolPath   = `((/[A-Za-z0-9\.,\+@=_-]+)*)/`
	reRoleDesc   = regexp.MustCompile(`^[\x{09}\x{0A}\x{0D}\x{20}-\x{7E}\x{A1}-\x{FF}]*$`)
	patRoleDesc  = `[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*`
	reDocument   = regexp.MustCompile(`^[\x{09}\x{0A}\x{0D}\x{20}-\x{FF}]+$`)
	patDocument  = `[\u0009\u000A\u000D\u0020-\u00FF]+`
	reMarker     = regexp.MustCompile(`^[\x{20}-\x{FF}]+$`)
	patMarker    = `[\u0020-\u00FF]+`
	reTagKey     = lazyRegexp(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	patTagKey    = `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`
	reTagValue   = lazyRegexp(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	patTagValue  = `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
	reVersionID  = regexp.MustCompile(`^v[1-9][0-9]*(\.[A-Za-z0-9-]*)?$`)
	patVersionID = `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`
)

// required checks a required string parameter and returns its value.
func required(v *awsquery.Validator, c *awsquery.Call, name string) (string, bool) {
	return c.Get(name), v.Required(name, c.Has(name))
}

// checkRoleName validates a required RoleName.
func checkRoleName(v *awsquery.Validator, c *awsquery.Call) string {
	name, ok := required(v, c, "RoleName")
	if ok && v.Length("RoleName", name, 1, 64) {
		v.Pattern("RoleName", name, reName, patName)
	}
	return name
}

// checkPolicyName validates a required PolicyName.
func checkPolicyName(v *awsquery.Validator, c *awsquery.Call) string {
	name, ok := required(v, c, "PolicyName")
	if ok && v.Length("PolicyName", name, 1, 128) {
		v.Pattern("PolicyName", name, reName, patName)
	}
	return name
}

// checkDocument validates a required policy document parameter.
func checkDocument(v *awsquery.Validator, c *awsquery.Call, name string) string {
	doc, ok := required(v, c, name)
	if ok && v.Length(name, doc, 1, 131072) {
		v.Pattern(name, doc, reDocument, patDocument)
	}
	return doc
}

// checkARN validates a required ARN parameter (arnType: 20..2048).
func checkARN(v *awsquery.Validator, c *awsquery.Call, name string) string {
	s, ok := required(v, c, name)
	if ok {
		v.Length(name, s, 20, 2048)
	}
	return s
}

// checkPaging validates Marker and MaxItems and decodes them.
func checkPaging(v *awsquery.Validator, c *awsquery.Call) (page, error) {
	marker := c.Get("Marker")
	if c.Has("Marker") && v.Length("Marker", marker, 1, 320) {
		v.Pattern("Marker", marker, reMarker, patMarker)
	}
	max, ok, err := c.Int("MaxItems")
	if err != nil {
		return page{}, err
	}
	if ok {
		v.Range("MaxItems", max, 1, 1000)
	}
	if err := v.Err(); err != nil {
		return page{}, err
	}
	return decodeMarker(marker, max)
}

// parseTags reads and validates the Tags list of structures.
func parseTags(v *awsquery.Validator, c *awsquery.Call, requiredList bool) ([]store.Tag, error) {
	raw := c.Structs("Tags", "Key", "Value")
	if requiredList {
		v.Required("Tags", raw != nil)
	}
	if len(raw) > maxTags {
		v.ListLength("Tags", maxTags)
	}
	tags := make([]store.Tag, 0, len(raw))
	for i, m := range raw {
		member := fmt.Sprintf("tags.%d.member.", i+1)
		key, hasKey := m["Key"]
		val, hasVal := m["Value"]
		if v.Required(member+"key", hasKey) && v.Length(member+"key", key, 1, 128) {
			v.Pattern(member+"key", key, reTagKey(), patTagKey)
		}
		if v.Required(member+"value", hasVal) && v.Length(member+"value", val, 0, 256) {
			v.Pattern(member+"value", val, reTagValue(), patTagValue)
		}
		tags = append(tags, store.Tag{Key: key, Value: val})
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	for i := range tags {
		for j := 0; j < i; j++ {
			if strings.EqualFold(tags[i].Key, tags[j].Key) {
				return nil, invalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
			}
		}
	}
	return tags, nil
}

// parseTagKeys reads and validates the required TagKeys list.
func parseTagKeys(v *awsquery.Validator, c *awsquery.Call) ([]string, error) {
	keys := c.List("TagKeys")
	v.Required("TagKeys", keys != nil)
	if len(keys) > maxTags {
		v.ListLength("TagKeys", maxTags)
	}
	for _, k := range keys {
		if len(k) == 0 || len(k) > 128 || !reTagKey().MatchString(k) {
			v.ListMembers("TagKeys", keys, "Member must have length less than or equal to 128",
				"Member must have length greater than or equal to 1", "Member must satisfy regular expression pattern: "+patTagKey)
			break
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return keys, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// checkTrustPolicy validates a trust policy being written: the grammar, then
// IAM's identity-provider controls for shared OIDC providers. Only writes are
// checked; roles already stored are not re-validated, as on AWS.
func checkTrustPolicy(doc string) error {
	p, err := policy.Parse(doc, policy.Trust)
	if err != nil {
		return err
	}
	return p.CheckSharedProviders()
}

// lazyRegexp compiles expr on first use. The Unicode classes of the tag
// patterns take about a millisecond to compile, which every command of the
// binary (keyless assume in a CI step) would otherwise pay at start.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
