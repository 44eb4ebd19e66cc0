package audit

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keylessci/keyless/internal/policy"
)

const (
	tAcct    = "111122223333"
	tRoleARN = "arn:aws:iam::111122223333:role/deploy"
	circleO  = "6d3f1a2e-0000-4000-8000-000000000001"
	circleP1 = "aaaaaaaa-0000-4000-8000-00000000000a"
	circleP2 = "aaaaaaaa-0000-4000-8000-00000000000b"
	circleP3 = "aaaaaaaa-0000-4000-8000-00000000000c"
)

func tProvider(url string) string { return "arn:aws:iam::" + tAcct + ":oidc-provider/" + url }

// tTrust is a trust policy with one web-identity statement per provider
// URL, each with cond (a Condition block, JSON) for that URL.
func tTrust(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

func tStmt(url, cond string) string {
	return fmt.Sprintf(`{"Effect":"Allow","Principal":{"Federated":%q},"Action":"sts:AssumeRoleWithWebIdentity","Condition":%s}`,
		tProvider(url), cond)
}

func tObs(url, aud, sub string) Observation {
	return Observation{ProviderARN: tProvider(url), Claims: map[string]any{"iss": "https://" + url, "aud": aud, "sub": sub}}
}

func circleSub(project, user string) string {
	return "org/" + circleO + "/project/" + project + "/user/" + user
}

func TestTighten(t *testing.T) {
	circle := "oidc.circleci.com/org/" + circleO
	gh := "token.actions.githubusercontent.com"
	gl := "gitlab.com"
	tests := []struct {
		name     string
		trust    string
		obs      []Observation
		want     map[int][]string // statement → subject values of the proposal
		wantOp   string           // the operator of the first restricted statement
		removed  []int
		kept     []int
		admitted []Observation // must still be admitted (beside obs)
		denied   []Observation // admitted today, denied by the proposal
		// exactToday: today's policy already lists exact subjects, so no
		// neighbour of an observed one is admitted today either.
		exactToday bool
	}{
		{
			name:  "CircleCI org-wide: users of a project collapse, a lone user stays exact",
			trust: tTrust(tStmt(circle, `{"StringEquals":{"`+circle+`:aud":"`+circleO+`"},"StringLike":{"`+circle+`:sub":"org/`+circleO+`/*"}}`)),
			obs: []Observation{tObs(circle, circleO, circleSub(circleP1, "u1")), tObs(circle, circleO, circleSub(circleP1, "u2")),
				tObs(circle, circleO, circleSub(circleP2, "u3")), tObs(circle, circleO, circleSub(circleP2, "u3"))},
			want:     map[int][]string{0: {circleSub(circleP1, "*"), circleSub(circleP2, "u3")}},
			wantOp:   "StringLike",
			admitted: []Observation{tObs(circle, circleO, circleSub(circleP1, "u9"))},
			denied:   []Observation{tObs(circle, circleO, circleSub(circleP3, "u1")), tObs(circle, circleO, circleSub(circleP2, "u4"))},
		},
		{
			name: "CircleCI exact list today: no pattern widens it",
			trust: tTrust(tStmt(circle, `{"StringEquals":{"`+circle+`:aud":"`+circleO+`","`+circle+`:sub":["`+
				circleSub(circleP1, "u1")+`","`+circleSub(circleP1, "u2")+`","`+circleSub(circleP2, "u3")+`"]}}`)),
			obs:        []Observation{tObs(circle, circleO, circleSub(circleP1, "u1")), tObs(circle, circleO, circleSub(circleP1, "u2"))},
			want:       map[int][]string{0: {circleSub(circleP1, "u1"), circleSub(circleP1, "u2")}},
			wantOp:     "StringEquals",
			denied:     []Observation{tObs(circle, circleO, circleSub(circleP2, "u3"))},
			exactToday: true,
		},
		{
			name:  "GitHub org-wide: exact subjects, other repos and branches denied",
			trust: tTrust(tStmt(gh, `{"StringEquals":{"`+gh+`:aud":"sts.amazonaws.com"},"StringLike":{"`+gh+`:sub":"repo:acme/*"}}`)),
			obs: []Observation{tObs(gh, "sts.amazonaws.com", "repo:acme/app:ref:refs/heads/main"),
				tObs(gh, "sts.amazonaws.com", "repo:acme/app:environment:prod")},
			want:   map[int][]string{0: {"repo:acme/app:environment:prod", "repo:acme/app:ref:refs/heads/main"}},
			wantOp: "StringEquals",
			denied: []Observation{tObs(gh, "sts.amazonaws.com", "repo:acme/other:ref:refs/heads/main"),
				tObs(gh, "sts.amazonaws.com", "repo:acme/app:ref:refs/heads/feature")},
		},
		{
			name: "a negated sub condition stays, an IfExists one is replaced",
			trust: tTrust(tStmt(gh, `{"StringEquals":{"`+gh+`:aud":"sts.amazonaws.com"},"StringLikeIfExists":{"`+gh+`:sub":"repo:acme/*"},`+
				`"StringNotLike":{"`+gh+`:sub":"repo:acme/app:pull_request"}}`)),
			obs:    []Observation{tObs(gh, "sts.amazonaws.com", "repo:acme/app:ref:refs/heads/main")},
			want:   map[int][]string{0: {"repo:acme/app:ref:refs/heads/main"}},
			wantOp: "StringNotLike",
			denied: []Observation{tObs(gh, "sts.amazonaws.com", "repo:acme/lib:ref:refs/heads/main")},
		},
		{
			name: "GitLab group-wide, and a statement nothing used is removed, a role principal and a Deny kept",
			trust: tTrust(tStmt(gl, `{"StringEquals":{"`+gl+`:aud":"https://gitlab.com"},"StringLike":{"`+gl+`:sub":"project_path:grp/*"}}`),
				tStmt(gh, `{"StringEquals":{"`+gh+`:aud":"sts.amazonaws.com","`+gh+`:sub":"repo:acme/app:ref:refs/heads/main"}}`),
				`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+tAcct+`:root"},"Action":"sts:AssumeRole"}`,
				`{"Effect":"Deny","Principal":{"Federated":"`+tProvider(gl)+`"},"Action":"sts:AssumeRoleWithWebIdentity",`+
					`"Condition":{"StringLike":{"`+gl+`:sub":"project_path:grp/secret:*"}}}`),
			obs:     []Observation{tObs(gl, "https://gitlab.com", "project_path:grp/app:ref_type:branch:ref:main")},
			want:    map[int][]string{0: {"project_path:grp/app:ref_type:branch:ref:main"}},
			wantOp:  "StringEquals",
			removed: []int{1},
			kept:    []int{2, 3},
			denied: []Observation{tObs(gl, "https://gitlab.com", "project_path:grp/other:ref_type:branch:ref:main"),
				tObs(gh, "sts.amazonaws.com", "repo:acme/app:ref:refs/heads/main")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Tighten(Role{Name: "deploy", ARN: tRoleARN, TrustPolicy: tt.trust}, tt.obs)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Changed || got.Proposed == got.Current {
				t.Fatalf("nothing changed:\n%s", got.Proposed)
			}
			restricted, removed, kept := map[int][]string{}, []int{}, []int{}
			for _, s := range got.Statements {
				switch s.Change {
				case ChangeRestricted:
					restricted[s.Statement] = s.Subjects
				case ChangeRemoved:
					removed = append(removed, s.Statement)
				case ChangeKept:
					kept = append(kept, s.Statement)
				}
			}
			if fmt.Sprint(restricted) != fmt.Sprint(tt.want) {
				t.Errorf("restricted %v, want %v", restricted, tt.want)
			}
			if fmt.Sprint(removed) != fmt.Sprint(append([]int{}, tt.removed...)) || fmt.Sprint(kept) != fmt.Sprint(append([]int{}, tt.kept...)) {
				t.Errorf("removed %v kept %v, want %v %v", removed, kept, tt.removed, tt.kept)
			}
			if !strings.Contains(got.Proposed, `"`+tt.wantOp+`"`) {
				t.Errorf("proposal has no %s:\n%s", tt.wantOp, got.Proposed)
			}
			cur, _ := policy.Parse(tt.trust, policy.Trust)
			next, err := policy.Parse(got.Proposed, policy.Trust)
			if err != nil {
				t.Fatalf("proposal does not parse: %v\n%s", err, got.Proposed)
			}
			for _, o := range append(append([]Observation{}, tt.obs...), tt.admitted...) {
				if next.Evaluate(observedRequest(tRoleARN, o)) != policy.Allow {
					t.Errorf("proposal denies %v", o.Claims["sub"])
				}
			}
			for _, o := range tt.denied {
				if cur.Evaluate(observedRequest(tRoleARN, o)) != policy.Allow {
					t.Fatalf("test bug: today's policy denies %v", o.Claims["sub"])
				}
				if next.Evaluate(observedRequest(tRoleARN, o)) == policy.Allow {
					t.Errorf("proposal still admits %v", o.Claims["sub"])
				}
			}
			if got.Checked == 0 || (got.Narrowed == 0) != tt.exactToday {
				t.Errorf("verification narrowed %d of %d neighbours", got.Narrowed, got.Checked)
			}
			if len(got.After) != 0 {
				t.Errorf("audit findings on the proposal: %+v", got.After)
			}
		})
	}
}

func TestTightenRefuses(t *testing.T) {
	circle := "oidc.circleci.com/org/" + circleO
	trust := tTrust(tStmt(circle, `{"StringLike":{"`+circle+`:sub":"org/`+circleO+`/*"}}`))
	role := Role{Name: "deploy", ARN: tRoleARN, TrustPolicy: trust}
	t.Run("nothing observed", func(t *testing.T) {
		if _, err := Tighten(role, nil); !errors.Is(err, ErrNothingObserved) {
			t.Fatalf("err %v, want ErrNothingObserved", err)
		}
	})
	t.Run("observations today's policy denies are left out", func(t *testing.T) {
		got, err := Tighten(role, []Observation{tObs(circle, circleO, "org/other/project/p/user/u"), tObs(circle, circleO, circleSub(circleP1, "u1"))})
		if err != nil {
			t.Fatal(err)
		}
		if got.Observed != 1 || len(got.Unreproduced) != 1 {
			t.Errorf("observed %d, unreproduced %v", got.Observed, got.Unreproduced)
		}
	})
	// A proposal that widens (or loses an observed identity) is refused by
	// the verification, whatever built it.
	obs := []Observation{tObs(circle, circleO, circleSub(circleP1, "u1"))}
	cur, _ := policy.Parse(trust, policy.Trust)
	for _, tc := range []struct{ name, proposal, want string }{
		{"widened to every org", tTrust(tStmt(circle, `{"StringLike":{"`+circle+`:sub":"org/*"}}`)), "which today's policy denies"},
		{"an observed identity lost", tTrust(tStmt(circle, `{"StringEquals":{"`+circle+`:sub":"`+circleSub(circleP2, "u1")+`"}}`)), "would deny an observed identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, err := policy.Parse(tc.proposal, policy.Trust)
			if err != nil {
				t.Fatal(err)
			}
			var got Tightened
			if err := verify(tRoleARN, cur, next, obs, &got); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("verify = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("a wildcard principal is left as it is", func(t *testing.T) {
		star := tTrust(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"` +
			circle + `:sub":"org/` + circleO + `/*"}}}`)
		got, err := Tighten(Role{Name: "deploy", ARN: tRoleARN, TrustPolicy: star}, obs)
		if err != nil {
			t.Fatal(err)
		}
		if got.Changed || len(got.Statements) != 1 || got.Statements[0].Change != ChangeKept {
			t.Errorf("changed %v, statements %+v", got.Changed, got.Statements)
		}
	})
	t.Run("already narrow", func(t *testing.T) {
		exact := tTrust(tStmt(circle, `{"StringEquals":{"`+circle+`:sub":"`+circleSub(circleP1, "u1")+`"}}`))
		got, err := Tighten(Role{Name: "deploy", ARN: tRoleARN, TrustPolicy: exact}, obs)
		if err != nil {
			t.Fatal(err)
		}
		if got.Changed {
			t.Errorf("an exact policy changed:\n%s\n→\n%s", got.Current, got.Proposed)
		}
	})
}

// TestCircleCISubjects: v2 subjects carry a VCS origin and ref with slashes
// of their own (as ciclaims builds them and CircleCI sends them).
func TestCircleCISubjects(t *testing.T) {
	o, p := circleO, circleP1
	tests := []struct {
		name, sub, origin string
		ok                bool
	}{
		{"v1", "org/" + o + "/project/" + p + "/user/u", "", true},
		{"v2", "org/" + o + "/project/" + p + "/user/u/vcs-origin/github.com/acme/app/vcs-ref/refs/heads/main", "github.com/acme/app", true},
		{"v2 without a ref", "org/" + o + "/project/" + p + "/user/u/vcs-origin/github.com/acme/app", "", false},
		{"v2 with an empty ref", "org/" + o + "/project/" + p + "/user/u/vcs-origin/github.com/acme/app/vcs-ref", "", false},
		{"v2 with an empty origin", "org/" + o + "/project/" + p + "/user/u/vcs-origin/vcs-ref/refs/heads/main", "", false},
		{"a pattern", "org/" + o + "/project/" + p + "/user/*", "", false},
		{"not CircleCI", "repo:acme/app:ref:refs/heads/main", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := circleci.parse(tt.sub)
			if ok != tt.ok || (ok && (id.Owner != o || id.Repo != p || id.Env != tt.origin)) {
				t.Errorf("parse(%q) = %+v, %v; want ok %v, origin %q", tt.sub, id, ok, tt.ok, tt.origin)
			}
		})
	}
}
