package creds

import (
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/testkit"
)

// FuzzOpen feeds arbitrary access key ids and tokens to Open. It must never
// panic, must fail with InvalidClientTokenId (never anything else: the one
// genuine token is not expired at the fuzz clock), and may succeed only for
// the genuine pair. The committed corpus is in testdata/fuzz/FuzzOpen.
func FuzzOpen(f *testing.F) {
	clock := testkit.NewClock(t0)
	s, err := New(Config{Keys: [][]byte{key(1)}, Now: clock.Now, Rand: &detRand{seed: "FuzzOpen"}})
	if err != nil {
		f.Fatal(err)
	}
	c, err := s.Mint(fullSession())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.AccessKeyID, c.SessionToken)
	f.Add(c.AccessKeyID, c.SessionToken[:len(c.SessionToken)/2])
	f.Add("ASIAABCDEFGHIJKLMNOP", "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, akid, token string) {
		sess, secret, err := s.Open(akid, token)
		if err == nil {
			if akid != c.AccessKeyID || token != c.SessionToken || secret != c.SecretAccessKey {
				t.Fatalf("forged credentials opened: %q %q", akid, token)
			}
			if !sess.Expiration.Equal(t0.Add(time.Hour)) {
				t.Fatalf("expiration %s", sess.Expiration)
			}
			return
		}
		if e := awserr.As(err); e == nil || e.Code != awserr.CodeInvalidClientTokenID || e.Status != 403 {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
