package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/keylessci/keyless/internal/awserr"
)

// IAM checks an identity or managed policy document in phases, and the
// phase decides the message: grammar ("Syntax errors in policy."), the
// version of a managed policy, "legacy parsing" (exact Effect spelling, date
// values, the shape of resource ARNs), Sid uniqueness, actions present, the
// resource formats, and last the action prefixes. checkIAM runs those phases
// over the decoded document before compile; compile then enforces the rest
// (and everything for trust and session policies).

var (
	errVersion       = awserr.New(awserr.CodeMalformedPolicy, 400, "Policy document must be version 2012-10-17 or greater.")
	errLegacyParsing = awserr.New(awserr.CodeMalformedPolicy, 400, "The policy failed legacy parsing")
	errOneColon      = awserr.New(awserr.CodeMalformedPolicy, 400, "Actions/Condition can contain only one colon.")
	errVendorRegex   = awserr.New(awserr.CodeMalformedPolicy, 400, "Resource vendor must be fully qualified and cannot contain regexes.")
)

// partitions are the AWS partitions a resource ARN may name.
var partitions = []string{"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}

// iamPathPrefixes are the resource types of IAM ARNs.
var iamPathPrefixes = []string{"user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/",
	"server-certificate/", "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/"}

func checkIAM(root *node, kind Kind) error {
	if kind != Identity && kind != Managed {
		return nil
	}
	stmts, ok := iamSyntax(root)
	if !ok {
		return errSyntax
	}
	if kind == Managed {
		if v := root.member("Version"); v == nil || v.s != "2012-10-17" {
			return errVersion
		}
	}
	resourceErr := ""
	for _, st := range stmts {
		if e := st.member("Effect"); e.s != "Allow" && e.s != "Deny" {
			return errLegacyParsing
		}
		if c := st.member("Condition"); c != nil && !legacyDates(c) {
			return errLegacyParsing
		}
		for _, key := range []string{"Resource", "NotResource"} {
			r := st.member(key)
			if r == nil {
				continue
			}
			found := false
			for _, res := range resourceList(r) {
				if msg := resourceFormat(res); msg != "" {
					resourceErr, found = msg, true
				}
			}
			if !found && resourceErr == "" && !legacyResources(r) {
				return errLegacyParsing
			}
		}
	}
	sids := map[string]bool{}
	for _, st := range stmts {
		if s := st.member("Sid"); s != nil && s.s != "" {
			if sids[s.s] {
				return errSidDup
			}
			sids[s.s] = true
		}
	}
	for _, st := range stmts {
		a := st.member("Action")
		if a == nil {
			a = st.member("NotAction")
		}
		if a == nil || (a.kind == nArray && len(a.items) == 0) {
			return errNoActions
		}
	}
	if resourceErr != "" {
		return awserr.New(awserr.CodeMalformedPolicy, 400, resourceErr)
	}
	for _, st := range stmts {
		for _, key := range []string{"Action", "NotAction"} {
			if a := st.member(key); a != nil {
				for _, n := range listItems(a) {
					if err := actionPrefix(n.s); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// iamSyntax is IAM's grammar check; it returns the statements.
func iamSyntax(root *node) ([]*node, bool) {
	if root.kind != nObject {
		return nil, false
	}
	for i, k := range root.keys {
		v := root.vals[i]
		switch k {
		case "Version":
			if v.kind != nString || (v.s != "2012-10-17" && v.s != "2008-10-17") {
				return nil, false
			}
		case "Id":
			if v.kind != nString {
				return nil, false
			}
		case "Statement":
		default:
			return nil, false
		}
	}
	s := root.member("Statement")
	if s == nil || (s.kind != nObject && s.kind != nArray) {
		return nil, false
	}
	stmts := listItems(s)
	if len(stmts) == 0 {
		return nil, false
	}
	for _, st := range stmts {
		if !statementSyntax(st) {
			return nil, false
		}
	}
	return stmts, true
}

func statementSyntax(st *node) bool {
	if st.kind != nObject {
		return false
	}
	for i, k := range st.keys {
		v := st.vals[i]
		switch k {
		case "Sid":
			if v.kind != nString {
				return false
			}
		case "Effect":
			if v.kind != nString || (!strings.EqualFold(v.s, "Allow") && !strings.EqualFold(v.s, "Deny")) {
				return false
			}
		case "Action", "NotAction":
			if !stringsOrList(v, false) {
				return false
			}
		case "Resource", "NotResource":
			if !stringsOrList(v, true) {
				return false
			}
		case "Principal", "NotPrincipal":
		case "Condition":
			if !conditionSyntax(v) {
				return false
			}
		default:
			return false
		}
	}
	both := func(a, b string) bool { return st.member(a) != nil && st.member(b) != nil }
	return st.member("Effect") != nil && !both("Action", "NotAction") && !both("Resource", "NotResource")
}

// conditionSyntax: an object of operator blocks, each an object of values
// (strings, numbers, booleans or lists); an unknown operator is allowed
// only with an empty block.
func conditionSyntax(c *node) bool {
	if c.kind != nObject {
		return false
	}
	for i, name := range c.keys {
		block := c.vals[i]
		if block.kind != nObject {
			return false
		}
		for _, v := range block.vals {
			if v.kind == nObject || v.kind == nNull {
				return false
			}
		}
		if _, _, _, ok := parseOperator(name); !ok && len(block.keys) > 0 {
			return false
		}
	}
	return true
}

func stringsOrList(n *node, nullItems bool) bool {
	if n.kind == nString {
		return true
	}
	if n.kind != nArray {
		return false
	}
	for _, it := range n.items {
		if it.kind != nString && !(nullItems && it.kind == nNull) {
			return false
		}
	}
	return true
}

func listItems(n *node) []*node {
	if n.kind == nArray {
		return n.items
	}
	return []*node{n}
}

// resourceList returns a Resource element's strings in the order IAM
// reports a bad one: IAM names the last offender of the list sorted in
// descending order (observed: ["arn:error:s3:::b", "arn:error:s3::b"]
// reports "arn:error:s3:::b"). Nulls are skipped.
func resourceList(n *node) []string {
	if n.kind == nString {
		return []string{n.s}
	}
	var out []string
	for _, it := range n.items {
		if it.kind == nString && it.s != "" {
			out = append(out, it.s)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// resourceFormat returns IAM's message for a malformed resource, or "".
func resourceFormat(r string) string {
	if r == "*" {
		return ""
	}
	_, rest, ok := strings.Cut(maskVars(r), ":")
	if !ok {
		return fmt.Sprintf("Resource %s must be in ARN format or \"*\".", r)
	}
	part, rest, hasService := strings.Cut(rest, ":")
	if part != "*" && !slices.Contains(partitions, part) {
		parts := strings.Split(rest, ":")
		at := func(i int) string {
			if i < len(parts) && (i > 0 || parts[0] != "" || len(parts) > 1) {
				return parts[i]
			}
			return "*"
		}
		tail := "*"
		if len(parts) > 3 {
			tail = strings.Join(parts[3:], ":")
		}
		return fmt.Sprintf("Partition \"%s\" is not valid for resource \"arn:%s:%s:%s:%s:%s\".", part, part, at(0), at(1), at(2), tail)
	}
	if !hasService {
		return errVendorRegex.Message
	}
	service, afterService, _ := strings.Cut(rest, ":")
	_, afterRegion, _ := strings.Cut(afterService, ":")
	_, resourceID, _ := strings.Cut(afterRegion, ":")
	if !strings.HasPrefix(afterService, ":") {
		switch {
		case service == "iam":
			return fmt.Sprintf("IAM resource %s cannot contain region information.", r)
		case service == "s3" && !strings.HasPrefix(resourceID, "accesspoint/"):
			return fmt.Sprintf("Resource %s can not contain region information.", r)
		}
	}
	if service == "iam" && resourceID != "*" && !slices.ContainsFunc(iamPathPrefixes, func(p string) bool { return strings.HasPrefix(resourceID, p) }) {
		return "IAM resource path must either be \"*\" or start with " + strings.Join(iamPathPrefixes, ", ") + "."
	}
	return ""
}

// legacyResources: an ARN with fewer than five colons must not have an
// empty component, and the service must be named.
func legacyResources(n *node) bool {
	for _, it := range listItems(n) {
		r := maskVars(it.s)
		if it.kind != nString || r == "*" || r == "" {
			continue
		}
		if strings.Count(r, ":") < 5 && strings.Contains(r, "::") {
			return false
		}
		if parts := strings.Split(r, ":"); len(parts) > 2 && parts[2] == "" {
			return false
		}
	}
	return true
}

// legacyDates checks the values of Date operators: epoch seconds within
// 0..2^63-1, or an ISO 8601 date-time IAM can read.
func legacyDates(c *node) bool {
	for i, name := range c.keys {
		info, _, _, ok := parseOperator(name)
		if !ok || info.op.family() != famDate {
			continue
		}
		for _, v := range c.vals[i].vals {
			for _, it := range listItems(v) {
				if it.kind == nString && !legacyDate(strings.ToLower(it.s)) {
					return false
				}
			}
		}
	}
	return true
}

func legacyDate(s string) bool {
	if !strings.Contains(s, "t") && !strings.Contains(s, "-") {
		n, err := strconv.ParseInt(s, 10, 64)
		return err == nil && n >= 0
	}
	date, clock, _ := strings.Cut(s, "t")
	neg := strings.HasPrefix(date, "-")
	dp := strings.Split(strings.TrimPrefix(date, "-"), "-")
	year := dp[0]
	if neg {
		year = "-" + year
	}
	inRange := func(s string, lo, hi int64) bool {
		n, err := strconv.ParseInt(s, 10, 64)
		return err == nil && n >= lo && n <= hi
	}
	if !inRange(year, -292275054, 292278993) || len(dp) > 3 ||
		len(dp) > 1 && !inRange(dp[1], 1, 12) || len(dp) > 2 && !inRange(dp[2], 1, 31) {
		return false
	}
	tp := strings.Split(clock, ":")
	if tp[0] != "" && !inRange(tp[0], 0, 23) || len(tp) > 1 && !inRange(tp[1], 0, 59) {
		return false
	}
	if len(tp) < 3 {
		return true
	}
	secs := tp[2]
	switch {
	case strings.Contains(secs, "z"):
		var after string
		secs, after, _ = strings.Cut(secs, "z")
		if after != "" {
			return false
		}
	case strings.Contains(secs, "+"):
		var zone string
		secs, zone, _ = strings.Cut(secs, "+")
		h, m, hasMin := strings.Cut(zone, ":")
		if len(h) != 2 || !inRange(h, 0, 23) || hasMin && (len(m) != 2 || !inRange(m, 0, 59)) {
			return false
		}
	}
	whole, frac, hasFrac := strings.Cut(secs, ".")
	return inRange(whole, 0, 59) && (!hasFrac || inRange(frac, 0, 999999999))
}

// actionPrefix checks one action's vendor prefix.
func actionPrefix(a string) error {
	parts := strings.Split(a, ":")
	switch {
	case len(parts) == 1 && a != "*":
		return errVendor
	case len(parts) > 2:
		return errOneColon
	}
	if v := parts[0]; v != "*" && strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.')
	}) >= 0 {
		return awserr.Newf(awserr.CodeMalformedPolicy, 400, "Vendor %s is not valid", v)
	}
	return nil
}

// member returns the value of key in an object node, or nil.
func (n *node) member(key string) *node {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
}

// maskVars replaces each policy variable ${…} (whose key may hold a colon,
// as in ${aws:username}) by a plain placeholder, so that an ARN's
// components can be split on ':'.
func maskVars(r string) string {
	if !strings.Contains(r, "${") {
		return r
	}
	var b strings.Builder
	b.Grow(len(r))
	for {
		i := strings.Index(r, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(r[i:], '}')
		if j < 0 {
			break
		}
		b.WriteString(r[:i])
		b.WriteByte('v')
		r = r[i+j+1:]
	}
	b.WriteString(r)
	return b.String()
}
