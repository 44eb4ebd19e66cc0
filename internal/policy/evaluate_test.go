package policy

import (
	"fmt"
	"testing"
)

// Rules cited: [principal] reference_policies_elements_principal;
// [action] reference_policies_elements_action / _notaction;
// [resource] reference_policies_elements_resource / _notresource;
// [eval] reference_policies_evaluation-logic.

const (
	acct      = "123456789012"
	otherAcct = "210987654321"
	roleARN   = "arn:aws:iam::123456789012:role/ci/deploy"
	session   = "arn:aws:sts::123456789012:assumed-role/deploy/job-1"
)

func awsCaller(id, account, role string) Principal {
	return Principal{Type: PrincipalAWS, ID: id, Account: account, RoleARN: role}
}

func TestPrincipalMatching(t *testing.T) {
	sessionCaller := awsCaller(session, acct, roleARN)
	tests := []struct {
		name      string
		rule      string
		principal string // the Principal element
		caller    Principal
		want      Decision
	}{
		{"star matches federated", "[principal] \"*\" is everyone", `"*"`, Principal{Type: PrincipalFederated, ID: seedProvider}, Allow},
		{"star matches AWS", "[principal] \"*\" is everyone", `"*"`, sessionCaller, Allow},
		{"AWS star matches AWS", "[principal] {\"AWS\":\"*\"} is every AWS principal", `{"AWS":"*"}`, sessionCaller, Allow},
		// AWS: "Principal": "*" and "Principal": {"AWS": "*"} are equivalent ("All principals").
		{"AWS star admits federated", "[principal] {\"AWS\":\"*\"} is equivalent to \"*\"", `{"AWS":"*"}`, Principal{Type: PrincipalFederated, ID: seedProvider}, Allow},
		{"AWS star admits service", "[principal] {\"AWS\":\"*\"} is equivalent to \"*\"", `{"AWS":"*"}`, Principal{Type: PrincipalService, ID: "ec2.amazonaws.com"}, Allow},
		{"AWS star beside a federated list", "[principal] values of one Principal are ORed", `{"Federated":["accounts.google.com"],"AWS":"*"}`, Principal{Type: PrincipalFederated, ID: seedProvider}, Allow},
		{"federated list second entry", "[principal] a list names several providers", `{"Federated":["accounts.google.com","` + seedProvider + `"]}`, Principal{Type: PrincipalFederated, ID: seedProvider}, Allow},
		{"federated list no entry", "[principal] a list names several providers", `{"Federated":["accounts.google.com","cognito-identity.amazonaws.com"]}`, Principal{Type: PrincipalFederated, ID: seedProvider}, ImplicitDeny},
		{"federated not AWS", "[principal] principal types differ", `{"Federated":"` + seedProvider + `"}`, awsCaller(seedProvider, acct, ""), ImplicitDeny},
		{"account id not federated", "[principal] an account principal is the account's AWS principals", `{"AWS":"123456789012"}`, Principal{Type: PrincipalFederated, ID: seedProvider}, ImplicitDeny},
		{"root ARN not federated", "[principal] an account principal is the account's AWS principals", `{"AWS":"arn:aws:iam::123456789012:root"}`, Principal{Type: PrincipalFederated, ID: seedProvider}, ImplicitDeny},
		{"role ARN not federated", "[principal] a role principal is the role's sessions", `{"AWS":"` + roleARN + `"}`, Principal{Type: PrincipalFederated, ID: seedProvider}, ImplicitDeny},
		{"role ARN not its root", "[principal] a role principal is not the account", `{"AWS":"` + roleARN + `"}`, awsCaller("arn:aws:iam::123456789012:root", acct, ""), ImplicitDeny},
		{"root ARN other account session", "[principal] the root ARN is one account", `{"AWS":"arn:aws:iam::210987654321:root"}`, sessionCaller, ImplicitDeny},
		{"canonical user exact", "[principal] CanonicalUser names an S3 canonical id", `{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}`, Principal{Type: PrincipalCanonical, ID: "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}, Allow},
		{"canonical user not federated", "[principal] principal types differ", `{"CanonicalUser":"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}`, Principal{Type: PrincipalFederated, ID: seedProvider}, ImplicitDeny},
		{"service list", "[principal] Service takes a list", `{"Service":["ecs.amazonaws.com","ec2.amazonaws.com"]}`, Principal{Type: PrincipalService, ID: "ec2.amazonaws.com"}, Allow},
		{"service not federated", "[principal] principal types differ", `{"Service":"ec2.amazonaws.com"}`, Principal{Type: PrincipalFederated, ID: "ec2.amazonaws.com"}, ImplicitDeny},
		{"federated exact", "[principal] Federated names the provider ARN", `{"Federated":"` + seedProvider + `"}`, Principal{Type: PrincipalFederated, ID: seedProvider}, Allow},
		{"federated other provider", "[principal] Federated is exact", `{"Federated":"` + seedProvider + `"}`, Principal{Type: PrincipalFederated, ID: seedProvider + "X"}, ImplicitDeny},
		{"federated built-in", "[principal] built-in providers are names", `{"Federated":"accounts.google.com"}`, Principal{Type: PrincipalFederated, ID: "accounts.google.com"}, Allow},
		{"role ARN matches its session", "[principal] a role principal covers its sessions", `{"AWS":"` + roleARN + `"}`, sessionCaller, Allow},
		{"role ARN not other role", "[principal] role ARN", `{"AWS":"arn:aws:iam::123456789012:role/other"}`, sessionCaller, ImplicitDeny},
		{"session ARN exact", "[principal] assumed-role session principal", `{"AWS":"` + session + `"}`, sessionCaller, Allow},
		{"session ARN other session", "[principal] assumed-role session principal", `{"AWS":"arn:aws:sts::123456789012:assumed-role/deploy/job-2"}`, sessionCaller, ImplicitDeny},
		{"root ARN is the account", "[principal] the account root ARN means the account", `{"AWS":"arn:aws:iam::123456789012:root"}`, sessionCaller, Allow},
		{"bare account id", "[principal] a 12-digit account id means the account", `{"AWS":"123456789012"}`, sessionCaller, Allow},
		{"other account", "[principal] account", `{"AWS":"` + otherAcct + `"}`, sessionCaller, ImplicitDeny},
		{"user ARN", "[principal] IAM user", `{"AWS":"arn:aws:iam::123456789012:user/alice"}`, awsCaller("arn:aws:iam::123456789012:user/alice", acct, ""), Allow},
		{"service", "[principal] service principal", `{"Service":"ec2.amazonaws.com"}`, Principal{Type: PrincipalService, ID: "ec2.amazonaws.com"}, Allow},
		{"service not AWS", "[principal] principal types differ", `{"Service":"ec2.amazonaws.com"}`, awsCaller("ec2.amazonaws.com", acct, ""), ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":%s,"Action":"sts:*"}}`, tt.principal)
			p := mustParse(t, doc, Trust)
			r := &Request{Principal: tt.caller, Action: "sts:AssumeRole", Resource: roleARN}
			if got := p.Evaluate(r); got != tt.want {
				t.Errorf("%s: got %v, want %v", tt.rule, got, tt.want)
			}
		})
	}
}

func TestStatementElements(t *testing.T) {
	tests := []struct {
		name     string
		rule     string
		stmts    string
		action   string
		resource string
		want     Decision
	}{
		{"action wildcard", "[action] wildcards in actions", `{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}`, "s3:GetObject", "arn:aws:s3:::b/k", Allow},
		{"action case-insensitive", "[action] action names are case-insensitive", `{"Effect":"Allow","Action":"S3:getobject","Resource":"*"}`, "s3:GetObject", "arn:aws:s3:::b/k", Allow},
		{"action question mark", "[action] ? wildcard", `{"Effect":"Allow","Action":"s3:?etObject","Resource":"*"}`, "s3:GetObject", "arn:aws:s3:::b/k", Allow},
		{"action other service", "[action] prefix is part of the match", `{"Effect":"Allow","Action":"s3:*","Resource":"*"}`, "iam:GetRole", "arn:aws:s3:::b/k", ImplicitDeny},
		{"NotAction excludes", "[action] NotAction matches every other action", `{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`, "iam:GetRole", "*", ImplicitDeny},
		{"NotAction allows others", "[action] NotAction", `{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`, "s3:GetObject", "*", Allow},
		{"resource wildcard", "[resource] wildcards in the resource", `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`, "s3:GetObject", "arn:aws:s3:::b/a/b", Allow},
		{"resource other bucket", "[resource]", `{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`, "s3:GetObject", "arn:aws:s3:::c/a", ImplicitDeny},
		{"resource case-sensitive", "[resource] ARNs are case-sensitive", `{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::123456789012:role/CI"}`, "iam:GetRole", "arn:aws:iam::123456789012:role/ci", ImplicitDeny},
		{"resource segment-wise", "[resource] wildcards stay within an ARN segment", `{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*:role/x"}`, "iam:GetRole", "arn:aws:iam::123456789012:role/x", Allow},
		{"NotResource", "[resource] NotResource matches every other resource", `{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}`, "s3:GetObject", "arn:aws:s3:::secret/k", ImplicitDeny},
		{"resource variable", "[vars] variables in Resource", `{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::${aws:PrincipalAccount}:role/x"}`, "iam:GetRole", "arn:aws:iam::123456789012:role/x", Allow},
		{"deny wins", "[eval] an explicit deny overrides any allow", `[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"s3:Delete*","Resource":"*"}]`, "s3:DeleteObject", "arn:aws:s3:::b/k", ExplicitDeny},
		{"deny not matching", "[eval] a deny that does not match has no effect", `[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"s3:Delete*","Resource":"*"}]`, "s3:GetObject", "arn:aws:s3:::b/k", Allow},
		{"implicit deny", "[eval] default deny", `{"Effect":"Deny","Action":"s3:Delete*","Resource":"*"}`, "s3:GetObject", "arn:aws:s3:::b/k", ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, `{"Version":"2012-10-17","Statement":`+tt.stmts+`}`, Identity)
			ctx := NewContext()
			ctx.Set("aws:PrincipalAccount", acct)
			r := &Request{Action: tt.action, Resource: tt.resource, Context: ctx}
			if got := p.Evaluate(r); got != tt.want {
				t.Errorf("%s: got %v, want %v", tt.rule, got, tt.want)
			}
		})
	}
}

func TestNotPrincipal(t *testing.T) {
	// [principal] NotPrincipal: every principal except those listed.
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},{"Effect":"Deny","NotPrincipal":{"AWS":"`+roleARN+`"},"Action":"sts:AssumeRole"}]}`, Trust)
	tests := []struct {
		name   string
		caller Principal
		want   Decision
	}{
		{"listed principal escapes the deny", awsCaller(session, acct, roleARN), Allow},
		{"anyone else is denied", awsCaller("arn:aws:iam::123456789012:user/bob", acct, ""), ExplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Evaluate(&Request{Principal: tt.caller, Action: "sts:AssumeRole", Resource: roleARN}); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestContextReuse(t *testing.T) {
	c := NewContext()
	c.Set("a:b", "1")
	c.Set("A:B", "2", "3")
	if v, ok := c.Get("a:B"); !ok || len(v) != 2 || v[0] != "2" {
		t.Fatalf("Get after replace = %v, %v", v, ok)
	}
	c.Set("x:empty")
	if _, ok := c.Get("x:empty"); ok {
		t.Error("a key without values must count as absent")
	}
	c.Reset()
	if _, ok := c.Get("a:b"); ok {
		t.Error("Reset kept a key")
	}
	if got := len(c.Keys()); got != 0 {
		t.Errorf("Keys after Reset = %d", got)
	}
	var nilCtx *Context
	if _, ok := nilCtx.Get("a:b"); ok {
		t.Error("nil context has keys")
	}
}

func TestEvaluateAllocations(t *testing.T) {
	p := mustParse(t, seedTrust, Trust)
	r := seedRequest("org/ORG/project/PROJ/user/U")
	ctx := r.Context
	allocs := testing.AllocsPerRun(100, func() {
		ctx.Reset()
		ctx.Set(seedKey, "org/ORG/project/PROJ/user/U")
		ctx.Set("aws:SourceIp", "10.0.0.1")
		if p.Evaluate(r) != Allow {
			t.Fatal("denied")
		}
	})
	if allocs != 0 {
		t.Errorf("reset+set+evaluate allocates %v times per run, want 0", allocs)
	}
}

// TestConcurrentEvaluate: a parsed Policy is shared by every request; run
// with -race.
func TestConcurrentEvaluate(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"sts:*","Condition":{"StringLike":{"k:a":"home/${aws:username}/*"}}}}`, Trust)
	shared := NewContext()
	shared.Set("aws:username", "alice")
	shared.Set("k:a", "home/alice/x")
	type result struct {
		private bool
		d       Decision
	}
	done := make(chan result)
	for i := range 8 {
		go func() {
			c, private := shared, i%2 == 0
			if private {
				c = NewContext()
				c.Set("aws:username", "bob")
				c.Set("k:a", "home/alice/x")
			}
			var d Decision
			for range 200 {
				d = p.Evaluate(&Request{Principal: Principal{Type: PrincipalAWS, ID: roleARN}, Action: "sts:AssumeRole", Context: c})
			}
			done <- result{private, d}
		}()
	}
	for range 8 {
		r := <-done
		want := Allow // alice reads her home
		if r.private {
			want = ImplicitDeny // bob does not
		}
		if r.d != want {
			t.Errorf("private=%v: got %v, want %v", r.private, r.d, want)
		}
	}
}
