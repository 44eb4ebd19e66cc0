package policy

import "strings"

// Context holds the condition keys of one request: case-insensitive names,
// each with one or more string values. A Context is reusable: Reset empties
// it while keeping its storage, so a server can keep one per goroutine (or
// in a sync.Pool) and build each request's keys without allocating.
//
// Evaluation only reads a Context, so several goroutines may evaluate
// against one Context as long as nobody calls Set or Reset meanwhile.
//
// A key set with no values counts as absent: that is how AWS treats an empty
// multivalued key for IfExists, ForAnyValue (false) and ForAllValues (true).
//
// A Context is used through its pointer and never copied: a copy would
// share the first one's storage.
type Context struct {
	entries []ctxEntry
	vals    []string
	// Storage for the usual context (an exchange sets about a dozen keys),
	// allocated with the Context rather than apart from it.
	entryBuf [16]ctxEntry
	valBuf   [16]string
}

type ctxEntry struct {
	key        string
	start, end int
}

// NewContext returns an empty context.
func NewContext() *Context {
	c := &Context{}
	c.entries, c.vals = c.entryBuf[:0], c.valBuf[:0]
	return c
}

// Reset empties c, keeping its storage for reuse.
func (c *Context) Reset() {
	c.entries = c.entries[:0]
	clear(c.vals) // drop references to the previous request's strings
	c.vals = c.vals[:0]
}

// Set sets key (compared case-insensitively) to values, replacing any
// previous values of that key. The values are copied.
func (c *Context) Set(key string, values ...string) {
	start := len(c.vals)
	c.vals = append(c.vals, values...)
	for i := range c.entries {
		if strings.EqualFold(c.entries[i].key, key) {
			c.entries[i].start, c.entries[i].end = start, len(c.vals)
			return
		}
	}
	c.entries = append(c.entries, ctxEntry{key: key, start: start, end: len(c.vals)})
}

// Get returns the values of key (case-insensitive) and whether the key is
// present with at least one value. The slice aliases c's storage: do not
// modify it, and do not keep it past the next Reset.
func (c *Context) Get(key string) ([]string, bool) {
	if c == nil {
		return nil, false
	}
	for i := range c.entries {
		e := &c.entries[i]
		if strings.EqualFold(e.key, key) {
			v := c.vals[e.start:e.end:e.end]
			return v, len(v) > 0
		}
	}
	return nil, false
}

// Keys returns the key names in the order they were first set.
func (c *Context) Keys() []string {
	if c == nil {
		return nil
	}
	keys := make([]string, len(c.entries))
	for i, e := range c.entries {
		keys[i] = e.key
	}
	return keys
}
