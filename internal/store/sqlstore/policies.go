package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keylessci/keyless/internal/store"
)

const policySelect = `SELECT p.arn, p.name, p.path, p.id, p.document, p.description, p.tags, p.create_date, p.update_date,
	p.default_version, p.last_version, p.versions,
	(SELECT COUNT(*) FROM attachments a WHERE a.policy_arn = p.arn) FROM policies p`

// policyVersion is the JSON form of a version in the versions column.
type policyVersion struct {
	ID         string `json:"id"`
	Document   string `json:"document"`
	CreateDate int64  `json:"create_date"` // microseconds, 0 for the zero time
}

func scanPolicy(sc scanner) (store.ManagedPolicy, error) {
	var (
		p                store.ManagedPolicy
		tags, versions   string
		created, updated sql.NullInt64
		err              error
	)
	if err = sc.Scan(&p.ARN, &p.Name, &p.Path, &p.ID, &p.Document, &p.Description, &tags,
		&created, &updated, &p.DefaultVersion, &p.LastVersion, &versions, &p.AttachmentCount); err != nil {
		return p, err
	}
	p.CreateDate, p.UpdateDate = decodeTime(created), decodeTime(updated)
	if p.Tags, err = decodeJSON[store.Tag](tags, "tags"); err != nil {
		return p, err
	}
	if versions == "" { // written before versions existed, or created without them
		p.Versions = []store.PolicyVersion{{ID: p.DefaultVersion, Document: p.Document, CreateDate: p.CreateDate}}
		return p, nil
	}
	vs, err := decodeJSON[policyVersion](versions, "versions")
	for _, v := range vs {
		p.Versions = append(p.Versions, store.PolicyVersion{ID: v.ID, Document: v.Document,
			CreateDate: decodeTime(sql.NullInt64{Int64: v.CreateDate, Valid: v.CreateDate != 0})})
	}
	return p, err
}

// policyVersionColumns encodes the version columns of p; a policy without
// versions gets the defaults of one version, v1.
func policyVersionColumns(p store.ManagedPolicy) (def string, last int, versions string) {
	if len(p.Versions) == 0 {
		return "v1", 1, ""
	}
	vs := make([]policyVersion, len(p.Versions))
	for i, v := range p.Versions {
		vs[i] = policyVersion{ID: v.ID, Document: v.Document, CreateDate: encodeTime(v.CreateDate).Int64}
	}
	return p.DefaultVersion, p.LastVersion, encodeJSON(vs)
}

// CreatePolicy implements store.Store.
func (s *Store) CreatePolicy(ctx context.Context, p store.ManagedPolicy) error {
	def, last, versions := policyVersionColumns(p)
	return s.write(ctx, "create policy", func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, `INSERT INTO policies (arn, name, path, id, document, description, tags, create_date, update_date,
			default_version, last_version, versions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			p.ARN, p.Name, p.Path, p.ID, p.Document, p.Description, encodeJSON(p.Tags), encodeTime(p.CreateDate), encodeTime(p.UpdateDate),
			def, last, versions)
		return err
	})
}

// UpdatePolicy implements store.Store. ARN, name and id cannot change.
func (s *Store) UpdatePolicy(ctx context.Context, arn string, fn func(*store.ManagedPolicy) error) error {
	return s.write(ctx, "update policy", func(ctx context.Context, q querier) error {
		p, err := scanPolicy(q.QueryRowContext(ctx, policySelect+" WHERE p.arn = ?"+s.d.forUpdate, arn))
		if err != nil {
			return err
		}
		if err := fn(&p); err != nil {
			return callerError{err}
		}
		def, last, versions := policyVersionColumns(p)
		_, err = q.ExecContext(ctx, `UPDATE policies SET path = ?, document = ?, description = ?, tags = ?, create_date = ?,
			update_date = ?, default_version = ?, last_version = ?, versions = ? WHERE arn = ?`,
			p.Path, p.Document, p.Description, encodeJSON(p.Tags), encodeTime(p.CreateDate), encodeTime(p.UpdateDate),
			def, last, versions, arn)
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
