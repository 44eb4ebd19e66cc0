package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadJoinsProgress: no Progress call may still be running, or start,
// once Run has returned. Progress writes to the caller's writer, so a late
// call races the caller's own writes (the data race TestQuickRun showed
// under load). The first call outlives the whole run on purpose: Run must
// wait for it.
func TestLoadJoinsProgress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var inFlight, calls atomic.Int32
	l := Load{
		Client: srv.Client(), Endpoints: []string{srv.URL}, Concurrency: 2, Duration: time.Second,
		Request: func(i uint64, ep string) (*http.Request, error) { return http.NewRequest(http.MethodGet, ep, nil) },
		Progress: func(time.Duration, uint64, uint64) {
			inFlight.Add(1)
			defer inFlight.Add(-1)
			if calls.Add(1) == 1 {
				time.Sleep(1500 * time.Millisecond)
			}
		},
	}
	st := l.Run(context.Background())
	if n := inFlight.Load(); n != 0 {
		t.Fatalf("Run returned with %d Progress call(s) still running", n)
	}
	if calls.Load() == 0 {
		t.Fatal("Progress was never called in a 1s run (ticks every 250ms)")
	}
	after := calls.Load()
	time.Sleep(600 * time.Millisecond) // more than two ticks
	if n := calls.Load(); n != after {
		t.Fatalf("Progress called %d more time(s) after Run returned", n-after)
	}
	if st.Requests == 0 || st.Errors != 0 {
		t.Fatalf("stats %+v", st)
	}
}
