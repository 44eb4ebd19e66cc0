package issuer

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/store"

	"github.com/keylessci/keyless/internal/testkit"
)

// countingStore counts the reads KeySet makes.
type countingStore struct {
	Store
	reads atomic.Int64
}

func (c *countingStore) GetIssuerByURL(ctx context.Context, url string) (store.Issuer, error) {
	c.reads.Add(1)
	return c.Store.GetIssuerByURL(ctx, url)
}

func (c *countingStore) ListSigningKeys(ctx context.Context, id string) ([]store.SigningKey, error) {
	c.reads.Add(1)
	return c.Store.ListSigningKeys(ctx, id)
}

func TestKeySetCache(t *testing.T) {
	ctx := context.Background()
	type env struct {
		s   *Service
		st  *countingStore
		clk *testkit.Clock
		url string
	}
	keys := func(t *testing.T, e env) int {
		t.Helper()
		set, ok, err := e.s.KeySet(ctx, e.url)
		if err != nil || !ok {
			t.Fatalf("KeySet = ok %v, err %v", ok, err)
		}
		return len(set.Keys)
	}
	tests := []struct {
		name string
		run  func(t *testing.T, e env)
	}{
		{"repeated lookups read the store once", func(t *testing.T, e env) {
			keys(t, e)
			n := e.st.reads.Load()
			for range 5 {
				keys(t, e)
			}
			if got := e.st.reads.Load() - n; got != 0 {
				t.Errorf("%d store reads for cached lookups", got)
			}
		}},
		{"not hosted is cached too", func(t *testing.T, e env) {
			for range 3 {
				if _, ok, err := e.s.KeySet(ctx, "https://elsewhere.example"); ok || err != nil {
					t.Fatalf("ok %v err %v", ok, err)
				}
			}
			if got := e.st.reads.Load(); got != 1 {
				t.Errorf("%d store reads, want 1", got)
			}
		}},
		{"a local rotation is visible at once", func(t *testing.T, e env) {
			if n := keys(t, e); n != 1 {
				t.Fatalf("%d keys", n)
			}
			if err := e.s.Rotate(ctx, testOrg); err != nil {
				t.Fatal(err)
			}
			if n := keys(t, e); n != 2 {
				t.Errorf("%d keys after rotation, want 2", n)
			}
		}},
		{"a local delete is visible at once", func(t *testing.T, e env) {
			keys(t, e)
			if err := e.s.Delete(ctx, testOrg); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := e.s.KeySet(ctx, e.url); ok || err != nil {
				t.Errorf("deleted issuer still hosted: ok %v err %v", ok, err)
			}
		}},
		{"another replica's write is visible after the TTL", func(t *testing.T, e env) {
			keys(t, e)
			// Another replica rotates: the write bypasses this Service.
			other, err := New(Config{Store: e.st.Store, KeyEncryption: testAEAD(t), Now: e.clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			if err := other.Rotate(ctx, testOrg); err != nil {
				t.Fatal(err)
			}
			if n := keys(t, e); n != 1 {
				t.Errorf("%d keys within the TTL, want the cached 1", n)
			}
			e.clk.Advance(keySetTTL)
			if n := keys(t, e); n != 2 {
				t.Errorf("%d keys after the TTL, want 2", n)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := testkit.Store(t)
			st := &countingStore{Store: fs}
			clk := testkit.NewClock(time.Time{})
			s, err := New(Config{Store: st, KeyEncryption: testAEAD(t), Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			is, err := s.Create(ctx, CreateRequest{OrgID: testOrg, Alg: "ES256"})
			if err != nil {
				t.Fatal(err)
			}
			st.reads.Store(0)
			tt.run(t, env{s: s, st: st, clk: clk, url: is.URL})
		})
	}
}

func TestKeySetExpiry(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ends []time.Time
		want time.Time
	}{
		{"no scheduled ends", nil, now.Add(keySetTTL)},
		{"an end within the TTL cuts it short", []time.Time{now.Add(keySetTTL / 4)}, now.Add(keySetTTL / 4)},
		{"the earliest end wins", []time.Time{now.Add(keySetTTL / 2), now.Add(keySetTTL / 4)}, now.Add(keySetTTL / 4)},
		{"an end after the TTL does not extend it", []time.Time{now.Add(time.Hour)}, now.Add(keySetTTL)},
		{"a past end is ignored", []time.Time{now.Add(-time.Second)}, now.Add(keySetTTL)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expiry(now, tt.ends); !got.Equal(tt.want) {
				t.Errorf("expiry = %v, want %v", got, tt.want)
			}
		})
	}
}
