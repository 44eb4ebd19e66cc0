package decision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// Store is what the log needs of the storage contract.
type Store interface {
	InsertDecisions(ctx context.Context, ds []store.Decision) error
	PruneDecisions(ctx context.Context, before time.Time, keep int) (int64, error)
}

// Defaults of Config.
const (
	DefaultRetention = 30 * 24 * time.Hour
	DefaultMaxRows   = 1_000_000
	DefaultQueueSize = 8192
	// DefaultBatchSize: a transaction's fixed cost (a commit that syncs the
	// WAL) is about 0.6 ms on SQLite, so a batch of 256 cost a record 3.4 µs
	// of store time and one of 1,024 costs it 2.1 µs
	// (sqlstore's BenchmarkInsertDecisions).
	DefaultBatchSize     = 1024
	DefaultFlushInterval = time.Second
)

// Config configures a Log.
type Config struct {
	Store Store
	// Now is the clock retention measures age with (default time.Now).
	Now func() time.Time
	// Retention: decisions older than this are pruned (default 30 days).
	Retention time.Duration
	// MaxRows caps the log; the oldest beyond it are pruned (default 1e6).
	MaxRows int
	// QueueSize bounds the records waiting to be written; when it is full
	// new records are dropped and counted, never waited for.
	QueueSize int
	// BatchSize is how many records one transaction writes at most; a full
	// batch is written at once.
	BatchSize int
	// FlushInterval is how long a partial batch waits before it is written.
	FlushInterval time.Duration
	// WriteTimeout bounds one batch write (default 10s).
	WriteTimeout time.Duration
	Log          *slog.Logger
}

// Stats counts what the log did since it started.
type Stats struct {
	Written uint64 // records committed
	Dropped uint64 // records dropped because the queue was full
	Failed  uint64 // records lost because their batch could not be written
	Pruned  uint64 // records deleted by retention
}

// Log is the decision log's writer. Record never blocks; Run writes.
type Log struct {
	st        Store
	now       func() time.Time
	retention time.Duration
	maxRows   int
	batch     int
	interval  time.Duration
	timeout   time.Duration
	log       *slog.Logger

	// pending is the queue: records waiting for the writer, at most
	// queueSize. Record appends under mu and wakes the writer (full) only
	// when a batch is complete, not once per record: a channel send that
	// woke the parked writer for every exchange cost 5 % of one.
	mu        sync.Mutex
	pending   []Record
	queueSize int
	full      chan struct{} // capacity 1
	flushes   chan chan error
	ids       *idGen

	written, dropped, failed, pruned atomic.Uint64
}

// New validates cfg and returns a Log; call Run to start writing.
func New(cfg Config) (*Log, error) {
	if cfg.Store == nil {
		return nil, errors.New("decision: Store is required")
	}
	if cfg.Retention < 0 || cfg.MaxRows < 0 || cfg.QueueSize < 0 || cfg.BatchSize < 0 || cfg.FlushInterval < 0 || cfg.WriteTimeout < 0 {
		return nil, errors.New("decision: negative retention, cap, queue, batch or interval")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Log{
		st: cfg.Store, now: cfg.Now, log: cfg.Log,
		retention: orDefault(cfg.Retention, DefaultRetention),
		maxRows:   orDefault(cfg.MaxRows, DefaultMaxRows),
		batch:     orDefault(cfg.BatchSize, DefaultBatchSize),
		interval:  orDefault(cfg.FlushInterval, DefaultFlushInterval),
		timeout:   orDefault(cfg.WriteTimeout, 10*time.Second),
		queueSize: orDefault(cfg.QueueSize, DefaultQueueSize),
		full:      make(chan struct{}, 1),
		flushes:   make(chan chan error),
		ids:       newIDGen(),
	}, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Record queues r for writing and returns at once. When the queue is full
// r is dropped and counted (Stats.Dropped): the caller's request never
// waits for the log.
func (l *Log) Record(r Record) {
	l.mu.Lock()
	if len(l.pending) >= l.queueSize {
		l.mu.Unlock()
		l.dropped.Add(1)
		return
	}
	l.pending = append(l.pending, r)
	n := len(l.pending)
	l.mu.Unlock()
	if n%l.batch == 0 {
		select {
		case l.full <- struct{}{}:
		default: // the writer has been woken already
		}
	}
}

// take empties the queue and returns what it held.
func (l *Log) take(spare []Record) []Record {
	l.mu.Lock()
	rs := l.pending
	l.pending = spare[:0]
	l.mu.Unlock()
	return rs
}

// Stats returns the counters.
func (l *Log) Stats() Stats {
	return Stats{Written: l.written.Load(), Dropped: l.dropped.Load(), Failed: l.failed.Load(), Pruned: l.pruned.Load()}
}

// Run writes queued records in batches (by size or every FlushInterval)
// until ctx is done, then writes what is still queued and returns. Run it
// once, and stop it only after the last Record call (after the HTTP
// server's shutdown).
func (l *Log) Run(ctx context.Context) {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	var (
		spare  []Record // the queue's other buffer: the two take turns
		failed error    // the first batch failure since the last Flush
	)
	// drain writes everything queued, a batch at a time.
	drain := func() {
		all := l.take(spare)
		for rs := all; len(rs) > 0; {
			n := min(len(rs), l.batch)
			if err := l.write(rs[:n]); err != nil && failed == nil {
				failed = err
			}
			rs = rs[n:]
		}
		clear(all) // let go of the records' claims and traces
		spare = all[:0]
	}
	for {
		select {
		case <-l.full:
			drain()
		case <-t.C:
			drain()
		case done := <-l.flushes:
			drain()
			done <- failed
			failed = nil
		case <-ctx.Done():
			drain()
			return
		}
	}
}

// Flush writes everything queued before it was called, and returns the
// error of the first batch that failed since the previous Flush. It needs Run to be running.
func (l *Log) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case l.flushes <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write commits one batch in one transaction. A batch that cannot be
// written is counted as failed and logged; the log goes on.
func (l *Log) write(rs []Record) error {
	ds := make([]store.Decision, 0, len(rs))
	for i := range rs {
		r := &rs[i]
		if r.ID == "" {
			r.ID = l.ids.next(l.now())
		}
		if r.Fix == "" {
			r.Fix = SuggestFix(r)
		}
		if r.ClosestMiss == "" && r.Trace != nil {
			r.ClosestMiss = r.Trace.ClosestMiss
		}
		d, err := r.toStore()
		if err != nil {
			l.failed.Add(1)
			l.log.Warn("decision not recorded", "request_id", r.RequestID, "error", err.Error())
			continue
		}
		ds = append(ds, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if err := l.st.InsertDecisions(ctx, ds); err != nil {
		l.failed.Add(uint64(len(ds)))
		l.log.Warn("decision batch not recorded", "records", len(ds), "error", err.Error())
		return fmt.Errorf("decision: write batch: %w", err)
	}
	l.written.Add(uint64(len(ds)))
	return nil
}

// Prune deletes decisions older than the retention and those beyond the
// row cap. The server runs it in the background.
func (l *Log) Prune(ctx context.Context) error {
	n, err := l.st.PruneDecisions(ctx, l.now().Add(-l.retention), l.maxRows)
	l.pruned.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("decision: prune: %w", err)
	}
	return nil
}
