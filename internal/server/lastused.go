package server

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// usageRecorder notes when roles are assumed and writes RoleLastUsed
// (date and this server's region) in batches, off the request path: AWS
// also reports it with a delay, and a store write per exchange would put a
// disk sync on the hot path. The store does not count these writes as
// changes, so they never flush any replica's caches.
type usageRecorder struct {
	st interface {
		RecordRoleUse(ctx context.Context, region string, uses map[string]time.Time) error
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

// flush writes what was recorded since the last flush, in one store
// transaction. On a store error the batch is kept for the next flush.
func (u *usageRecorder) flush(ctx context.Context) error {
	u.mu.Lock()
	batch := u.pending
	u.pending = nil
	u.mu.Unlock()
	if err := u.st.RecordRoleUse(ctx, u.region, batch); err != nil {
		for role, t := range batch {
			u.used(role, t)
		}
		return fmt.Errorf("record last use of %d roles: %w", len(batch), err)
	}
	return nil
}
