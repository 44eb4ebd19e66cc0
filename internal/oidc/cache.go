package oidc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// Fetcher fetches and caches the key sets of external OIDC providers.
// It is safe for concurrent use. Each issuer (with its thumbprint list) has
// its own cache entry and its own in-flight fetch, so a slow or hanging
// provider only delays requests for that provider.
type Fetcher struct {
	cfg   FetcherConfig
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	keys      *jose.JSONWebKeySet // last good set; nil before the first success
	expires   time.Time           // keys are fresh until then
	attempted time.Time           // last network fetch, successful or not
	err       error               // last fetch failure; nil after a success
}

// NewFetcher returns a Fetcher with cfg's zero values replaced by defaults.
func NewFetcher(cfg FetcherConfig) *Fetcher {
	cfg.setDefaults()
	return &Fetcher{cfg: cfg, entries: make(map[string]*cacheEntry)}
}

// Keys returns the key set of issuer, a registered provider's https URL,
// trusting its TLS chain through the configured roots or, failing that,
// thumbprints. kid is the token's key id ("" if none): when the cached set
// lacks it, the set is refetched, at most once per RefetchInterval. When a
// refresh fails, the previous set is served if it still has kid and expired
// less than MaxStale ago.
//
// Errors are InvalidIdentityToken: "OpenIDConnect provider's HTTPS
// certificate doesn't match configured thumbprint" for a TLS trust failure,
// "Couldn't retrieve verification key…" for anything else.
func (f *Fetcher) Keys(ctx context.Context, issuer string, thumbprints []string, kid string) (*jose.JSONWebKeySet, error) {
	if _, err := httpsURL(issuer); err != nil {
		return nil, errKeyRetrieval.Wrap(fmt.Errorf("issuer: %w", err))
	}
	tps := normalizeThumbprints(thumbprints)
	key := cacheKey(issuer, tps)
	now := f.cfg.Now()

	f.mu.Lock()
	var e cacheEntry
	if p := f.entries[key]; p != nil {
		e = *p
	}
	f.mu.Unlock()

	fresh := e.keys != nil && now.Before(e.expires)
	if fresh && hasKID(e.keys, kid) {
		return e.keys, nil
	}
	if !e.attempted.IsZero() && now.Sub(e.attempted) < f.cfg.RefetchInterval {
		// Fetched moments ago: do not hit the provider again. Serve what
		// there is; Verify reports a kid that is still unknown.
		switch {
		case e.keys != nil && (fresh || e.err == nil || f.usableStale(&e, now, kid)):
			return e.keys, nil
		case e.err != nil:
			return nil, publicFetchError(e.err)
		default:
			return nil, errKeyRetrieval.Wrap(fmt.Errorf("no key set for %s", issuer))
		}
	}

	ch := f.group.DoChan(key, func() (any, error) {
		return f.refresh(ctx, key, issuer, tps)
	})
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		return nil, errKeyRetrieval.Wrap(fmt.Errorf("waiting for %s: %w", issuer, ctx.Err()))
	}
	if res.Err == nil {
		return res.Val.(*jose.JSONWebKeySet), nil
	}
	if e.keys != nil && f.usableStale(&e, now, kid) {
		return e.keys, nil // stale-if-error
	}
	return nil, publicFetchError(res.Err)
}

// refresh runs one fetch (inside the singleflight group) and records the
// outcome. Its context is detached from the first caller's cancellation so
// that the callers merged into it are not failed by one of them leaving.
func (f *Fetcher) refresh(ctx context.Context, key, issuer string, tps []string) (*jose.JSONWebKeySet, error) {
	set, ttl, err := f.fetchKeySet(context.WithoutCancel(ctx), issuer, tps)
	if f.cfg.OnFetch != nil {
		f.cfg.OnFetch(issuer, err)
	}
	now := f.cfg.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.entries[key]
	if e == nil {
		e = &cacheEntry{}
		f.entries[key] = e
	}
	e.attempted = now
	if err != nil {
		e.err = fmt.Errorf("fetch key set of %s: %w", issuer, err)
		return nil, e.err
	}
	e.keys, e.expires, e.err = set, now.Add(ttl), nil
	return set, nil
}

func (f *Fetcher) usableStale(e *cacheEntry, now time.Time, kid string) bool {
	return now.Before(e.expires.Add(f.cfg.MaxStale)) && hasKID(e.keys, kid)
}

// publicFetchError maps an internal fetch failure to the AWS error.
func publicFetchError(err error) error {
	if errors.Is(err, errThumbprintMismatch) {
		return errThumbprint.Wrap(err)
	}
	return errKeyRetrieval.Wrap(err)
}

func hasKID(set *jose.JSONWebKeySet, kid string) bool {
	if kid == "" {
		return len(set.Keys) > 0
	}
	return len(set.Key(kid)) > 0
}

// cacheKey separates providers of one issuer URL registered with different
// thumbprints: a set fetched under one trust decision is not served under
// another.
func cacheKey(issuer string, tps []string) string {
	s := slices.Clone(tps)
	slices.Sort(s)
	return issuer + "\x00" + strings.Join(s, ",")
}
