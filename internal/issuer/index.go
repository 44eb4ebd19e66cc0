package issuer

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/store"
)

// pathIndex maps the path of every issuer's URL (no trailing slash) to the
// issuers at that path, so an unauthenticated discovery or JWKS request
// costs a map lookup, not a listing of every issuer. It is built from the
// store on first use and dropped on this process's writes and when the
// store version moves (Invalidate, called by the server's cache poll).
type pathIndex struct {
	mu     sync.Mutex
	byPath map[string][]store.Issuer // nil: not built
}

func (x *pathIndex) invalidate() {
	x.mu.Lock()
	x.byPath = nil
	x.mu.Unlock()
}

// lookup returns the issuers at path, building the index if needed (one
// builder at a time; the others wait for its result).
func (x *pathIndex) lookup(ctx context.Context, list func(context.Context) ([]store.Issuer, error), path string) ([]store.Issuer, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byPath == nil {
		all, err := list(ctx)
		if err != nil {
			return nil, err
		}
		m := make(map[string][]store.Issuer, len(all))
		for _, is := range all {
			u, err := url.Parse(is.URL)
			if err != nil {
				continue
			}
			p := strings.TrimSuffix(u.Path, "/")
			m[p] = append(m[p], is)
		}
		x.byPath = m
	}
	return x.byPath[path], nil
}

// Invalidate drops the path index; the next well-known request rebuilds
// it. The server calls it when another writer changed the store.
func (s *Service) Invalidate() { s.index.invalidate() }

// checkQuota refuses a new issuer when the store already holds MaxIssuers.
func (s *Service) checkQuota(ctx context.Context) error {
	all, err := s.store.ListIssuers(ctx)
	if err != nil {
		return fmt.Errorf("count issuers: %w", err)
	}
	if len(all) >= s.maxIssuers {
		return awserr.Newf(awserr.CodeLimitExceeded, http.StatusConflict, "Cannot exceed quota for IssuersPerAccount: %d", s.maxIssuers)
	}
	return nil
}
