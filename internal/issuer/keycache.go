package issuer

import (
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keySetTTL bounds how long KeySet serves a cached answer: writes by other
// replicas (a rotation, a new or deleted issuer) are seen within it. Local
// writes clear the cache at once.
const keySetTTL = time.Second

// keySetStaleMax bounds how long after it was computed an answer may still
// be served while the store is unavailable (stale-if-error), so that token
// exchanges for hosted issuers keep working through a short database outage.
// A stale answer is never served past a published key's PublishEnd.
const keySetStaleMax = 10 * time.Minute

// maxKeySets bounds the cache; past it the cache starts over. Lookups only
// happen for registered providers' URLs, so this is never reached in
// practice.
const maxKeySets = 10000

// keySetCache holds KeySet answers by issuer URL, including "not hosted
// here", so the token-exchange hot path does not read the store. An entry
// expires at the next change of its published set (a PublishEnd passing)
// or after keySetTTL, whichever is first. The cached sets are shared and
// must not be modified.
type keySetCache struct {
	mu  sync.RWMutex
	gen uint64 // bumped by clear: an answer computed across a write is not stored
	m   map[string]keySetEntry
}

type keySetEntry struct {
	set   *jose.JSONWebKeySet
	ok    bool
	until time.Time // fresh until
	at    time.Time // computed at
	end   time.Time // earliest PublishEnd after at; zero when none
}

// stale returns the entry of url, expired or not, while it may still stand
// in for a store that cannot be reached.
func (c *keySetCache) stale(url string, now time.Time) (keySetEntry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, hit := c.m[url]
	if !hit || now.Sub(e.at) >= keySetStaleMax || (!e.end.IsZero() && !now.Before(e.end)) {
		return keySetEntry{}, false
	}
	return e, true
}

func (c *keySetCache) get(url string, now time.Time) (keySetEntry, uint64, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, hit := c.m[url]
	return e, c.gen, hit && now.Before(e.until)
}

func (c *keySetCache) put(url string, gen uint64, e keySetEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= maxKeySets {
		c.m = map[string]keySetEntry{}
	}
	c.m[url] = e
}

// clear drops every entry; every local write to issuers or keys calls it.
func (c *keySetCache) clear() {
	c.mu.Lock()
	c.gen++
	c.m = nil
	c.mu.Unlock()
}

// expiry returns when a set computed at now must be recomputed: now +
// keySetTTL, or earlier when a published key's PublishEnd falls before.
func expiry(now time.Time, publishEnds []time.Time) time.Time {
	until := now.Add(keySetTTL)
	if end := firstEnd(now, publishEnds); !end.IsZero() && end.Before(until) {
		until = end
	}
	return until
}

// firstEnd returns the earliest of publishEnds after now, zero when none.
func firstEnd(now time.Time, publishEnds []time.Time) time.Time {
	var first time.Time
	for _, end := range publishEnds {
		if end.After(now) && (first.IsZero() || end.Before(first)) {
			first = end
		}
	}
	return first
}

// newKeySetEntry is the cache entry of an answer computed at now.
func newKeySetEntry(set *jose.JSONWebKeySet, ok bool, now time.Time, publishEnds []time.Time) keySetEntry {
	return keySetEntry{set: set, ok: ok, until: expiry(now, publishEnds), at: now, end: firstEnd(now, publishEnds)}
}
