package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keylessci/keyless/internal/store"
)

const policySelect = `SELECT p.arn, p.name, p.path, p.id, p.document, p.description, p.tags, p.create_date, p.update_date,
	(SELECT COUNT(*) FROM attachments a WHERE a.policy_arn = p.arn) FROM policies p`

func scanPolicy(sc scanner) (store.ManagedPolicy, error) {
	var (
		p                store.ManagedPolicy
		tags             string
		created, updated sql.NullInt64
		err              error
	)
	if err = sc.Scan(&p.ARN, &p.Name, &p.Path, &p.ID, &p.Document, &p.Description, &tags,
		&created, &updated, &p.AttachmentCount); err != nil {
		return p, err
	}
	p.CreateDate, p.UpdateDate = decodeTime(created), decodeTime(updated)
	p.Tags, err = decodeJSON[store.Tag](tags, "tags")
	return p, err
}

// CreatePolicy implements store.Store.
func (s *Store) CreatePolicy(ctx context.Context, p store.ManagedPolicy) error {
	return s.write(ctx, "create policy", func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, `INSERT INTO policies (arn, name, path, id, document, description, tags, create_date, update_date)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ARN, p.Name, p.Path, p.ID, p.Document, p.Description, encodeJSON(p.Tags), encodeTime(p.CreateDate), encodeTime(p.UpdateDate))
		return err
	})
}

// GetPolicy implements store.Store.
func (s *Store) GetPolicy(ctx context.Context, arn string) (store.ManagedPolicy, error) {
	var p store.ManagedPolicy
	err := s.read(ctx, "get policy", func(ctx context.Context, q querier) (err error) {
		p, err = scanPolicy(q.QueryRowContext(ctx, policySelect+" WHERE p.arn = ?", arn))
		return err
	})
	return p, err
}

// ListPolicies implements store.Store.
func (s *Store) ListPolicies(ctx context.Context) ([]store.ManagedPolicy, error) {
	var ps []store.ManagedPolicy
	err := s.read(ctx, "list policies", func(ctx context.Context, q querier) (err error) {
		ps, err = list(ctx, q, scanPolicy, policySelect+" ORDER BY p.name, p.arn")
		return err
	})
	return ps, err
}

// DeletePolicy implements store.Store.
func (s *Store) DeletePolicy(ctx context.Context, arn string) error {
	return s.write(ctx, "delete policy", func(ctx context.Context, q querier) error {
		if err := mustExist(ctx, q, "policy "+arn, "SELECT 1 FROM policies WHERE arn = ?", arn); err != nil {
			return err
		}
		attached, err := exists(ctx, q, "SELECT 1 FROM attachments WHERE policy_arn = ?", arn)
		if err != nil {
			return err
		}
		if attached {
			return fmt.Errorf("policy %s is attached: %w", arn, store.ErrConflict)
		}
		_, err = q.ExecContext(ctx, "DELETE FROM policies WHERE arn = ?", arn)
		return err
	})
}

// AttachRolePolicy implements store.Store.
func (s *Store) AttachRolePolicy(ctx context.Context, role, policyARN string) error {
	key := roleKey(role)
	return s.write(ctx, "attach role policy", func(ctx context.Context, q querier) error {
		if err := mustExist(ctx, q, "role "+role, "SELECT 1 FROM roles WHERE name_key = ?", key); err != nil {
			return err
		}
		if err := mustExist(ctx, q, "policy "+policyARN, "SELECT 1 FROM policies WHERE arn = ?", policyARN); err != nil {
			return err
		}
		res, err := q.ExecContext(ctx, `INSERT INTO attachments (role_key, policy_arn) VALUES (?, ?)
			ON CONFLICT (role_key, policy_arn) DO NOTHING`, key, policyARN)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return errNoWrite // already attached
		}
		return nil
	})
}

// DetachRolePolicy implements store.Store.
func (s *Store) DetachRolePolicy(ctx context.Context, role, policyARN string) error {
	return s.write(ctx, "detach role policy", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, "DELETE FROM attachments WHERE role_key = ? AND policy_arn = ?", roleKey(role), policyARN)
		return affected(res, err, "attachment of "+policyARN+" to "+role)
	})
}

// ListAttachedRolePolicies implements store.Store.
func (s *Store) ListAttachedRolePolicies(ctx context.Context, role string) ([]store.ManagedPolicy, error) {
	var ps []store.ManagedPolicy
	err := s.read(ctx, "list attached role policies", func(ctx context.Context, q querier) (err error) {
		if err := mustExist(ctx, q, "role "+role, "SELECT 1 FROM roles WHERE name_key = ?", roleKey(role)); err != nil {
			return err
		}
		ps, err = list(ctx, q, scanPolicy, policySelect+
			" JOIN attachments r ON r.policy_arn = p.arn WHERE r.role_key = ? ORDER BY p.name, p.arn", roleKey(role))
		return err
	})
	return ps, err
}
