package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// decisionAt is a complete decision (every column set) at base+offset.
func decisionAt(id string, offset time.Duration) store.Decision {
	return store.Decision{
		ID:          id,
		Time:        base.Add(offset).UTC(),
		RequestID:   "req-" + id,
		SourceIP:    "192.0.2.7",
		UserAgent:   "aws-cli/1.0",
		Action:      "sts:AssumeRoleWithWebIdentity",
		RoleARN:     "arn:aws:iam::000000000000:role/ci/deploy",
		RoleName:    "deploy",
		Provider:    "arn:aws:iam::000000000000:oidc-provider/oidc.example.com",
		Subject:     "repo:acme/app:ref:refs/heads/main",
		Principal:   "",
		Decision:    "deny",
		ErrorCode:   "AccessDenied",
		Reason:      "trust policy",
		ClosestMiss: `sub is "x", the policy expects "y"`,
		Fix:         "widen the condition",
		Latency:     1234 * time.Microsecond,
		Claims:      []byte(`{"sub":"<script>alert(1)</script>","n":1}`),
		Trace:       []byte(`{"decision":"implicitDeny"}`),
	}
}

func ids(ds []store.Decision) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// pagedIDs lists the whole log limit decisions at a time, each page after
// the previous page's last, and returns the ids in the order read.
func pagedIDs(t *testing.T, s store.Store, limit int) []string {
	t.Helper()
	var got []string
	f := store.DecisionFilter{Limit: limit}
	for range 100 {
		page, err := s.ListDecisions(ctx(t), f)
		must(t, err)
		got = append(got, ids(page)...)
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		f.After = &store.DecisionKey{Time: last.Time, ID: last.ID}
	}
	return got
}

var decisionTests = map[string]func(t *testing.T, s store.Store){
	"RoundTrip": func(t *testing.T, s store.Store) {
		d := decisionAt("d1", 0)
		bare := store.Decision{ID: "d2", Time: base.Add(time.Second), Decision: "allow"}
		must(t, s.InsertDecisions(ctx(t), []store.Decision{d, bare}))
		got, err := s.GetDecision(ctx(t), "d1")
		must(t, err)
		utc(t, "GetDecision", got.Time)
		diff(t, "GetDecision", d, got)
		got, err = s.GetDecision(ctx(t), "d2")
		must(t, err)
		if got.Claims != nil || got.Trace != nil {
			t.Errorf("absent claims/trace read back as %q/%q, want nil", got.Claims, got.Trace)
		}
		_, err = s.GetDecision(ctx(t), "nope")
		wantErr(t, "GetDecision missing", err, store.ErrNotFound)
	},
	"DuplicateIDSkipped": func(t *testing.T, s store.Store) {
		d := decisionAt("d1", 0)
		must(t, s.InsertDecisions(ctx(t), []store.Decision{d}))
		changed := d
		changed.Decision = "allow"
		must(t, s.InsertDecisions(ctx(t), []store.Decision{changed, decisionAt("d2", time.Second)}))
		got, err := s.ListDecisions(ctx(t), store.DecisionFilter{})
		must(t, err)
		diff(t, "ids", []string{"d2", "d1"}, ids(got))
		if got[1].Decision != "deny" {
			t.Errorf("a retried insert replaced the stored decision: %q", got[1].Decision)
		}
	},
	"LargeBatch": func(t *testing.T, s store.Store) {
		// A writer's batch (up to 256) with an id repeated inside it and
		// one already stored: every distinct decision lands once, whole.
		must(t, s.InsertDecisions(ctx(t), []store.Decision{decisionAt("d000", 0)}))
		var batch []store.Decision
		for i := range 300 {
			d := decisionAt(fmt.Sprintf("d%03d", i), time.Duration(i)*time.Millisecond)
			d.Subject = fmt.Sprintf("sub-%d", i)
			batch = append(batch, d)
		}
		batch = append(batch, decisionAt("d150", 0))
		must(t, s.InsertDecisions(ctx(t), batch))
		got, err := s.ListDecisions(ctx(t), store.DecisionFilter{Limit: 1000})
		must(t, err)
		if len(got) != 300 {
			t.Fatalf("%d decisions stored, want 300", len(got))
		}
		for _, d := range got {
			var i int
			if _, err := fmt.Sscanf(d.ID, "d%03d", &i); err != nil || (i > 0 && d.Subject != fmt.Sprintf("sub-%d", i)) {
				t.Errorf("decision %s has subject %q", d.ID, d.Subject)
			}
		}
	},
	"DoesNotRaiseVersion": func(t *testing.T, s store.Store) {
		v0, err := s.Version(ctx(t))
		must(t, err)
		must(t, s.InsertDecisions(ctx(t), []store.Decision{decisionAt("d1", 0)}))
		_, err = s.PruneDecisions(ctx(t), base.Add(time.Hour), 0)
		must(t, err)
		v1, err := s.Version(ctx(t))
		must(t, err)
		if v1 != v0 {
			t.Errorf("Version %d after decision writes, was %d", v1, v0)
		}
	},
	"Filters": func(t *testing.T, s store.Store) {
		a := decisionAt("a", 0)
		b := decisionAt("b", time.Minute)
		b.Decision, b.ErrorCode, b.Subject = "allow", "", "repo:acme/other:ref:refs/heads/main"
		c := decisionAt("c", 2*time.Minute)
		c.RoleARN, c.RoleName, c.Provider = "arn:aws:iam::000000000000:role/other", "other", "arn:aws:iam::000000000000:oidc-provider/other"
		must(t, s.InsertDecisions(ctx(t), []store.Decision{a, b, c}))
		tests := []struct {
			name string
			f    store.DecisionFilter
			want []string
		}{
			{"all newest first", store.DecisionFilter{}, []string{"c", "b", "a"}},
			{"role arn", store.DecisionFilter{RoleARN: a.RoleARN}, []string{"b", "a"}},
			{"role name", store.DecisionFilter{RoleName: "other"}, []string{"c"}},
			{"provider", store.DecisionFilter{Provider: c.Provider}, []string{"c"}},
			{"decision", store.DecisionFilter{Decision: "allow"}, []string{"b"}},
			{"subject", store.DecisionFilter{Subject: a.Subject}, []string{"c", "a"}},
			{"since inclusive", store.DecisionFilter{Since: b.Time}, []string{"c", "b"}},
			{"until exclusive", store.DecisionFilter{Until: b.Time}, []string{"a"}},
			{"combined", store.DecisionFilter{Decision: "deny", RoleName: "deploy"}, []string{"a"}},
			{"limit", store.DecisionFilter{Limit: 2}, []string{"c", "b"}},
			{"nothing", store.DecisionFilter{Subject: "nobody"}, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ListDecisions(ctx(t), tc.f)
				must(t, err)
				diff(t, "ids", tc.want, ids(got))
			})
		}
	},
	"FiltersOnManyDistinctValues": func(t *testing.T, s store.Store) {
		// One insert of 100 decisions, each of another role and subject
		// (more than a store may index per batch), then one of "deploy".
		var many []store.Decision
		for i := range 100 {
			d := decisionAt(fmt.Sprintf("m%03d", i), time.Duration(i)*time.Millisecond)
			d.RoleName = fmt.Sprintf("role-%02d", i)
			d.RoleARN = "arn:aws:iam::000000000000:role/" + d.RoleName
			d.Subject = fmt.Sprintf("repo:acme/app-%02d:ref:refs/heads/main", i)
			if i%10 == 0 {
				d.Decision, d.ErrorCode = "allow", ""
			}
			many = append(many, d)
		}
		must(t, s.InsertDecisions(ctx(t), many))
		must(t, s.InsertDecisions(ctx(t), []store.Decision{decisionAt("z", time.Second)}))
		tests := []struct {
			name string
			f    store.DecisionFilter
			want []string
		}{
			{"role name among many", store.DecisionFilter{RoleName: "role-42"}, []string{"m042"}},
			{"role arn among many", store.DecisionFilter{RoleARN: "arn:aws:iam::000000000000:role/role-07"}, []string{"m007"}},
			{"subject among many", store.DecisionFilter{Subject: "repo:acme/app-99:ref:refs/heads/main"}, []string{"m099"}},
			{"role of the other batch only", store.DecisionFilter{RoleName: "deploy"}, []string{"z"}},
			{"combined", store.DecisionFilter{RoleName: "role-30", Decision: "allow"}, []string{"m030"}},
			{"combined, no match", store.DecisionFilter{RoleName: "role-31", Decision: "allow"}, nil},
			{"absent role", store.DecisionFilter{RoleName: "role-100"}, nil},
			{"empty value is no filter", store.DecisionFilter{RoleName: "", Limit: 3}, []string{"z", "m099", "m098"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ListDecisions(ctx(t), tc.f)
				must(t, err)
				diff(t, "ids", tc.want, ids(got))
			})
		}
	},
	"KeysetPagination": func(t *testing.T, s store.Store) {
		// Ties on time are ordered by id, and no page repeats or skips one.
		var all []store.Decision
		for i := range 7 {
			all = append(all, decisionAt(fmt.Sprintf("d%02d", i), time.Duration(i/3)*time.Second))
		}
		must(t, s.InsertDecisions(ctx(t), all))
		got := pagedIDs(t, s, 3)
		diff(t, "pages", []string{"d06", "d05", "d04", "d03", "d02", "d01", "d00"}, got)
	},
	"PruneByAgeAndCap": func(t *testing.T, s store.Store) {
		var all []store.Decision
		for i := range 6 {
			all = append(all, decisionAt(fmt.Sprintf("d%d", i), time.Duration(i)*time.Hour))
		}
		must(t, s.InsertDecisions(ctx(t), all))
		n, err := s.PruneDecisions(ctx(t), base.Add(2*time.Hour), 0)
		must(t, err)
		if n != 2 {
			t.Errorf("pruned %d by age, want 2", n)
		}
		n, err = s.PruneDecisions(ctx(t), time.Time{}, 3)
		must(t, err)
		if n != 1 {
			t.Errorf("pruned %d by cap, want 1", n)
		}
		got, err := s.ListDecisions(ctx(t), store.DecisionFilter{})
		must(t, err)
		diff(t, "kept", []string{"d5", "d4", "d3"}, ids(got))
		n, err = s.PruneDecisions(ctx(t), time.Time{}, 3)
		must(t, err)
		if n != 0 {
			t.Errorf("pruned %d at the cap, want 0", n)
		}
	},
	"InterleavedInserts": func(t *testing.T, s store.Store) {
		// Two writers (replicas) whose inserts overlap in time and whose
		// ids are not in time order: every read still sees one log in
		// (time, id) order, and pruning counts across both.
		var a, b []store.Decision
		for i := range 8 {
			d := decisionAt(fmt.Sprintf("%c%d", "zm"[i%2], i), time.Duration(i)*time.Second)
			if i%2 == 0 {
				a = append(a, d)
			} else {
				b = append(b, d)
			}
		}
		must(t, s.InsertDecisions(ctx(t), a))
		must(t, s.InsertDecisions(ctx(t), b))
		got := pagedIDs(t, s, 3)
		diff(t, "pages", []string{"m7", "z6", "m5", "z4", "m3", "z2", "m1", "z0"}, got)
		for _, d := range append(a, b...) {
			g, err := s.GetDecision(ctx(t), d.ID)
			must(t, err)
			diff(t, "GetDecision "+d.ID, d, g)
		}
		_, err := s.GetDecision(ctx(t), "n")
		wantErr(t, "GetDecision between ranges", err, store.ErrNotFound)
		page, err := s.ListDecisions(ctx(t), store.DecisionFilter{Since: base.Add(3 * time.Second), Until: base.Add(6 * time.Second)})
		must(t, err)
		diff(t, "since/until across inserts", []string{"m5", "z4", "m3"}, ids(page))
		n, err := s.PruneDecisions(ctx(t), base.Add(2*time.Second), 0)
		must(t, err)
		if n != 2 {
			t.Errorf("pruned %d by age, want 2", n)
		}
		n, err = s.PruneDecisions(ctx(t), time.Time{}, 5)
		must(t, err)
		if n != 1 {
			t.Errorf("pruned %d by cap, want 1", n)
		}
		page, err = s.ListDecisions(ctx(t), store.DecisionFilter{})
		must(t, err)
		if len(page) != 5 {
			t.Errorf("%d decisions after the cap of 5: %v", len(page), ids(page))
		}
		if _, err := s.GetDecision(ctx(t), "m1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetDecision m1 after pruning by age: %v", err)
		}
	},
	"EmptyInsert": func(t *testing.T, s store.Store) {
		must(t, s.InsertDecisions(ctx(t), nil))
	},
}
