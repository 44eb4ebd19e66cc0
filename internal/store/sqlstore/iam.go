package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// roleKey is the case-insensitive identity of a role name.
func roleKey(name string) string { return strings.ToLower(name) }

const providerCols = "url, client_ids, thumbprints, tags, create_date"

func scanProvider(sc scanner) (store.Provider, error) {
	var (
		p              store.Provider
		ids, tps, tags string
		created        sql.NullInt64
		err            error
	)
	if err = sc.Scan(&p.URL, &ids, &tps, &tags, &created); err != nil {
		return p, err
	}
	p.CreateDate = decodeTime(created)
	if p.ClientIDs, err = decodeJSON[string](ids, "client_ids"); err != nil {
		return p, err
	}
	if p.Thumbprints, err = decodeJSON[string](tps, "thumbprints"); err != nil {
		return p, err
	}
	p.Tags, err = decodeJSON[store.Tag](tags, "tags")
	return p, err
}

// CreateProvider implements store.Store.
func (s *Store) CreateProvider(ctx context.Context, p store.Provider) error {
	return s.write(ctx, "create provider", func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, "INSERT INTO providers ("+providerCols+") VALUES (?, ?, ?, ?, ?)",
			p.URL, encodeJSON(p.ClientIDs), encodeJSON(p.Thumbprints), encodeJSON(p.Tags), encodeTime(p.CreateDate))
		return err
	})
}

// GetProvider implements store.Store.
func (s *Store) GetProvider(ctx context.Context, url string) (store.Provider, error) {
	var p store.Provider
	err := s.read(ctx, "get provider", func(ctx context.Context, q querier) (err error) {
		p, err = scanProvider(q.QueryRowContext(ctx, "SELECT "+providerCols+" FROM providers WHERE url = ?", url))
		return err
	})
	return p, err
}

// ListProviders implements store.Store; providers come ordered by URL.
func (s *Store) ListProviders(ctx context.Context) ([]store.Provider, error) {
	var ps []store.Provider
	err := s.read(ctx, "list providers", func(ctx context.Context, q querier) (err error) {
		ps, err = list(ctx, q, scanProvider, "SELECT "+providerCols+" FROM providers ORDER BY url")
		return err
	})
	return ps, err
}

// UpdateProvider implements store.Store. The URL cannot change.
func (s *Store) UpdateProvider(ctx context.Context, url string, fn func(*store.Provider) error) error {
	return s.write(ctx, "update provider", func(ctx context.Context, q querier) error {
		p, err := scanProvider(q.QueryRowContext(ctx, "SELECT "+providerCols+" FROM providers WHERE url = ?"+s.d.forUpdate, url))
		if err != nil {
			return err
		}
		if err := fn(&p); err != nil {
			return callerError{err}
		}
		_, err = q.ExecContext(ctx, "UPDATE providers SET client_ids = ?, thumbprints = ?, tags = ?, create_date = ? WHERE url = ?",
			encodeJSON(p.ClientIDs), encodeJSON(p.Thumbprints), encodeJSON(p.Tags), encodeTime(p.CreateDate), url)
		return err
	})
}

// DeleteProvider implements store.Store.
func (s *Store) DeleteProvider(ctx context.Context, url string) error {
	return s.write(ctx, "delete provider", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, "DELETE FROM providers WHERE url = ?", url)
		return affected(res, err, "provider "+url)
	})
}

const roleCols = "name, path, id, trust_policy, description, max_session_duration, permissions_boundary, tags, create_date, last_used, last_used_region"

func scanRole(sc scanner) (store.Role, error) {
	var (
		r             store.Role
		tags          string
		created, used sql.NullInt64
		err           error
	)
	if err = sc.Scan(&r.Name, &r.Path, &r.ID, &r.TrustPolicy, &r.Description, &r.MaxSessionDuration,
		&r.PermissionsBoundary, &tags, &created, &used, &r.LastUsedRegion); err != nil {
		return r, err
	}
	r.CreateDate, r.LastUsed = decodeTime(created), decodeTime(used)
	r.Tags, err = decodeJSON[store.Tag](tags, "tags")
	return r, err
}

// CreateRole implements store.Store.
func (s *Store) CreateRole(ctx context.Context, r store.Role) error {
	return s.write(ctx, "create role", func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, "INSERT INTO roles (name_key, "+roleCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			roleKey(r.Name), r.Name, r.Path, r.ID, r.TrustPolicy, r.Description, r.MaxSessionDuration,
			r.PermissionsBoundary, encodeJSON(r.Tags), encodeTime(r.CreateDate), encodeTime(r.LastUsed), r.LastUsedRegion)
		return err
	})
}

// GetRole implements store.Store; the name matches case-insensitively.
func (s *Store) GetRole(ctx context.Context, name string) (store.Role, error) {
	var r store.Role
	err := s.read(ctx, "get role", func(ctx context.Context, q querier) (err error) {
		r, err = scanRole(q.QueryRowContext(ctx, "SELECT "+roleCols+" FROM roles WHERE name_key = ?", roleKey(name)))
		return err
	})
	return r, err
}

// ListRoles implements store.Store; roles come ordered by name, case-insensitively.
func (s *Store) ListRoles(ctx context.Context) ([]store.Role, error) {
	var rs []store.Role
	err := s.read(ctx, "list roles", func(ctx context.Context, q querier) (err error) {
		rs, err = list(ctx, q, scanRole, "SELECT "+roleCols+" FROM roles ORDER BY name_key")
		return err
	})
	return rs, err
}

// UpdateRole implements store.Store. The name cannot change.
func (s *Store) UpdateRole(ctx context.Context, name string, fn func(*store.Role) error) error {
	return s.write(ctx, "update role", func(ctx context.Context, q querier) error {
		r, err := scanRole(q.QueryRowContext(ctx, "SELECT "+roleCols+" FROM roles WHERE name_key = ?"+s.d.forUpdate, roleKey(name)))
		if err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return callerError{err}
		}
		_, err = q.ExecContext(ctx, `UPDATE roles SET path = ?, id = ?, trust_policy = ?, description = ?,
			max_session_duration = ?, permissions_boundary = ?, tags = ?, create_date = ?, last_used = ?,
			last_used_region = ? WHERE name_key = ?`,
			r.Path, r.ID, r.TrustPolicy, r.Description, r.MaxSessionDuration, r.PermissionsBoundary,
			encodeJSON(r.Tags), encodeTime(r.CreateDate), encodeTime(r.LastUsed), r.LastUsedRegion, roleKey(name))
		return err
	})
}

// RecordRoleUse implements store.Store. It leaves the version alone.
func (s *Store) RecordRoleUse(ctx context.Context, region string, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	return s.writeTx(ctx, "record role use", false, func(ctx context.Context, q querier) error {
		for name, t := range uses {
			if _, err := q.ExecContext(ctx, `UPDATE roles SET last_used = ?, last_used_region = ?
				WHERE name_key = ? AND (last_used IS NULL OR last_used < ?)`,
				encodeTime(t), region, roleKey(name), encodeTime(t)); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteRole implements store.Store.
func (s *Store) DeleteRole(ctx context.Context, name string) error {
	key := roleKey(name)
	return s.write(ctx, "delete role", func(ctx context.Context, q querier) error {
		if err := mustExist(ctx, q, "role "+name, "SELECT 1 FROM roles WHERE name_key = ?", key); err != nil {
			return err
		}
		inUse, err := exists(ctx, q, `SELECT 1 FROM role_policies WHERE role_key = ?
			UNION ALL SELECT 1 FROM attachments WHERE role_key = ?`, key, key)
		if err != nil {
			return err
		}
		if inUse {
			return fmt.Errorf("role %s has inline or attached policies: %w", name, store.ErrConflict)
		}
		_, err = q.ExecContext(ctx, "DELETE FROM roles WHERE name_key = ?", key)
		return err
	})
}

func scanRolePolicy(sc scanner) (store.RolePolicy, error) {
	var p store.RolePolicy
	err := sc.Scan(&p.RoleName, &p.Name, &p.Document)
	return p, err
}

const rolePolicySelect = "SELECT r.name, p.name, p.document FROM role_policies p JOIN roles r ON r.name_key = p.role_key"

// PutRolePolicy implements store.Store.
func (s *Store) PutRolePolicy(ctx context.Context, p store.RolePolicy) error {
	key := roleKey(p.RoleName)
	return s.write(ctx, "put role policy", func(ctx context.Context, q querier) error {
		if err := mustExist(ctx, q, "role "+p.RoleName, "SELECT 1 FROM roles WHERE name_key = ?", key); err != nil {
			return err
		}
		_, err := q.ExecContext(ctx, `INSERT INTO role_policies (role_key, name, document) VALUES (?, ?, ?)
			ON CONFLICT (role_key, name) DO UPDATE SET document = excluded.document`, key, p.Name, p.Document)
		return err
	})
}

// GetRolePolicy implements store.Store.
func (s *Store) GetRolePolicy(ctx context.Context, role, name string) (store.RolePolicy, error) {
	var p store.RolePolicy
	err := s.read(ctx, "get role policy", func(ctx context.Context, q querier) (err error) {
		p, err = scanRolePolicy(q.QueryRowContext(ctx, rolePolicySelect+" WHERE p.role_key = ? AND p.name = ?", roleKey(role), name))
		return err
	})
	return p, err
}

// DeleteRolePolicy implements store.Store.
func (s *Store) DeleteRolePolicy(ctx context.Context, role, name string) error {
	return s.write(ctx, "delete role policy", func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, "DELETE FROM role_policies WHERE role_key = ? AND name = ?", roleKey(role), name)
		return affected(res, err, "role policy "+role+"/"+name)
	})
}

// ListRolePolicies implements store.Store.
func (s *Store) ListRolePolicies(ctx context.Context, role string) ([]store.RolePolicy, error) {
	var ps []store.RolePolicy
	err := s.read(ctx, "list role policies", func(ctx context.Context, q querier) (err error) {
		if err := mustExist(ctx, q, "role "+role, "SELECT 1 FROM roles WHERE name_key = ?", roleKey(role)); err != nil {
			return err
		}
		ps, err = list(ctx, q, scanRolePolicy, rolePolicySelect+" WHERE p.role_key = ? ORDER BY p.name", roleKey(role))
		return err
	})
	return ps, err
}
