package issuer

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// fakeStore is an in-memory Store.
type fakeStore struct {
	mu      sync.Mutex
	issuers map[string]store.Issuer
	keys    map[string][]store.SigningKey
}

func newFakeStore() *fakeStore {
	return &fakeStore{issuers: map[string]store.Issuer{}, keys: map[string][]store.SigningKey{}}
}

func (f *fakeStore) CreateIssuer(_ context.Context, is store.Issuer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.issuers[is.ID]; ok {
		return fmt.Errorf("issuer %s: %w", is.ID, store.ErrAlreadyExists)
	}
	for _, o := range f.issuers {
		if o.URL == is.URL {
			return fmt.Errorf("issuer url %s: %w", is.URL, store.ErrAlreadyExists)
		}
	}
	f.issuers[is.ID] = is
	return nil
}

func (f *fakeStore) GetIssuer(_ context.Context, id string) (store.Issuer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	is, ok := f.issuers[id]
	if !ok {
		return store.Issuer{}, store.ErrNotFound
	}
	return is, nil
}

func (f *fakeStore) GetIssuerByURL(_ context.Context, url string) (store.Issuer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, is := range f.issuers {
		if is.URL == url {
			return is, nil
		}
	}
	return store.Issuer{}, store.ErrNotFound
}

func (f *fakeStore) ListIssuers(context.Context) ([]store.Issuer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Issuer
	for _, is := range f.issuers {
		out = append(out, is)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeStore) DeleteIssuer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.issuers[id]; !ok {
		return store.ErrNotFound
	}
	delete(f.issuers, id)
	delete(f.keys, id)
	return nil
}

func (f *fakeStore) AddSigningKey(_ context.Context, k store.SigningKey) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.issuers[k.IssuerID]; !ok {
		return store.ErrNotFound
	}
	for _, o := range f.keys[k.IssuerID] {
		if o.KID == k.KID {
			return store.ErrAlreadyExists
		}
	}
	f.keys[k.IssuerID] = append(f.keys[k.IssuerID], k)
	return nil
}

func (f *fakeStore) ListSigningKeys(_ context.Context, id string) ([]store.SigningKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.SigningKey(nil), f.keys[id]...), nil
}

func (f *fakeStore) UpdateSigningKey(_ context.Context, id, kid string, fn func(*store.SigningKey) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, k := range f.keys[id] {
		if k.KID == kid {
			if err := fn(&k); err != nil {
				return err
			}
			f.keys[id][i] = k
			return nil
		}
	}
	return store.ErrNotFound
}

func (f *fakeStore) DeleteSigningKey(_ context.Context, id, kid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ks := f.keys[id]
	for i, k := range ks {
		if k.KID == kid {
			f.keys[id] = append(ks[:i:i], ks[i+1:]...)
			return nil
		}
	}
	return store.ErrNotFound
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testAEAD(t testing.TB) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// newTestService returns a service on a fake store and clock.
func newTestService(t testing.TB) (*Service, *fakeStore, *fakeClock) {
	t.Helper()
	st := newFakeStore()
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, err := New(Config{Store: st, KeyEncryption: testAEAD(t), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, st, clk
}
