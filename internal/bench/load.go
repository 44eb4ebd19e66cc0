package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Request builds the i-th request of a scenario for endpoint (a base URL
// such as http://127.0.0.1:8787, no trailing slash). It is called from
// many goroutines at once.
type Request func(i uint64, endpoint string) (*http.Request, error)

// Check judges one response; a non-nil error counts as an error.
type Check func(status int, body []byte) error

// Load is one fixed-concurrency, fixed-duration run of a scenario.
type Load struct {
	Client      *http.Client
	Endpoints   []string // targeted round-robin
	Concurrency int
	Duration    time.Duration
	Request     Request
	Check       Check // nil: any 200 is a success
	// Max, when non-zero, stops the run after Max requests (a warm-up pass).
	Max uint64
	// Progress, when set, is called about every 250ms with the counts so far.
	Progress func(elapsed time.Duration, done, errs uint64)
}

// Stats is what a Load measured.
type Stats struct {
	Requests  uint64        `json:"requests"`
	Errors    uint64        `json:"errors"`
	FirstErr  string        `json:"first_error,omitempty"`
	Elapsed   time.Duration `json:"-"`
	ReqPerSec float64       `json:"req_per_sec"`
	P50ms     float64       `json:"p50_ms"`
	P99ms     float64       `json:"p99_ms"`
	MaxMs     float64       `json:"max_ms"`

	lat []time.Duration // sorted latencies, for merging rounds
}

// merge combines the stats of several runs of one scenario.
func merge(runs []Stats) Stats {
	var st Stats
	var all []time.Duration
	for _, r := range runs {
		st.Requests += r.Requests
		st.Errors += r.Errors
		st.Elapsed += r.Elapsed
		if st.FirstErr == "" {
			st.FirstErr = r.FirstErr
		}
		all = append(all, r.lat...)
	}
	slices.Sort(all)
	st.finish(all)
	return st
}

func (st *Stats) finish(sorted []time.Duration) {
	if st.Elapsed > 0 {
		st.ReqPerSec = float64(st.Requests) / st.Elapsed.Seconds()
	}
	st.P50ms, st.P99ms = quantileMs(sorted, 0.50), quantileMs(sorted, 0.99)
	if len(sorted) > 0 {
		st.MaxMs = ms(sorted[len(sorted)-1])
	}
	st.lat = sorted
}

// Run drives the load until Duration has passed or ctx ends, then waits
// for the requests in flight. It is bounded: at most Concurrency requests
// are outstanding at any time.
func (l Load) Run(ctx context.Context) Stats {
	if l.Concurrency < 1 {
		l.Concurrency = 1
	}
	ctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	var (
		seq, done, errs atomic.Uint64
		mu              sync.Mutex
		firstErr        string
		lat             = make([][]time.Duration, l.Concurrency)
		wg              sync.WaitGroup
	)
	fail := func(err error) {
		errs.Add(1)
		mu.Lock()
		if firstErr == "" {
			firstErr = err.Error()
		}
		mu.Unlock()
	}
	start := time.Now()
	for w := range l.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 4096)
			buf := bytes.NewBuffer(make([]byte, 0, 8192))
			for ctx.Err() == nil {
				i := seq.Add(1) - 1
				if l.Max > 0 && i >= l.Max {
					break
				}
				ep := l.Endpoints[i%uint64(len(l.Endpoints))]
				req, err := l.Request(i, ep)
				if err != nil {
					fail(fmt.Errorf("build request: %w", err))
					done.Add(1)
					continue
				}
				t0 := time.Now()
				status, err := l.do(req, buf)
				d := time.Since(t0)
				if err != nil && ctx.Err() != nil {
					break // the deadline cut this request short: not counted
				}
				mine = append(mine, d)
				done.Add(1)
				switch {
				case err != nil:
					fail(err)
				case l.Check != nil:
					if cerr := l.Check(status, buf.Bytes()); cerr != nil {
						fail(cerr)
					}
				case status != http.StatusOK:
					fail(fmt.Errorf("HTTP %d: %s", status, clip(buf.Bytes())))
				}
			}
			lat[w] = mine
		}()
	}
	if l.Progress != nil {
		// The reporter is joined before Run returns: Progress usually writes
		// to a shared writer, and a report racing the caller's next write
		// is a data race (seen under load in TestQuickRun).
		stop, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					l.Progress(time.Since(start), done.Load(), errs.Load())
				}
			}
		}()
		defer func() { close(stop); <-stopped }()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	st := Stats{Requests: done.Load(), Errors: errs.Load(), FirstErr: firstErr, Elapsed: elapsed}
	st.finish(all)
	return st
}

func (l Load) do(req *http.Request, buf *bytes.Buffer) (int, error) {
	resp, err := l.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := io.Copy(buf, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

func quantileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)-1) + 0.5)
	return ms(sorted[i])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func clip(b []byte) string {
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}

// NewClient returns an HTTP client for loopback load: keep-alive
// connections, enough idle ones for conc workers, no proxy.
func NewClient(conc int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        conc * 4,
		MaxIdleConnsPerHost: conc * 2,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}
