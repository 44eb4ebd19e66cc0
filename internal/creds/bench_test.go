package creds

import (
	"testing"

	"github.com/keylessci/keyless/internal/testkit"
)

// BenchmarkMint measures minting credentials for a web-identity session.
func BenchmarkMint(b *testing.B) {
	s := newSealer(b, testkit.NewClock(t0), key(1))
	sess := fullSession()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Mint(sess); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens the same token again and again, as a CI job's calls
// do (every signed call made with temporary credentials opens its token):
// after the first, from the cache of opened sessions.
func BenchmarkOpen(b *testing.B) { benchOpen(b, (*Sealer).Open) }

// BenchmarkOpenUncached is what a token's first Open costs: decode,
// decrypt, decode the record.
func BenchmarkOpenUncached(b *testing.B) { benchOpen(b, (*Sealer).openToken) }

func benchOpen(b *testing.B, open func(s *Sealer, accessKeyID, token string) (Session, string, error)) {
	s := newSealer(b, testkit.NewClock(t0), key(2), key(1))
	c, err := s.Mint(fullSession())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := open(s, c.AccessKeyID, c.SessionToken); err != nil {
			b.Fatal(err)
		}
	}
}
