package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// PutRevocation implements store.Store. It raises Version, so every
// replica's cache of revocations notices it, and drops expired entries.
func (s *Store) PutRevocation(ctx context.Context, r store.Revocation) error {
	return s.write(ctx, "put revocation", func(ctx context.Context, q querier) error {
		if _, err := q.ExecContext(ctx, "DELETE FROM revocations WHERE expires < ?", s.now().UnixMicro()); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, "DELETE FROM revocations WHERE issuer_id = ? AND access_key_id = ?", r.IssuerID, r.AccessKeyID); err != nil {
			return err
		}
		_, err := q.ExecContext(ctx, "INSERT INTO revocations (issuer_id, access_key_id, issued_before, expires) VALUES (?, ?, ?, ?)",
			r.IssuerID, r.AccessKeyID, encodeTime(r.IssuedBefore), r.Expires.UnixMicro())
		return err
	})
}

// ListRevocations implements store.Store.
func (s *Store) ListRevocations(ctx context.Context, now time.Time) ([]store.Revocation, error) {
	var out []store.Revocation
	err := s.read(ctx, "list revocations", func(ctx context.Context, q querier) (err error) {
		out, err = list(ctx, q, func(sc scanner) (store.Revocation, error) {
			var (
				r       store.Revocation
				before  sql.NullInt64
				expires int64
			)
			err := sc.Scan(&r.IssuerID, &r.AccessKeyID, &before, &expires)
			r.IssuedBefore, r.Expires = decodeTime(before), time.UnixMicro(expires).UTC()
			return r, err
		}, "SELECT issuer_id, access_key_id, issued_before, expires FROM revocations WHERE expires >= ? ORDER BY issuer_id, access_key_id",
			now.UnixMicro())
		return err
	})
	return out, err
}
