package policy

import "encoding/json"

// Conditions are the Condition block of one statement: operator (e.g.
// StringEquals) → condition key → values.
type Conditions map[string]map[string][]string

// trustDocument is a web identity trust policy with its members in the
// usual order (Version, Statement; Effect, Principal, Action, Condition).
type trustDocument struct {
	Version   string
	Statement []trustStatement
}

type trustStatement struct {
	Effect    string
	Principal map[string]any
	Action    string
	Condition map[string]any `json:",omitempty"`
}

// webIdentityTrust is the one template of the trust policy keyless writes
// for a role that CI jobs assume with web identity tokens: one statement
// allowing sts:AssumeRoleWithWebIdentity to principal under conds. A key
// with one value is written as a string, as people write it.
func webIdentityTrust(principal any, conds Conditions) trustDocument {
	st := trustStatement{Effect: "Allow", Principal: map[string]any{"Federated": principal},
		Action: "sts:AssumeRoleWithWebIdentity"}
	for op, keys := range conds {
		m := map[string]any{}
		for k, vs := range keys {
			if len(vs) == 1 {
				m[k] = vs[0]
			} else {
				m[k] = vs
			}
		}
		if st.Condition == nil {
			st.Condition = map[string]any{}
		}
		st.Condition[op] = m
	}
	return trustDocument{Version: "2012-10-17", Statement: []trustStatement{st}}
}

// WebIdentityTrust returns the trust policy of a role that CI jobs assume
// with web identity tokens of principal (the provider's ARN, or a template
// reference such as CloudFormation's {"Ref": …}) under conds, as a value
// ready for encoding/json or an HCL writer.
func WebIdentityTrust(principal any, conds Conditions) map[string]any {
	d := webIdentityTrust(principal, conds)
	st := map[string]any{"Effect": d.Statement[0].Effect, "Principal": d.Statement[0].Principal, "Action": d.Statement[0].Action}
	if c := d.Statement[0].Condition; c != nil {
		st["Condition"] = c
	}
	return map[string]any{"Version": d.Version, "Statement": []any{st}}
}

// WebIdentityTrustJSON is WebIdentityTrust for a provider ARN, as an
// indented JSON document.
func WebIdentityTrustJSON(providerARN string, conds Conditions) string {
	b, err := json.MarshalIndent(webIdentityTrust(providerARN, conds), "", "  ")
	if err != nil {
		panic("policy: a trust policy of strings does not encode: " + err.Error()) // cannot happen
	}
	return string(b)
}
