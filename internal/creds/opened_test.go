package creds

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/testkit"
)

// A token opened once is answered from the cache afterwards; these hold
// the cached answer to what opening it again would say.
func TestOpenedCache(t *testing.T) {
	clock := testkit.NewClock(t0)
	s := newSealer(t, clock, key(1))
	c, err := s.Mint(fullSession())
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Mint(Session{RoleName: "other", Expiration: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	first, secret, err := s.Open(c.AccessKeyID, c.SessionToken)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a repeated open answers the same", func(t *testing.T) {
		again, againSecret, err := s.Open(c.AccessKeyID, c.SessionToken)
		if err != nil || againSecret != secret {
			t.Fatalf("Open = %v, secret %q (want %q)", err, againSecret, secret)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("session (-first +again):\n%s", diff)
		}
	})
	t.Run("changing an answer's lists leaves the cache alone", func(t *testing.T) {
		got, _, err := s.Open(c.AccessKeyID, c.SessionToken)
		if err != nil {
			t.Fatal(err)
		}
		got.Tags[0].Value, got.PolicyARNs[0], got.TransitiveTagKeys[0] = "changed", "changed", "changed"
		again, _, err := s.Open(c.AccessKeyID, c.SessionToken)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("session (-first +again):\n%s", diff)
		}
	})
	t.Run("the token under another access key id is refused", func(t *testing.T) {
		_, _, err := s.Open(other.AccessKeyID, c.SessionToken)
		checkCode(t, err, awserr.CodeInvalidClientTokenID)
	})
	t.Run("another token under this access key id is refused", func(t *testing.T) {
		_, _, err := s.Open(c.AccessKeyID, other.SessionToken)
		checkCode(t, err, awserr.CodeInvalidClientTokenID)
	})
	t.Run("a Sealer without the key refuses what this one cached", func(t *testing.T) {
		_, _, err := newSealer(t, clock, key(2)).Open(c.AccessKeyID, c.SessionToken)
		checkCode(t, err, awserr.CodeInvalidClientTokenID)
	})
	t.Run("a cached session expires", func(t *testing.T) {
		clock.Set(first.Expiration)
		defer clock.Set(t0)
		_, _, err := s.Open(c.AccessKeyID, c.SessionToken)
		checkCode(t, err, awserr.CodeExpiredToken)
	})
	t.Run("the cache is bounded", func(t *testing.T) {
		for i := range maxOpened + 10 {
			cr, err := s.Mint(Session{RoleName: fmt.Sprint("r", i), Expiration: t0.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Open(cr.AccessKeyID, cr.SessionToken); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(s.opened.m); n > maxOpened {
			t.Errorf("%d sessions cached, at most %d allowed", n, maxOpened)
		}
		if _, _, err := s.Open(c.AccessKeyID, c.SessionToken); err != nil {
			t.Errorf("a token dropped from the cache no longer opens: %v", err)
		}
	})
}
