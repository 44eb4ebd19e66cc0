package sigv4

import (
	"bytes"
	"fmt"
	"testing"
)

func TestSigningKeyCache(t *testing.T) {
	want := deriveKey("secret", "20260101", "us-east-1", "sts")
	for range 2 { // miss, then hit
		if got := signingKey("secret", "20260101", "us-east-1", "sts"); !bytes.Equal(got, want) {
			t.Fatalf("cached key %x, want %x", got, want)
		}
	}
	// Fields are length-prefixed: moving a boundary gives another key.
	if bytes.Equal(signingKey("secret2", "0260101", "us-east-1", "sts"), want) {
		t.Fatal("ambiguous cache key")
	}
	for i := range maxCachedKeys + 10 {
		signingKey(fmt.Sprint("s", i), "20260101", "us-east-1", "sts")
	}
	keyCache.Lock()
	n := len(keyCache.m)
	keyCache.Unlock()
	if n > maxCachedKeys {
		t.Fatalf("cache holds %d keys, bound is %d", n, maxCachedKeys)
	}
}
