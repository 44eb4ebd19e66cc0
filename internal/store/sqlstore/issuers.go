package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/keylessci/keyless/internal/store"
)

const issuerCols = "id, profile, url, alg, config, create_date"

func scanIssuer(sc scanner) (store.Issuer, error) {
	var (
		is      store.Issuer
		created sql.NullInt64
	)
	err := sc.Scan(&is.ID, &is.Profile, &is.URL, &is.Alg, &is.Config, &created)
	is.CreateDate = decodeTime(created)
	return is, err
}

// CreateIssuer implements store.Store.
func (s *Store) CreateIssuer(ctx context.Context, is store.Issuer) error {
	return s.write(ctx, "create issuer", func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, "INSERT INTO issuers ("+issuerCols+") VALUES (?, ?, ?, ?, ?, ?)",
			is.ID, is.Profile, is.URL, is.Alg, nonNil(is.Config), encodeTime(is.CreateDate))
		return err
	})
}

// GetIssuer implements store.Store.
func (s *Store) GetIssuer(ctx context.Context, id string) (store.Issuer, error) {
	return s.getIssuer(ctx, "id", id)
}

// GetIssuerByURL implements store.Store.
func (s *Store) GetIssuerByURL(ctx context.Context, url string) (store.Issuer, error) {
	return s.getIssuer(ctx, "url", url)
}

func (s *Store) getIssuer(ctx context.Context, column, value string) (store.Issuer, error) {
	var is store.Issuer
	err := s.read(ctx, "get issuer", func(ctx context.Context, q querier) (err error) {
		is, err = scanIssuer(q.QueryRowContext(ctx, "SELECT "+issuerCols+" FROM issuers WHERE "+column+" = ?", value))
		return err
	})
	return is, err
}

// ListIssuers implements store.Store; issuers come ordered by ID.
func (s *Store) ListIssuers(ctx context.Context) ([]store.Issuer, error) {
	var out []store.Issuer
	err := s.read(ctx, "list issuers", func(ctx context.Context, q querier) (err error) {
		out, err = list(ctx, q, scanIssuer, "SELECT "+issuerCols+" FROM issuers ORDER BY id")
		return err
	})
	return out, err
}

// DeleteIssuer implements store.Store; its signing keys go with it.
func (s *Store) DeleteIssuer(ctx context.Context, id string) error {
	return s.write(ctx, "delete issuer", func(ctx context.Context, q querier) error {
		if _, err := q.ExecContext(ctx, "DELETE FROM signing_keys WHERE issuer_id = ?", id); err != nil {
			return err
		}
		res, err := q.ExecContext(ctx, "DELETE FROM issuers WHERE id = ?", id)
		return affected(res, err, "issuer "+id)
	})
}

const keyCols = "issuer_id, kid, alg, public, sealed, created_at, sign_from, sign_until, publish_end"

func scanKey(sc scanner) (store.SigningKey, error) {
	var (
		k                            store.SigningKey
		created, from, until, pubEnd sql.NullInt64
	)
	err := sc.Scan(&k.IssuerID, &k.KID, &k.Alg, &k.Public, &k.Sealed, &created, &from, &until, &pubEnd)
	k.CreatedAt, k.SignFrom, k.SignUntil, k.PublishEnd = decodeTime(created), decodeTime(from), decodeTime(until), decodeTime(pubEnd)
	return k, err
}

// AddSigningKey implements store.Store; ErrNotFound if the issuer is missing.
func (s *Store) AddSigningKey(ctx context.Context, k store.SigningKey) error {
	return s.write(ctx, "add signing key", func(ctx context.Context, q querier) error {
		if err := mustExist(ctx, q, "issuer "+k.IssuerID, "SELECT 1 FROM issuers WHERE id = ?", k.IssuerID); err != nil {
			return err
		}
		_, err := q.ExecContext(ctx, "INSERT INTO signing_keys ("+keyCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			k.IssuerID, k.KID, k.Alg, nonNil(k.Public), nonNil(k.Sealed),
			encodeTime(k.CreatedAt), encodeTime(k.SignFrom), encodeTime(k.SignUntil), encodeTime(k.PublishEnd))
		return err
	})
}

// ListSigningKeys implements store.Store; ErrNotFound if the issuer is missing.
func (s *Store) ListSigningKeys(ctx context.Context, issuerID string) ([]store.SigningKey, error) {
	var ks []store.SigningKey
	err := s.read(ctx, "list signing keys", func(ctx context.Context, q querier) (err error) {
		if err := mustExist(ctx, q, "issuer "+issuerID, "SELECT 1 FROM issuers WHERE id = ?", issuerID); err != nil {
			return err
		}
		ks, err = list(ctx, q, scanKey, "SELECT "+keyCols+" FROM signing_keys WHERE issuer_id = ? ORDER BY created_at, kid", issuerID)
		return err
	})
	return ks, err
}

// UpdateSigningKey implements store.Store. The issuer and kid cannot change.
func (s *Store) UpdateSigningKey(ctx context.Context, issuerID, kid string, fn func(*store.SigningKey) error) error {
	return s.write(ctx, "update signing key", func(ctx context.Context, q querier) error {
		k, err := scanKey(q.QueryRowContext(ctx, "SELECT "+keyCols+" FROM signing_keys WHERE issuer_id = ? AND kid = ?"+s.d.forUpdate, issuerID, kid))
		if err != nil {
			return err
		}
		if err := fn(&k); err != nil {
			return callerError{err}
		}
		_, err = q.ExecContext(ctx, `UPDATE signing_keys SET alg = ?, public = ?, sealed = ?, created_at = ?,
			sign_from = ?, sign_until = ?, publish_end = ? WHERE issuer_id = ? AND kid = ?`,
			k.Alg, nonNil(k.Public), nonNil(k.Sealed), encodeTime(k.CreatedAt), encodeTime(k.SignFrom),
			encodeTime(k.SignUntil), encodeTime(k.PublishEnd), issuerID, kid)
		return err
	})
}

// DeleteSigningKey implements store.Store.
func (s *Store) DeleteSigningKey(ctx context.Context, issuerID, kid string) error {
	return s.write(ctx, "delete signing key", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, "DELETE FROM signing_keys WHERE issuer_id = ? AND kid = ?", issuerID, kid)
		return affected(res, err, "signing key "+issuerID+"/"+kid)
	})
}

// GetOrCreateSecret implements store.Store: the first stored value wins,
// across goroutines and replicas.
func (s *Store) GetOrCreateSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	var got []byte
	err := s.read(ctx, "get secret", func(ctx context.Context, q querier) error {
		return q.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&got)
	})
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return got, err
	}
	err = s.write(ctx, "create secret", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, "INSERT INTO secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", name, nonNil(value))
		if err != nil {
			return err
		}
		if err := q.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&got); err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return errNoWrite // another caller stored it first
		}
		return nil
	})
	return got, err
}

// GetSecret implements store.Store.
func (s *Store) GetSecret(ctx context.Context, name string) ([]byte, error) {
	var got []byte
	err := s.read(ctx, "get secret", func(ctx context.Context, q querier) error {
		return q.QueryRowContext(ctx, "SELECT value FROM secrets WHERE name = ?", name).Scan(&got)
	})
	return got, err
}

// DeleteSecret implements store.Store. On SQLite the database is then
// vacuumed and its WAL truncated, so the deleted value survives neither in a
// free page nor in the log.
func (s *Store) DeleteSecret(ctx context.Context, name string) error {
	err := s.write(ctx, "delete secret", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, "DELETE FROM secrets WHERE name = ?", name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return errNoWrite
		}
		return nil
	})
	if err != nil || s.d.name != "sqlite" {
		return err
	}
	for _, stmt := range []string{"VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := s.wdb.ExecContext(ctx, stmt); err != nil {
			return s.mapErr(ctx, "delete secret: "+stmt, err)
		}
	}
	return nil
}
