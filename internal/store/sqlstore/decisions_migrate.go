package sqlstore

import (
	"context"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// moveDecisionsToBatches moves the rows of version 4's decisions table into
// batches, oldest first, maxBatchRecords at a time, and drops the table.
// Rows are read a page at a time by (at, id), so no query is open while a
// batch is written (PostgreSQL allows one statement at a time per
// connection).
func moveDecisionsToBatches(ctx context.Context, q querier) error {
	var (
		enc  batchEncoder
		at   int64 = -1 << 63
		id   string
		page []store.Decision
		err  error
	)
	for {
		page, err = list(ctx, q, scanV4Decision, "SELECT "+v4DecisionColumns+
			" FROM decisions WHERE at > ? OR (at = ? AND id > ?) ORDER BY at, id LIMIT ?", at, at, id, maxBatchRecords)
		if err != nil || len(page) == 0 {
			break
		}
		if err = insertBatches(ctx, q, &enc, firstOfEachID(page)); err != nil {
			return err
		}
		last := page[len(page)-1]
		at, id = last.Time.UnixMicro(), last.ID
	}
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, "DROP TABLE decisions")
	return err
}

const v4DecisionColumns = `id, at, request_id, source_ip, user_agent, action, role_arn, role_name, provider, subject,
	principal, decision, error_code, reason, closest_miss, fix, latency, claims, trace`

func scanV4Decision(sc scanner) (store.Decision, error) {
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
