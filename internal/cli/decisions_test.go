package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/keylessci/keyless/internal/decision"
)

// fakeLog serves GET /_keyless/decisions from memory: newest first, the
// since filter applied, in pages of the asked limit.
type fakeLog struct {
	mu   sync.Mutex
	recs []decision.Record
}

func (f *fakeLog) add(id string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = append(f.recs, decision.Record{ID: id, Time: at, Decision: decision.Deny})
}

func (f *fakeLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	since, _ := decision.ParseTime(q.Get("since"), time.Now())
	var limit int
	fmt.Sscan(q.Get("limit"), &limit)
	var after *decision.Record
	if c := q.Get("cursor"); c != "" {
		k, err := decision.ParseCursor(c)
		if err != nil {
			http.Error(w, "bad cursor", http.StatusBadRequest)
			return
		}
		after = &decision.Record{ID: k.ID, Time: k.Time}
	}
	all := slices.Clone(f.recs)
	slices.SortFunc(all, func(a, b decision.Record) int {
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	out := decisionList{Decisions: []decision.Record{}}
	for _, d := range all {
		if d.Time.Before(since) {
			continue
		}
		if after != nil && (d.Time.After(after.Time) || (d.Time.Equal(after.Time) && d.ID >= after.ID)) {
			continue
		}
		if len(out.Decisions) == limit {
			out.NextCursor = decision.Cursor(out.Decisions[limit-1])
			break
		}
		out.Decisions = append(out.Decisions, d)
	}
	_ = json.NewEncoder(w).Encode(out)
}

func newTailer(t *testing.T, f *fakeLog, filter decisionFilter, count int) *tailer {
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := &adminClient{endpoint: srv.URL, region: "us-east-1", http: srv.Client(),
		creds: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
	return &tailer{c: c, f: &filter, seen: map[string]time.Time{}, left: count}
}

func ids(rs []decision.Record) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.ID)
	}
	return strings.Join(s, ",")
}

func TestTailer(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-time.Hour)
	poll := func(t *testing.T, tl *tailer, first bool, want string) {
		t.Helper()
		got, err := tl.poll(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		if ids(got) != want {
			t.Errorf("poll printed [%s], want [%s]", ids(got), want)
		}
	}
	t.Run("empty log, then new and late decisions, each once", func(t *testing.T) {
		f := &fakeLog{}
		tl := newTailer(t, f, decisionFilter{}, 0)
		poll(t, tl, true, "")
		f.add("b", t0.Add(100*time.Second))
		poll(t, tl, false, "b")
		// A replica's batch arrives late with an older decision.
		f.add("a", t0.Add(50*time.Second))
		f.add("c", t0.Add(101*time.Second))
		poll(t, tl, false, "a,c")
		poll(t, tl, false, "")
	})
	t.Run("the last ten first, oldest first, the rest never", func(t *testing.T) {
		f := &fakeLog{}
		for i := range 15 {
			f.add(fmt.Sprintf("d%02d", i), t0.Add(time.Duration(i)*time.Second))
		}
		tl := newTailer(t, f, decisionFilter{}, 0)
		poll(t, tl, true, "d05,d06,d07,d08,d09,d10,d11,d12,d13,d14")
		poll(t, tl, false, "")
		f.add("d15", t0.Add(15*time.Second))
		poll(t, tl, false, "d15")
	})
	t.Run("since prints everything since, across pages", func(t *testing.T) {
		f := &fakeLog{}
		for i := range 1200 {
			f.add(fmt.Sprintf("e%04d", i), t0.Add(time.Duration(i)*time.Millisecond))
		}
		tl := newTailer(t, f, decisionFilter{since: "2h"}, 0)
		got, err := tl.poll(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1200 || got[0].ID != "e0000" || got[1199].ID != "e1199" {
			t.Errorf("printed %d, first %s", len(got), got[0].ID)
		}
	})
	t.Run("count stops", func(t *testing.T) {
		f := &fakeLog{}
		f.add("x", t0)
		f.add("y", t0.Add(time.Second))
		f.add("z", t0.Add(2*time.Second))
		tl := newTailer(t, f, decisionFilter{since: "2h"}, 2)
		poll(t, tl, true, "x,y")
		if !tl.done() {
			t.Error("not done after --count decisions")
		}
	})
}

func TestPrintable(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "org/a/project/b", "org/a/project/b"},
		{"html stays text", "<script>alert(1)</script>", "<script>alert(1)</script>"},
		{"terminal escape", "a\x1b[31mred", `a\x1b[31mred`},
		{"newline", "a\nb", `a\nb`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := printable(tc.in); got != tc.want {
				t.Errorf("printable(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
