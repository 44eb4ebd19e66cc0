package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// The decision log is stored as batches (batch.go): decision_batches holds
// one row per batch — the range of its ids, the range of its times, how many
// decisions it holds and the compressed decisions — and decision_keys holds,
// per batch, each distinct value of the fields ListDecisions filters on, so
// a filter reads only the batches that can match. A field with more than
// maxKeysPerField distinct values in a batch (a load cycling through
// thousands of roles, jobs of many repositories) is stored as one row with
// the empty value, which no decision holds and which means "any value":
// key rows are random-order B-tree inserts, and one per record cost an
// insert nine times a batch of repeated values did. A batch is keyed by its
// smallest id; ids are unique across the log, so batch keys are too.

// maxDecisionPage caps one ListDecisions answer.
const maxDecisionPage = 1000

// maxBatchRecords splits one InsertDecisions call into batches of at most
// this many decisions (the writer's batches are no larger).
const maxBatchRecords = 1024

// maxKeysPerField is how many distinct values of one field a batch indexes;
// past it the field is stored as "any value" (the empty value).
const maxKeysPerField = 32

// filterFields are the fields ListDecisions filters on: what a decision
// holds, what a filter asks for, and the letter decision_keys stores each
// under. Insert, the key lookup and the per-record match all read this one
// table, so a field cannot be indexed but not matched, or the reverse.
var filterFields = [...]struct {
	key    string
	stored func(*store.Decision) string
	wanted func(*store.DecisionFilter) string
}{
	{"r", func(d *store.Decision) string { return d.RoleARN }, func(f *store.DecisionFilter) string { return f.RoleARN }},
	{"n", func(d *store.Decision) string { return d.RoleName }, func(f *store.DecisionFilter) string { return f.RoleName }},
	{"p", func(d *store.Decision) string { return d.Provider }, func(f *store.DecisionFilter) string { return f.Provider }},
	{"s", func(d *store.Decision) string { return d.Subject }, func(f *store.DecisionFilter) string { return f.Subject }},
	{"d", func(d *store.Decision) string { return d.Decision }, func(f *store.DecisionFilter) string { return f.Decision }},
}

// InsertDecisions implements store.Store: one transaction, no Version bump
// (no cache holds decisions). Decisions whose id is stored already, or
// repeated in ds, are skipped (the first one counts).
func (s *Store) InsertDecisions(ctx context.Context, ds []store.Decision) error {
	if len(ds) == 0 {
		return nil
	}
	ds = firstOfEachID(ds)
	return s.writeTx(ctx, "insert decisions", false, func(ctx context.Context, q querier) error {
		ds, err := notStored(ctx, q, ds)
		if err != nil {
			return err
		}
		return insertBatches(ctx, q, &s.batches, ds)
	})
}

// firstOfEachID returns ds without the decisions whose id came earlier in
// ds, sorted by time then id: a batch then covers a narrow range of both.
func firstOfEachID(ds []store.Decision) []store.Decision {
	// The writer's batches come in order, their ids increasing with time:
	// nothing to drop or sort, and no copy of a thousand decisions to make.
	inOrder := true
	for i := 1; i < len(ds) && inOrder; i++ {
		inOrder = ds[i].ID > ds[i-1].ID && !ds[i].Time.Before(ds[i-1].Time)
	}
	if inOrder {
		return ds
	}
	// Otherwise order positions, not the decisions themselves: a sort
	// moving whole decisions about cost more than the rest of the write.
	seen := make(map[string]struct{}, len(ds))
	keep := make([]int, 0, len(ds))
	for i := range ds {
		if _, dup := seen[ds[i].ID]; dup {
			continue
		}
		seen[ds[i].ID] = struct{}{}
		keep = append(keep, i)
	}
	slices.SortFunc(keep, func(a, b int) int {
		return cmp.Or(ds[a].Time.Compare(ds[b].Time), strings.Compare(ds[a].ID, ds[b].ID))
	})
	out := make([]store.Decision, len(keep))
	for i, k := range keep {
		out[i] = ds[k]
	}
	return out
}

// notStored drops the decisions of ds whose id is already in the log. Only
// batches whose id range overlaps ds's are read; the writer's ids grow with
// time, so for its batches that is none.
func notStored(ctx context.Context, q querier, ds []store.Decision) ([]store.Decision, error) {
	lo, hi := ds[0].ID, ds[0].ID
	for _, d := range ds[1:] {
		lo, hi = min(lo, d.ID), max(hi, d.ID)
	}
	stored, err := readBatches(ctx, q, "SELECT body FROM decision_batches WHERE id_max >= ? AND id_min <= ?", lo, hi)
	if err != nil || len(stored) == 0 {
		return ds, err
	}
	have := make(map[string]struct{}, len(stored))
	for _, d := range stored {
		have[d.ID] = struct{}{}
	}
	return slices.DeleteFunc(ds, func(d store.Decision) bool { _, ok := have[d.ID]; return ok }), nil
}

// readBatches decodes the bodies query selects, in order.
func readBatches(ctx context.Context, q querier, query string, args ...any) ([]store.Decision, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Decision
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		ds, err := decodeBatch(body)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, rows.Err()
}

// insertBatches stores ds, sorted by time then id, as batches of at most
// maxBatchRecords.
func insertBatches(ctx context.Context, q querier, enc *batchEncoder, ds []store.Decision) error {
	for len(ds) > 0 {
		n := min(len(ds), maxBatchRecords)
		if err := insertBatch(ctx, q, enc, ds[:n]); err != nil {
			return err
		}
		ds = ds[n:]
	}
	return nil
}

func insertBatch(ctx context.Context, q querier, enc *batchEncoder, ds []store.Decision) error {
	idMin, idMax := ds[0].ID, ds[0].ID
	atMin, atMax := ds[0].Time.UnixMicro(), ds[0].Time.UnixMicro()
	type key struct{ field, value string }
	keys := make(map[key]struct{}, 8)
	var distinct [len(filterFields)]int // -1: too many, stored as "any value"
	for i := range ds {
		d := &ds[i]
		idMin, idMax = min(idMin, d.ID), max(idMax, d.ID)
		at := d.Time.UnixMicro()
		atMin, atMax = min(atMin, at), max(atMax, at)
		for j, fld := range filterFields {
			v := fld.stored(d)
			if v == "" || distinct[j] < 0 {
				continue
			}
			k := key{fld.key, v}
			if _, ok := keys[k]; ok {
				continue
			}
			if distinct[j] == maxKeysPerField {
				for k := range keys {
					if k.field == fld.key {
						delete(keys, k)
					}
				}
				keys[key{fld.key, ""}] = struct{}{}
				distinct[j] = -1
				continue
			}
			keys[k] = struct{}{}
			distinct[j]++
		}
	}
	enc.mu.Lock()
	_, err := q.ExecContext(ctx, "INSERT INTO decision_batches (id_min, id_max, at_min, at_max, n, body) VALUES (?, ?, ?, ?, ?, ?)",
		idMin, idMax, atMin, atMax, len(ds), enc.encode(ds))
	enc.mu.Unlock()
	if err != nil {
		return err
	}
	// Key rows go in multi-row INSERTs, a statement per 100 keys.
	all := make([]key, 0, len(keys))
	for k := range keys {
		all = append(all, k)
	}
	for len(all) > 0 {
		n := min(len(all), 100)
		var b strings.Builder
		b.WriteString("INSERT INTO decision_keys (batch, field, value) VALUES ")
		args := make([]any, 0, 3*n)
		for i, k := range all[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?)")
			args = append(args, idMin, k.field, k.value)
		}
		if _, err := q.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
		all = all[n:]
	}
	return nil
}

// GetDecision implements store.Store. The batch holding id is the one with
// the greatest smallest id not above it, unless batches' id ranges overlap
// (ids not ordered in time); then every batch whose range holds id is read.
func (s *Store) GetDecision(ctx context.Context, id string) (store.Decision, error) {
	var found *store.Decision
	err := s.read(ctx, "get decision", func(ctx context.Context, q querier) error {
		for _, query := range []string{
			"SELECT body FROM decision_batches WHERE id_min = (SELECT MAX(id_min) FROM decision_batches WHERE id_min <= ?) AND id_max >= ?",
			"SELECT body FROM decision_batches WHERE id_max >= ? AND id_min <= ?",
		} {
			ds, err := readBatches(ctx, q, query, id, id)
			if err != nil {
				return err
			}
			if i := slices.IndexFunc(ds, func(d store.Decision) bool { return d.ID == id }); i >= 0 {
				found = &ds[i]
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return store.Decision{}, err
	}
	if found == nil {
		return store.Decision{}, store.ErrNotFound
	}
	return *found, nil
}

// newerFirst is the log's order: time, then id, descending.
func newerFirst(a, b store.Decision) int {
	return cmp.Or(b.Time.Compare(a.Time), strings.Compare(b.ID, a.ID))
}

func matches(d *store.Decision, f *store.DecisionFilter) bool {
	for _, fld := range filterFields {
		if want := fld.wanted(f); want != "" && want != fld.stored(d) {
			return false
		}
	}
	switch {
	case !f.Since.IsZero() && d.Time.Before(f.Since),
		!f.Until.IsZero() && !d.Time.Before(f.Until),
		f.After != nil && newerFirst(*d, store.Decision{Time: f.After.Time, ID: f.After.ID}) <= 0:
		return false
	}
	return true
}

// ListDecisions implements store.Store. Batches are read newest (by their
// latest decision) first, skipping those the keys rule out, until no unread
// batch can hold a decision newer than the page's last.
func (s *Store) ListDecisions(ctx context.Context, f store.DecisionFilter) ([]store.Decision, error) {
	f.Since, f.Until = f.Since.Truncate(time.Microsecond), f.Until.Truncate(time.Microsecond)
	var where []string
	var args []any
	for _, fld := range filterFields {
		if want := fld.wanted(&f); want != "" {
			// '' is a batch with too many values to index this field.
			where = append(where, "EXISTS (SELECT 1 FROM decision_keys k WHERE k.batch = b.id_min AND k.field = ? AND k.value IN (?, ''))")
			args = append(args, fld.key, want)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "b.at_max >= ?")
		args = append(args, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		where = append(where, "b.at_min < ?")
		args = append(args, f.Until.UnixMicro())
	}
	if f.After != nil {
		where = append(where, "b.at_min <= ?")
		args = append(args, f.After.Time.UnixMicro())
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, maxDecisionPage)
	query := "SELECT b.at_max, b.body FROM decision_batches b"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY b.at_max DESC, b.id_min DESC"
	var page []store.Decision
	err := s.read(ctx, "list decisions", func(ctx context.Context, q querier) error {
		page = nil
		rows, err := q.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var atMax int64
			var body []byte
			if err := rows.Scan(&atMax, &body); err != nil {
				return err
			}
			if len(page) == limit && page[limit-1].Time.UnixMicro() > atMax {
				break // this batch and every later one hold only older decisions
			}
			ds, err := decodeBatch(body)
			if err != nil {
				return err
			}
			for i := range ds {
				if matches(&ds[i], &f) {
					page = append(page, ds[i])
				}
			}
			slices.SortFunc(page, newerFirst)
			page = page[:min(len(page), limit)]
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// PruneDecisions implements store.Store, in one transaction: batches wholly
// older than before, or wholly beyond the newest keep decisions, are
// deleted; the batch the boundary falls in is rewritten without the
// decisions that go. The cap counts batches newest first (by their latest
// decision), and decisions newest first within the batch at the boundary:
// exact when batches do not overlap in time, as one writer's never do.
func (s *Store) PruneDecisions(ctx context.Context, before time.Time, keep int) (int64, error) {
	var n int64
	err := s.writeTx(ctx, "prune decisions", false, func(ctx context.Context, q querier) error {
		n = 0
		if !before.IsZero() {
			cut := before.UnixMicro()
			c, err := deleteBatches(ctx, q, "at_max < ?", cut)
			if err != nil {
				return err
			}
			n += c
			c, err = rewriteBatches(ctx, q, &s.batches, "at_min < ?", []any{cut}, func(ds []store.Decision) []store.Decision {
				return slices.DeleteFunc(ds, func(d store.Decision) bool { return d.Time.UnixMicro() < cut })
			})
			if err != nil {
				return err
			}
			n += c
		}
		if keep <= 0 {
			return nil
		}
		c, err := pruneBeyond(ctx, q, &s.batches, keep)
		n += c
		return err
	})
	return n, err
}

// pruneBeyond deletes all but the newest keep decisions.
func pruneBeyond(ctx context.Context, q querier, enc *batchEncoder, keep int) (int64, error) {
	rows, err := q.QueryContext(ctx, "SELECT id_min, at_max, n FROM decision_batches ORDER BY at_max DESC, id_min DESC")
	if err != nil {
		return 0, err
	}
	var (
		total     int
		boundary  string // the batch the cap falls in
		atMax     int64
		keepThere int // how many of its decisions stay
	)
	for rows.Next() {
		var id string
		var at int64
		var cnt int
		if err := rows.Scan(&id, &at, &cnt); err != nil {
			rows.Close()
			return 0, err
		}
		if total+cnt > keep {
			boundary, atMax, keepThere = id, at, keep-total
			break
		}
		total += cnt
	}
	rows.Close()
	if err := rows.Err(); err != nil || boundary == "" {
		return 0, err
	}
	n, err := deleteBatches(ctx, q, "at_max < ? OR (at_max = ? AND id_min < ?)", atMax, atMax, boundary)
	if err != nil {
		return 0, err
	}
	c, err := rewriteBatches(ctx, q, enc, "id_min = ?", []any{boundary}, func(ds []store.Decision) []store.Decision {
		slices.SortFunc(ds, newerFirst)
		return ds[:keepThere]
	})
	return n + c, err
}

// deleteBatches deletes the batches where selects and their keys, and
// returns how many decisions they held.
func deleteBatches(ctx context.Context, q querier, where string, args ...any) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, "SELECT COALESCE(SUM(n), 0) FROM decision_batches WHERE "+where, args...).Scan(&n); err != nil || n == 0 {
		return 0, err
	}
	if _, err := q.ExecContext(ctx, "DELETE FROM decision_keys WHERE batch IN (SELECT id_min FROM decision_batches WHERE "+where+")", args...); err != nil {
		return 0, err
	}
	if _, err := q.ExecContext(ctx, "DELETE FROM decision_batches WHERE "+where, args...); err != nil {
		return 0, err
	}
	return n, nil
}

// rewriteBatches replaces each batch where selects with what keep leaves of
// its decisions, and returns how many decisions went.
func rewriteBatches(ctx context.Context, q querier, enc *batchEncoder, where string, args []any, keep func([]store.Decision) []store.Decision) (int64, error) {
	ds, err := readBatches(ctx, q, "SELECT body FROM decision_batches WHERE "+where, args...)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	total := len(ds)
	kept := keep(ds)
	if len(kept) == total {
		return 0, nil
	}
	if _, err := deleteBatches(ctx, q, where, args...); err != nil {
		return 0, err
	}
	return int64(total - len(kept)), insertBatches(ctx, q, enc, firstOfEachID(kept))
}
