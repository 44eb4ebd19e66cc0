package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// maxDecisionPage caps one ListDecisions answer.
const maxDecisionPage = 1000

const decisionColumns = `id, at, request_id, source_ip, user_agent, action, role_arn, role_name, provider, subject,
	principal, decision, error_code, reason, closest_miss, fix, latency, claims, trace`

// InsertDecisions implements store.Store: one transaction, no Version bump
// (no cache holds decisions).
func (s *Store) InsertDecisions(ctx context.Context, ds []store.Decision) error {
	if len(ds) == 0 {
		return nil
	}
	return s.writeTx(ctx, "insert decisions", false, func(ctx context.Context, q querier) error {
		// Rows go in multi-row INSERTs: the statement is parsed once per
		// chunk rather than once per decision, which is most of the
		// writer's cost in SQLite.
		for len(ds) > 0 {
			n := min(len(ds), decisionsPerInsert)
			var b strings.Builder
			b.WriteString("INSERT INTO decisions (" + decisionColumns + ") VALUES ")
			args := make([]any, 0, n*decisionColumnCount)
			for i, d := range ds[:n] {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(decisionPlaceholders)
				args = append(args, d.ID, d.Time.UnixMicro(), d.RequestID, d.SourceIP, d.UserAgent, d.Action, d.RoleARN, d.RoleName,
					d.Provider, d.Subject, d.Principal, d.Decision, d.ErrorCode, d.Reason, d.ClosestMiss, d.Fix,
					d.Latency.Microseconds(), string(d.Claims), string(d.Trace))
			}
			b.WriteString(" ON CONFLICT (id) DO NOTHING")
			if _, err := q.ExecContext(ctx, b.String(), args...); err != nil {
				return err
			}
			ds = ds[n:]
		}
		return nil
	})
}

// decisionsPerInsert rows of decisionColumnCount values stay far below
// SQLite's and PostgreSQL's limits on parameters per statement.
const (
	decisionsPerInsert   = 64
	decisionColumnCount  = 19
	decisionPlaceholders = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

func scanDecision(sc scanner) (store.Decision, error) {
	var (
		d             store.Decision
		at, latency   int64
		claims, trace string
	)
	err := sc.Scan(&d.ID, &at, &d.RequestID, &d.SourceIP, &d.UserAgent, &d.Action, &d.RoleARN, &d.RoleName,
		&d.Provider, &d.Subject, &d.Principal, &d.Decision, &d.ErrorCode, &d.Reason, &d.ClosestMiss, &d.Fix,
		&latency, &claims, &trace)
	d.Time, d.Latency = time.UnixMicro(at).UTC(), time.Duration(latency)*time.Microsecond
	if claims != "" {
		d.Claims = []byte(claims)
	}
	if trace != "" {
		d.Trace = []byte(trace)
	}
	return d, err
}

// GetDecision implements store.Store.
func (s *Store) GetDecision(ctx context.Context, id string) (store.Decision, error) {
	var d store.Decision
	err := s.read(ctx, "get decision", func(ctx context.Context, q querier) (err error) {
		d, err = scanDecision(q.QueryRowContext(ctx, "SELECT "+decisionColumns+" FROM decisions WHERE id = ?", id))
		return err
	})
	return d, err
}

// ListDecisions implements store.Store with keyset pagination on (at, id).
func (s *Store) ListDecisions(ctx context.Context, f store.DecisionFilter) ([]store.Decision, error) {
	var where []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("role_arn", f.RoleARN)
	eq("role_name", f.RoleName)
	eq("provider", f.Provider)
	eq("subject", f.Subject)
	eq("decision", f.Decision)
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, f.Until.UnixMicro())
	}
	if f.After != nil {
		at := f.After.Time.UnixMicro()
		where = append(where, "(at < ? OR (at = ? AND id < ?))")
		args = append(args, at, at, f.After.ID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, maxDecisionPage)
	query := "SELECT " + decisionColumns + " FROM decisions"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY at DESC, id DESC LIMIT ?"
	args = append(args, limit)
	var out []store.Decision
	err := s.read(ctx, "list decisions", func(ctx context.Context, q querier) (err error) {
		out, err = list(ctx, q, scanDecision, query, args...)
		return err
	})
	return out, err
}

// PruneDecisions implements store.Store: by age, then by count, in one
// transaction.
func (s *Store) PruneDecisions(ctx context.Context, before time.Time, keep int) (int64, error) {
	var n int64
	err := s.writeTx(ctx, "prune decisions", false, func(ctx context.Context, q querier) error {
		n = 0
		if !before.IsZero() {
			res, err := q.ExecContext(ctx, "DELETE FROM decisions WHERE at < ?", before.UnixMicro())
			if err != nil {
				return err
			}
			c, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += c
		}
		if keep <= 0 {
			return nil
		}
		// The newest row beyond the cap; it and everything older go.
		var at int64
		var id string
		err := q.QueryRowContext(ctx, "SELECT at, id FROM decisions ORDER BY at DESC, id DESC LIMIT 1 OFFSET ?", keep).Scan(&at, &id)
		if err != nil {
			if isNoRows(err) {
				return nil
			}
			return err
		}
		res, err := q.ExecContext(ctx, "DELETE FROM decisions WHERE at < ? OR (at = ? AND id <= ?)", at, at, id)
		if err != nil {
			return err
		}
		c, err := res.RowsAffected()
		if err != nil {
			return err
		}
		n += c
		return nil
	})
	return n, err
}
