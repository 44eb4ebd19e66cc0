package policy

import "encoding/json"

// Conditions are the Condition block of one statement: operator (e.g.
// StringEquals) → condition key → values.
type Conditions map[string]map[string][]string

// WebIdentityTrust is the one builder of the trust policy keyless writes for
// a role that CI jobs assume with web identity tokens: one statement
// allowing sts:AssumeRoleWithWebIdentity to principal (the provider's ARN,
// or a template reference such as CloudFormation's {"Ref": …}) under
// conds. A key with one value is written as a string, as people write it.
// The result is ready for encoding/json (or an HCL writer).
func WebIdentityTrust(principal any, conds Conditions) map[string]any {
	cond := map[string]any{}
	for op, keys := range conds {
		m := map[string]any{}
		for k, vs := range keys {
			if len(vs) == 1 {
				m[k] = vs[0]
			} else {
				m[k] = vs
			}
		}
		cond[op] = m
	}
	st := map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"Federated": principal},
		"Action":    "sts:AssumeRoleWithWebIdentity",
	}
	if len(cond) > 0 {
		st["Condition"] = cond
	}
	return map[string]any{"Version": "2012-10-17", "Statement": []any{st}}
}

// WebIdentityTrustJSON is WebIdentityTrust for a provider ARN, as an
// indented JSON document.
func WebIdentityTrustJSON(providerARN string, conds Conditions) string {
	b, err := json.MarshalIndent(WebIdentityTrust(providerARN, conds), "", "  ")
	if err != nil {
		panic("policy: trust policy of strings does not encode: " + err.Error()) // cannot happen
	}
	return string(b)
}
