package decision

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseFilter(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cur := Cursor(Record{ID: "abc", Time: now})
	tests := []struct {
		name    string
		query   string
		check   func(t *testing.T, f filterView)
		wantErr string
	}{
		{name: "empty", query: "", check: func(t *testing.T, f filterView) {
			if f != (filterView{}) {
				t.Errorf("filter = %+v", f)
			}
		}},
		{name: "role by name, provider by URL", query: "role=deploy&provider=https://ci.example.com/org&decision=deny&since=90m&subject=s&limit=5",
			check: func(t *testing.T, f filterView) {
				want := filterView{roleName: "deploy", provider: "arn:aws:iam::123456789012:oidc-provider/ci.example.com/org",
					decision: Deny, since: now.Add(-90 * time.Minute), subject: "s", limit: 5}
				if f != want {
					t.Errorf("filter = %+v, want %+v", f, want)
				}
			}},
		{name: "role by ARN, a cursor", query: "role=arn:aws:iam::123456789012:role/x&cursor=" + cur, check: func(t *testing.T, f filterView) {
			if f.roleARN != "arn:aws:iam::123456789012:role/x" || f.roleName != "" || !f.after {
				t.Errorf("filter = %+v", f)
			}
		}},
		{name: "unknown parameter", query: "sub=x", wantErr: `unknown parameter "sub"`},
		{name: "bad decision", query: "decision=maybe", wantErr: "decision must be allow or deny"},
		{name: "bad since", query: "since=yesterday", wantErr: "since: "},
		{name: "bad until", query: "until=-1h", wantErr: "until: "},
		{name: "limit too large", query: "limit=1001", wantErr: "limit must be"},
		{name: "limit zero", query: "limit=0", wantErr: "limit must be"},
		{name: "forged cursor", query: "cursor=xyz", wantErr: "cursor: not one this server returned"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseFilter(q, "123456789012", now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, filterView{roleName: f.RoleName, roleARN: f.RoleARN, provider: f.Provider, decision: f.Decision,
				since: f.Since, until: f.Until, subject: f.Subject, limit: f.Limit, after: f.After != nil})
		})
	}
}

// filterView is a store.DecisionFilter as a comparable value.
type filterView struct {
	roleName, roleARN, provider, decision, subject string
	since, until                                   time.Time
	limit                                          int
	after                                          bool
}
