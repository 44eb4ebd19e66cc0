package decision

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/store/sqlstore"
)

// fakeStore records each batch; fail makes the next InsertDecisions fail.
type fakeStore struct {
	mu      sync.Mutex
	batches [][]store.Decision
	fail    error
}

func (f *fakeStore) InsertDecisions(_ context.Context, ds []store.Decision) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		err := f.fail
		f.fail = nil
		return err
	}
	f.batches = append(f.batches, append([]store.Decision(nil), ds...))
	return nil
}

func (f *fakeStore) PruneDecisions(context.Context, time.Time, int) (int64, error) { return 0, nil }

func (f *fakeStore) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for _, b := range f.batches {
		out = append(out, len(b))
	}
	return out
}

func (f *fakeStore) total() int {
	n := 0
	for _, s := range f.sizes() {
		n += s
	}
	return n
}

func ctxT(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// run starts l.Run and returns a stop that waits for it to return.
func run(t *testing.T, l *Log) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			stop()
		}
	})
	return stop
}

func rec(i int) Record {
	return Record{Time: time.Unix(int64(i), 0).UTC(), RequestID: fmt.Sprint("r", i), Action: "sts:AssumeRole", Decision: Allow}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no store", Config{}},
		{"negative retention", Config{Store: &fakeStore{}, Retention: -time.Hour}},
		{"negative cap", Config{Store: &fakeStore{}, MaxRows: -1}},
		{"negative queue", Config{Store: &fakeStore{}, QueueSize: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg); err == nil {
				t.Error("New accepted an invalid config")
			}
		})
	}
}

func TestBatchesBySize(t *testing.T) {
	fs := &fakeStore{}
	// A flush interval far beyond the test: only size triggers writes.
	l, err := New(Config{Store: fs, BatchSize: 4, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		l.Record(rec(i))
	}
	run(t, l)
	if err := l.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	got := fs.sizes()
	if fmt.Sprint(got) != "[4 4 2]" {
		t.Errorf("batches %v, want [4 4 2]", got)
	}
	if s := l.Stats(); s.Written != 10 || s.Dropped != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestFlushesByInterval(t *testing.T) {
	fs := &fakeStore{}
	l, err := New(Config{Store: fs, BatchSize: 100, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run(t, l)
	l.Record(rec(1))
	deadline := time.Now().Add(30 * time.Second)
	for fs.total() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a partial batch was never written by the interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFullQueueDropsAndCounts(t *testing.T) {
	fs := &fakeStore{}
	l, err := New(Config{Store: fs, QueueSize: 3, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing drains the queue yet: Record must return at once anyway.
	done := make(chan struct{})
	go func() {
		for i := range 5 {
			l.Record(rec(i))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Record blocked on a full queue")
	}
	if s := l.Stats(); s.Dropped != 2 {
		t.Errorf("dropped %d, want 2", s.Dropped)
	}
	run(t, l)
	if err := l.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n := fs.total(); n != 3 {
		t.Errorf("wrote %d, want the 3 queued", n)
	}
}

func TestShutdownWritesWhatIsQueued(t *testing.T) {
	fs := &fakeStore{}
	l, err := New(Config{Store: fs, BatchSize: 2, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		l.Record(rec(i))
	}
	stop := run(t, l)
	stop()
	if n := fs.total(); n != 5 {
		t.Errorf("after shutdown %d written, want 5", n)
	}
}

func TestFailedBatchIsCountedAndTheLogGoesOn(t *testing.T) {
	fs := &fakeStore{fail: fmt.Errorf("disk full: %w", store.ErrUnavailable)}
	l, err := New(Config{Store: fs, BatchSize: 2, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	run(t, l)
	l.Record(rec(1))
	l.Record(rec(2))
	l.Record(rec(3))
	if err := l.Flush(ctxT(t)); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Flush = %v, want the failed batch's error", err)
	}
	l.Record(rec(4))
	if err := l.Flush(ctxT(t)); err != nil {
		t.Errorf("Flush after recovery: %v", err)
	}
	if s := l.Stats(); s.Failed != 2 || s.Written != 2 {
		t.Errorf("stats %+v, want 2 failed (the first batch) and 2 written", s)
	}
}

func TestWriterFillsIDAndFix(t *testing.T) {
	fs := &fakeStore{}
	l, err := New(Config{Store: fs})
	if err != nil {
		t.Fatal(err)
	}
	run(t, l)
	tr := &policy.Trace{Decision: policy.ImplicitDeny, ClosestMiss: `sub is "a", the policy expects "b"`, ClosestStatement: "trust policy, statement 1"}
	l.Record(Record{Decision: Deny, ErrorCode: "AccessDenied", Reason: "trust policy", Trace: tr, Action: "sts:AssumeRoleWithWebIdentity"})
	l.Record(Record{Decision: Deny, ErrorCode: "InvalidIdentityToken", Reason: "issuer not registered"})
	if err := l.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	b := fs.batches[0]
	if len(b[0].ID) != 20 || b[0].ID == b[1].ID {
		t.Errorf("ids %q %q: want two distinct 20-character ids", b[0].ID, b[1].ID)
	}
	if b[0].ClosestMiss != tr.ClosestMiss || b[0].Fix == "" || b[1].Fix == "" {
		t.Errorf("closest miss %q, fixes %q / %q", b[0].ClosestMiss, b[0].Fix, b[1].Fix)
	}
}

// Retention against a real store with a fake clock: by age, then by cap.
func TestPruneByAgeAndCap(t *testing.T) {
	st, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: filepath.Join(t.TempDir(), "k.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var ds []store.Decision
	for i := range 10 { // one a day, the newest today
		ds = append(ds, store.Decision{ID: fmt.Sprintf("d%d", i), Time: now.Add(-time.Duration(9-i) * 24 * time.Hour), Decision: Allow})
	}
	if err := st.InsertDecisions(ctxT(t), ds); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		retention time.Duration
		maxRows   int
		want      int
	}{
		{"age", 72 * time.Hour, 1000, 4},   // today and the three days before (the third exactly at the limit)
		{"cap", 30 * 24 * time.Hour, 2, 2}, // the two newest of what is left
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New(Config{Store: st, Now: func() time.Time { return now }, Retention: tc.retention, MaxRows: tc.maxRows})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Prune(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			left, err := st.ListDecisions(ctxT(t), store.DecisionFilter{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != tc.want {
				t.Errorf("%d left, want %d", len(left), tc.want)
			}
			if len(left) > 0 && left[0].ID != "d9" {
				t.Errorf("newest left is %s, want d9", left[0].ID)
			}
		})
	}
}
