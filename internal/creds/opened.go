package creds

import (
	"slices"
	"strings"
	"sync"
)

// maxOpened bounds the sessions a Sealer keeps opened: about a kilobyte
// each, and what fits is the tokens of the jobs signing calls right now.
const maxOpened = 1024

// openedCache keeps the sessions of tokens Open authenticated lately, keyed
// by the token's full text and the access key id it was opened for (the
// pair the seal binds). A Sealer's keys never change, so an entry can only
// go stale by expiring, which Open checks on every hit. Callers get copies
// of the sessions' lists, never the cached ones.
type openedCache struct {
	mu sync.RWMutex
	m  map[openedKey]openedSession
}

type openedKey struct{ accessKeyID, token string }

type openedSession struct {
	sess   Session
	secret string
}

func (c *openedCache) get(accessKeyID, token string) (Session, string, bool) {
	c.mu.RLock()
	o, ok := c.m[openedKey{accessKeyID, token}]
	c.mu.RUnlock()
	if !ok {
		return Session{}, "", false
	}
	s := o.sess
	s.Tags = slices.Clone(s.Tags)
	s.TransitiveTagKeys = slices.Clone(s.TransitiveTagKeys)
	s.PolicyARNs = slices.Clone(s.PolicyARNs)
	return s, o.secret, true
}

// put keeps a session Open authenticated. Past maxOpened entries one is
// dropped, whichever the map's iteration gives first (a random one).
func (c *openedCache) put(accessKeyID, token string, sess Session, secret string) {
	// Clones: the arguments may be pieces of a larger request string,
	// which the cache must not keep alive. The session's strings are
	// substrings of its own opened record.
	k := openedKey{strings.Clone(accessKeyID), strings.Clone(token)}
	sess.Tags = slices.Clone(sess.Tags)
	sess.TransitiveTagKeys = slices.Clone(sess.TransitiveTagKeys)
	sess.PolicyARNs = slices.Clone(sess.PolicyARNs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[openedKey]openedSession)
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= maxOpened {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = openedSession{sess: sess, secret: secret}
}
