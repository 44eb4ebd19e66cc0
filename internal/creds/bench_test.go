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

// BenchmarkOpen measures opening a session token, done on every signed call
// made with temporary credentials.
// BenchmarkOpen opens the same token again and again, as a CI job's calls
// do: after the first, from the cache of opened sessions.
func BenchmarkOpen(b *testing.B) {
	s := newSealer(b, testkit.NewClock(t0), key(2), key(1))
	c, err := s.Mint(fullSession())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Open(c.AccessKeyID, c.SessionToken); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenUncached is what a token's first Open costs: decode,
// decrypt, decode the record.
func BenchmarkOpenUncached(b *testing.B) {
	s := newSealer(b, testkit.NewClock(t0), key(2), key(1))
	c, err := s.Mint(fullSession())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.openToken(c.AccessKeyID, c.SessionToken); err != nil {
			b.Fatal(err)
		}
	}
}
