package policy

import "testing"

// Rules cited: [xacct] reference_policies_evaluation-logic-cross-account;
// [same] reference_policies_evaluation-logic ("within a single account":
// a resource-based policy naming the principal's ARN suffices; one naming
// the account needs the identity policy too); [session]
// access_policies_session ("session policies limit permissions");
// [webid] aws_sts_spec.md §4 ("an Allow in the trust policy is sufficient");
// [boundary] access_policies_boundaries ("effective permissions are the
// intersection of identity-based policies, the boundary and session
// policies"); [principal] reference_policies_elements_principal (role ARNs
// are stored as the role's unique id).

func TestEvaluateSet(t *testing.T) {
	trustFor := func(principal string) *Policy {
		return mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":`+principal+`,"Action":"sts:AssumeRole"}}`, Trust)
	}
	allowAssume := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/target"}}`, Identity)
	allowS3 := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`, Identity)
	denyAssume := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"sts:*","Resource":"*"}}`, Identity)
	sessionS3 := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}`, Session)
	sessionAssume := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}`, Session)
	trustDeny := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"`+seedProvider+`"},"Action":"sts:AssumeRoleWithWebIdentity"},{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"`+seedKey+`":"*/blocked/*"}}}]}`, Trust)

	caller := awsCaller(session, acct, roleARN)
	assume := func(p Principal) *Request {
		return &Request{Principal: p, Action: "sts:AssumeRole", Resource: "arn:aws:iam::123456789012:role/target"}
	}
	tests := []struct {
		name string
		rule string
		req  *Request
		set  Set
		want Decision
	}{
		{"web identity: trust alone", "[webid]", seedRequest("org/ORG/project/PROJ/x"), Set{Trust: mustParse(t, seedTrust, Trust)}, Allow},
		{"web identity: trust denies", "[webid]", seedRequest("org/ORG/project/Q/x"), Set{Trust: mustParse(t, seedTrust, Trust)}, ImplicitDeny},
		{"web identity: explicit deny in trust", "[eval] explicit deny wins", seedRequest("org/ORG/blocked/x"), Set{Trust: trustDeny}, ExplicitDeny},
		{"same account, trust names session ARN", "[same] principal ARN: identity policy not needed", assume(caller), Set{Trust: trustFor(`{"AWS":"` + session + `"}`)}, Allow},
		{"same account, trust names role ARN", "[same] principal ARN: identity policy not needed", assume(caller), Set{Trust: trustFor(`{"AWS":"` + roleARN + `"}`)}, Allow},
		{"same account, role ARN, session policy denies", "[session] session policies limit grants to the role", assume(caller), Set{Trust: trustFor(`{"AWS":"` + roleARN + `"}`), Session: []*Policy{sessionS3}}, ImplicitDeny},
		{"same account, role ARN, session policy allows", "[session]", assume(caller), Set{Trust: trustFor(`{"AWS":"` + roleARN + `"}`), Session: []*Policy{sessionAssume}}, Allow},
		{"same account, session ARN ignores session policy", "[session] a grant to the session ARN is not limited", assume(caller), Set{Trust: trustFor(`{"AWS":"` + session + `"}`), Session: []*Policy{sessionS3}}, Allow},
		{"account principal needs identity policy", "[same] account principal: identity policy must allow", assume(caller), Set{Trust: trustFor(`{"AWS":"` + acct + `"}`)}, ImplicitDeny},
		{"account principal with identity allow", "[same]", assume(caller), Set{Trust: trustFor(`{"AWS":"arn:aws:iam::` + acct + `:root"}`), Identity: []*Policy{allowAssume}}, Allow},
		{"account principal, identity allows other action", "[same]", assume(caller), Set{Trust: trustFor(`{"AWS":"` + acct + `"}`), Identity: []*Policy{allowS3}}, ImplicitDeny},
		{"account principal, session limits", "[session]", assume(caller), Set{Trust: trustFor(`{"AWS":"` + acct + `"}`), Identity: []*Policy{allowAssume}, Session: []*Policy{sessionS3}}, ImplicitDeny},
		{"star principal needs identity policy", "[same] conservative reading of \"*\"", assume(caller), Set{Trust: trustFor(`"*"`)}, ImplicitDeny},
		{"identity deny beats trust allow", "[eval] explicit deny in any policy wins", assume(caller), Set{Trust: trustFor(`{"AWS":"` + session + `"}`), Identity: []*Policy{denyAssume}}, ExplicitDeny},
		{"cross account needs both", "[xacct] both the trust and the identity policy must allow", assume(awsCaller("arn:aws:sts::210987654321:assumed-role/r/s", otherAcct, "arn:aws:iam::210987654321:role/r")), Set{Trust: trustFor(`{"AWS":"arn:aws:iam::210987654321:role/r"}`)}, ImplicitDeny},
		{"cross account with identity allow", "[xacct]", assume(awsCaller("arn:aws:sts::210987654321:assumed-role/r/s", otherAcct, "arn:aws:iam::210987654321:role/r")), Set{Trust: trustFor(`{"AWS":"arn:aws:iam::210987654321:role/r"}`), Identity: []*Policy{allowAssume}}, Allow},
		{"trust does not allow", "[eval] an allow is needed from the trust policy", assume(caller), Set{Trust: trustFor(`{"AWS":"` + otherAcct + `"}`), Identity: []*Policy{allowAssume}}, ImplicitDeny},
		{"issued credentials: identity allows", "[eval] identity-based policy", &Request{Principal: caller, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Set{Identity: []*Policy{allowS3}}, Allow},
		{"issued credentials: session limits", "[session] session policy must also allow", &Request{Principal: caller, Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k"}, Set{Identity: []*Policy{allowS3}, Session: []*Policy{sessionS3}}, ImplicitDeny},
		{"issued credentials: session and identity allow", "[session]", &Request{Principal: caller, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Set{Identity: []*Policy{allowS3}, Session: []*Policy{sessionS3}}, Allow},
		{"issued credentials: session alone grants nothing", "[session] session policies never grant", &Request{Principal: caller, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Set{Session: []*Policy{sessionS3}}, ImplicitDeny},
		{"nothing applies", "[eval] default deny", &Request{Principal: caller, Action: "s3:GetObject"}, Set{}, ImplicitDeny},
		{"boundary allows too", "[boundary] identity ∩ boundary", &Request{Principal: caller, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Set{Identity: []*Policy{allowS3}, Boundary: sessionS3}, Allow},
		{"boundary does not allow", "[boundary] the boundary never grants, and limits", &Request{Principal: caller, Action: "s3:PutObject", Resource: "arn:aws:s3:::b/k"}, Set{Identity: []*Policy{allowS3}, Boundary: sessionS3}, ImplicitDeny},
		{"boundary alone grants nothing", "[boundary]", &Request{Principal: caller, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Set{Boundary: sessionS3}, ImplicitDeny},
		{"explicit deny in the boundary", "[eval] explicit deny in any policy wins", assume(caller), Set{Trust: trustFor(`{"AWS":"` + session + `"}`), Boundary: denyAssume}, ExplicitDeny},
		{"identity ∩ boundary ∩ session", "[boundary][session]", &Request{Principal: caller, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Set{Identity: []*Policy{allowS3}, Boundary: allowS3, Session: []*Policy{sessionS3}}, Allow},
		{"same account, role ARN, boundary denies", "[boundary] a grant to the role ARN is limited by the boundary", assume(caller), Set{Trust: trustFor(`{"AWS":"` + roleARN + `"}`), Boundary: sessionS3}, ImplicitDeny},
		{"same account, session ARN, not limited by the boundary", "[boundary] a grant to the session ARN is not", assume(caller), Set{Trust: trustFor(`{"AWS":"` + session + `"}`), Boundary: sessionS3}, Allow},
		{"account principal, boundary limits", "[boundary]", assume(caller), Set{Trust: trustFor(`{"AWS":"` + acct + `"}`), Identity: []*Policy{allowAssume}, Boundary: sessionS3}, ImplicitDeny},
		{"trust names the role's unique id", "[principal] a stored role id matches that role's sessions", assume(withRoleID(caller, "AROAAAAAAAAAAAAAAAAAA")), Set{Trust: trustFor(`{"AWS":"AROAAAAAAAAAAAAAAAAAA"}`)}, Allow},
		{"trust names another role's unique id", "[principal] a re-created role is another principal", assume(withRoleID(caller, "AROABBBBBBBBBBBBBBBBB")), Set{Trust: trustFor(`{"AWS":"AROAAAAAAAAAAAAAAAAAA"}`)}, ImplicitDeny},
		{"nil members skipped", "[eval]", &Request{Principal: caller, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Set{Identity: []*Policy{nil, allowS3}, Session: []*Policy{nil}}, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EvaluateSet(tt.req, tt.set)
			if got != tt.want {
				t.Errorf("%s: EvaluateSet = %v, want %v", tt.rule, got, tt.want)
			}
			if tr := ExplainSet(tt.req, tt.set); tr.Decision != got {
				t.Errorf("ExplainSet decision %v differs from EvaluateSet %v", tr.Decision, got)
			}
		})
	}
}

func withRoleID(p Principal, id string) Principal {
	p.RoleID = id
	return p
}
