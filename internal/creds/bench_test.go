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
