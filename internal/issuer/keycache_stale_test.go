package issuer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/store"

	"github.com/keylessci/keyless/internal/testkit"
)

// faultyStore fails the reads KeySet makes with err while err is set.
type faultyStore struct {
	Store
	err atomic.Pointer[error]
}

func (f *faultyStore) fail(err error) { f.err.Store(&err) }

func (f *faultyStore) failure() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (f *faultyStore) GetIssuerByURL(ctx context.Context, url string) (store.Issuer, error) {
	if err := f.failure(); err != nil {
		return store.Issuer{}, err
	}
	return f.Store.GetIssuerByURL(ctx, url)
}

func (f *faultyStore) ListSigningKeys(ctx context.Context, id string) ([]store.SigningKey, error) {
	if err := f.failure(); err != nil {
		return nil, err
	}
	return f.Store.ListSigningKeys(ctx, id)
}

// TestKeySetStaleWhileStoreDown: while the store is unavailable, KeySet
// keeps answering from its last answer (bounded), so token exchanges for
// hosted issuers survive a database outage; other errors are never masked.
func TestKeySetStaleWhileStoreDown(t *testing.T) {
	ctx := context.Background()
	down := fmt.Errorf("sqlstore: get issuer: %w: connection refused", store.ErrUnavailable)
	tests := []struct {
		name    string
		warm    bool          // look up once while the store is up
		fault   error         // then the store fails with this
		advance time.Duration // and the clock moves this far
		wantErr error         // nil: the cached set is served
	}{
		{"served after the TTL while the store is down", true, down, keySetTTL + time.Second, nil},
		{"served until just before the stale bound", true, down, keySetStaleMax - time.Second, nil},
		{"not served past the stale bound", true, down, keySetStaleMax, store.ErrUnavailable},
		{"nothing cached, nothing served", false, down, 0, store.ErrUnavailable},
		{"other errors are not masked", true, errors.New("boom"), keySetTTL + time.Second, errors.New("boom")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &faultyStore{Store: testkit.Store(t)}
			clk := testkit.NewClock(time.Time{})
			s, err := New(Config{Store: st, KeyEncryption: testAEAD(t), Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			is, err := s.Create(ctx, CreateRequest{OrgID: testOrg, Alg: "ES256"})
			if err != nil {
				t.Fatal(err)
			}
			if tt.warm {
				if _, ok, err := s.KeySet(ctx, is.URL); !ok || err != nil {
					t.Fatalf("warm KeySet: ok %v err %v", ok, err)
				}
			}
			st.fail(tt.fault)
			clk.Advance(tt.advance)
			set, ok, err := s.KeySet(ctx, is.URL)
			if tt.wantErr == nil {
				if err != nil || !ok || len(set.Keys) != 1 {
					t.Fatalf("KeySet = %v, ok %v, err %v; want the cached set", set, ok, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("KeySet = ok %v, no error; want %v", ok, tt.wantErr)
			}
			if errors.Is(tt.wantErr, store.ErrUnavailable) && !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("error %v, want it to wrap ErrUnavailable", err)
			}
		})
	}
}

func TestKeySetCacheStaleBounds(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	set := &jose.JSONWebKeySet{}
	tests := []struct {
		name  string
		ends  []time.Time
		now   time.Time
		found bool
	}{
		{"within the bound", nil, at.Add(time.Minute), true},
		{"at the bound", nil, at.Add(keySetStaleMax), false},
		{"before a PublishEnd", []time.Time{at.Add(2 * time.Minute)}, at.Add(time.Minute), true},
		{"at a PublishEnd", []time.Time{at.Add(2 * time.Minute)}, at.Add(2 * time.Minute), false},
		{"past the earliest PublishEnd", []time.Time{at.Add(time.Hour), at.Add(30 * time.Second)}, at.Add(time.Minute), false},
		{"a PublishEnd already past when computed is ignored", []time.Time{at.Add(-time.Minute)}, at.Add(time.Minute), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c keySetCache
			c.put("u", 0, newKeySetEntry(set, true, at, tt.ends))
			if _, found := c.stale("u", tt.now); found != tt.found {
				t.Errorf("stale found = %v, want %v", found, tt.found)
			}
		})
	}
}
