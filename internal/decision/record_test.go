package decision

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keylessci/keyless/internal/policy"
)

func TestRecordRoundTripsThroughTheStore(t *testing.T) {
	r := Record{
		ID: "0123456789abcdef0123", Time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), RequestID: "req",
		SourceIP: "127.0.0.1", UserAgent: "ua", Action: "sts:AssumeRoleWithWebIdentity",
		RoleARN: "arn:aws:iam::123456789012:role/ci/deploy", Provider: "arn:aws:iam::123456789012:oidc-provider/x",
		Subject: "<script>alert(1)</script>", Decision: Deny, ErrorCode: "AccessDenied", Reason: "trust policy",
		ClosestMiss: "m", Fix: "f", Latency: 1500 * time.Microsecond,
		Claims: map[string]any{"sub": "<script>alert(1)</script>", "iat": json.Number("1700000000123")},
		Trace: &policy.Trace{Decision: policy.ImplicitDeny, Deciding: "no statement allowed",
			Policies: []policy.PolicyTrace{{Name: "trust policy", Statements: []policy.StatementTrace{{Index: 1, Effect: "Allow",
				Conditions: []policy.ConditionTrace{{Operator: "StringEquals", Key: "x:sub", PolicyValues: []string{"a"}, RequestValues: []string{"b"}}}}}}}},
	}
	d, err := r.toStore()
	if err != nil {
		t.Fatal(err)
	}
	if d.RoleName != "deploy" {
		t.Errorf("role name %q", d.RoleName)
	}
	if !strings.Contains(string(d.Claims), `"<script>alert(1)</script>"`) && !strings.Contains(string(d.Claims), `\u003cscript\u003e`) {
		t.Errorf("claims %s", d.Claims)
	}
	got, err := FromStore(d)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got, cmp.AllowUnexported(policy.StatementTrace{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// And through the API's JSON.
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, back, cmp.AllowUnexported(policy.StatementTrace{})); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

func TestCursor(t *testing.T) {
	r := Record{ID: "abc", Time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}
	k, err := ParseCursor(Cursor(r))
	if err != nil || k.ID != "abc" || !k.Time.Equal(r.Time) {
		t.Errorf("ParseCursor(Cursor) = %+v, %v", k, err)
	}
	for _, bad := range []string{"", "!!", "bm9kb3Q", "eC5hYmM"} { // "nodot", "x.abc"
		t.Run(bad, func(t *testing.T) {
			if _, err := ParseCursor(bad); err == nil {
				t.Errorf("ParseCursor(%q) accepted", bad)
			}
		})
	}
}

func TestIDGen(t *testing.T) {
	g := newIDGen()
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		name string
		at   time.Time
		n    int
	}{
		{"several in one millisecond", t0, 3},
		{"a later millisecond", t0.Add(5 * time.Millisecond), 1},
		{"the clock going back", t0.Add(-time.Second), 2},
		{"a full millisecond borrows the next", t0.Add(5 * time.Millisecond), 0x10000},
	}
	last := ""
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			for range s.n {
				id := g.next(s.at)
				if len(id) != 20 || strings.Trim(id, "0123456789abcdef") != "" {
					t.Fatalf("id %q is not 20 lowercase hex characters", id)
				}
				if id <= last {
					t.Fatalf("id %q does not sort after %q", id, last)
				}
				last = id
			}
		})
	}
	if other := newIDGen(); other.node == g.node {
		t.Log("two generators drew the same node (1 in 2^20): ids still differ by sequence only within a process")
	}
}
