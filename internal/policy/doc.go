// Package policy is keyless's IAM policy language engine: it parses,
// validates, evaluates and explains IAM policy documents as AWS does. The
// server uses it to decide AssumeRole* and IAM calls, `keyless explain` uses
// its traces, and a future linter its parser.
//
// It owns the policy grammar, the per-kind validation (with AWS's error codes
// and messages, as *awserr.Error), the condition operators, principal and
// action/resource matching, and the rules that combine several policies. It
// does not own where policies come from (store), who the caller is (sigv4,
// creds, oidc) or which condition keys a request carries (iam, sts build the
// Context). It is pure: no network, storage or AWS SDK imports (a test
// enforces it).
//
// # Parsing and validation
//
// Parse accepts Version "2012-10-17" or "2008-10-17" (or none), Id, and
// Statement as an object or an array; a statement has Sid, Effect,
// Principal/NotPrincipal, Action/NotAction, Resource/NotResource and
// Condition. Single values may be written without brackets; condition values
// may be strings, numbers or booleans. Keys may not repeat. Everything is
// compiled once: wildcard patterns, numbers, dates, CIDRs, ARN components
// and policy-variable templates.
//
// Validation per Kind: invalid JSON gives MalformedPolicyDocument "This
// policy contains invalid Json"; unknown elements or operators, a bad Effect
// or Version give "Syntax errors in policy."; a trust policy must have a
// Principal ("Missing required field Principal") and must not have a
// Resource ("Has prohibited field Resource"); identity, managed and session
// policies must not have a Principal and must have a Resource. A trust
// policy over 2048 non-whitespace characters gives LimitExceeded (409)
// "Cannot exceed quota for ACLSizePerRole: 2048", a managed policy over 6144
// "Cannot exceed quota for PolicySize: 6144". The 10240-character total of a
// role's inline policies spans several documents and is enforced by the
// caller with Size.
//
// Documents being written go through ParseNew, which first applies IAM's
// phased checks of identity and managed policies (checkIAM: Version
// 2012-10-17 for managed policies, "The policy failed legacy parsing",
// resource formats, action prefixes, each with AWS's message), and trust
// policies being written through Policy.CheckSharedProviders (AWS's 2025
// identity-provider controls for shared OIDC providers, table
// SharedProviders). Stored documents load with Parse, which applies
// neither: AWS does not re-validate what it stores.
//
// # Evaluating one policy
//
// Policy.Evaluate follows AWS's evaluation logic
// (reference_policies_evaluation-logic): a matching Deny statement wins, else
// a matching Allow statement allows, else the request is implicitly denied.
// A statement matches when its principal, action, resource and every
// condition match. Conditions (reference_policies_elements_condition and
// _condition_operators, reference_policies_multi-value-conditions):
//
//   - AND across operators and across keys, OR across the values of one key;
//     a negated operator (StringNotEquals, StringNotLike, NumericNotEquals,
//     DateNotEquals, NotIpAddress, ArnNotEquals, ArnNotLike) with several
//     values is a NOR: no value may match.
//   - Key names are case-insensitive; whether values are depends on the
//     operator.
//   - A missing key makes a positive operator false and a negated one true;
//     ...IfExists makes it true; ForAnyValue: is false and ForAllValues: is
//     true when the key is missing or empty (the "ForAllValues with Allow"
//     pitfall). A plain operator on a multivalued key is true if any request
//     value matches (negated: if none does).
//   - Null "true" means the key is absent, "false" that it is present.
//   - StringLike '*' matches any run of characters including '/', '?'
//     exactly one character. ArnEquals and ArnLike are the same operator:
//     each of the six ':'-separated ARN components is matched on its own.
//     Date values are ISO 8601 or epoch seconds; IpAddress takes IPv4 and
//     IPv6 CIDRs. A policy value that cannot be read as the operator's type
//     matches nothing.
//   - Policy variables ${key}, ${key, 'default'} and the escapes ${*} ${?}
//     ${$} apply only under Version 2012-10-17, in string and ARN condition
//     values and in Resource. A variable's value is literal (its '*' is not a
//     wildcard); an absent or multivalued variable without default makes that
//     policy value match nothing.
//
// Actions match case-insensitively with '*' and '?'. Principals: "*" matches
// anyone, and {"AWS":"*"} is documented as its equivalent (a web identity
// or a service included); a Federated or Service value matches
// that provider ARN or service name exactly; an AWS role ARN matches the role
// and every session of it, and so does the role's unique id (AROA…), the
// form IAM stores a named role in (so a re-created role of the same name is
// another principal); an assumed-role session ARN matches that session;
// a root ARN or a bare 12-digit account id matches every AWS principal of
// that account.
//
// # Combining policies (EvaluateSet)
//
// An explicit Deny in any policy of the Set wins. Then:
//
//   - Web identity (a Federated or Service principal): the trust policy
//     alone decides ("the federated caller has no identity policy, so an
//     Allow in the trust policy is sufficient").
//   - Calls made with issued role credentials (no trust policy in the Set):
//     an identity policy must allow; when the role has a permissions
//     boundary, the boundary must allow too; and when the session has
//     session policies, one of them must allow too (boundaries and session
//     policies only limit: identity ∩ boundary ∩ session).
//   - AssumeRole by an AWS principal of the role's account: allowed when the
//     trust policy allows and names the caller's own ARN (its session or user
//     ARN). When it names the caller's role ARN (or its unique id), the
//     boundary and the session policies (if any) must also allow, since AWS
//     adds such grants to the role's permissions before they limit them. When it allows only
//     through an account principal (root ARN, bare account id, "*" or
//     {"AWS":"*"}), or the caller is in another account, the caller's
//     identity policies (and boundary and session policies) must allow sts:AssumeRole on
//     the role ARN as well (reference_policies_evaluation-logic-cross-account
//     and "same account" rules). Treating "*" like an account principal is
//     the conservative reading: it can deny where AWS might allow, never the
//     reverse. A root caller has no identity policies; the caller of
//     EvaluateSet decides how to represent its implicit full access.
//
// # Explaining
//
// Explain and ExplainSet return a Trace: per statement, whether principal,
// action and resource matched; per condition, the operator, key, policy and
// request values and the result; the deciding statement or "no statement
// allowed"; and the closest miss, e.g. `sub is "org/A/project/Q/user/U",
// the policy expects "org/A/project/P/*"`. A Trace is for the server log and
// `keyless explain`, never for an AccessDenied message.
package policy
