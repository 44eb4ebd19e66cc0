package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// usageRecorder notes when roles are assumed and writes RoleLastUsed
// (date and this server's region) in batches, off the request path: AWS
// also reports it with a delay, and a store write per exchange would put a
// disk sync on the hot path. The store does not count these writes as
// changes, so they never flush any replica's caches.
type usageRecorder struct {
	st interface {
		RecordRoleUse(ctx context.Context, name string, t time.Time, region string) error
	}
	region string

	mu      sync.Mutex
	pending map[string]time.Time
}

// used records that role was assumed at t.
func (u *usageRecorder) used(role string, t time.Time) {
	u.mu.Lock()
	if u.pending == nil {
		u.pending = map[string]time.Time{}
	}
	if t.After(u.pending[role]) {
		u.pending[role] = t
	}
	u.mu.Unlock()
}

// flush writes what was recorded since the last flush. Roles deleted in
// the meantime are skipped; on a store error the rest is kept for the next
// flush.
func (u *usageRecorder) flush(ctx context.Context) error {
	u.mu.Lock()
	batch := u.pending
	u.pending = nil
	u.mu.Unlock()
	var errs []error
	for role, t := range batch {
		err := u.st.RecordRoleUse(ctx, role, t.UTC(), u.region)
		switch {
		case err == nil, errors.Is(err, store.ErrNotFound):
		default:
			u.used(role, t)
			errs = append(errs, fmt.Errorf("record last use of role %s: %w", role, err))
		}
	}
	return errors.Join(errs...)
}
