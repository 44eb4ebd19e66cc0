package sigv4

import (
	"testing"
)

// BenchmarkVerify measures Parse+Verify of an aws-sdk-go-v2-signed STS
// GetCallerIdentity POST (header form, session credentials), the hot path
// of every signed call.
func BenchmarkVerify(b *testing.B) {
	r, body := signedPOST(b, stsBody, nil)
	b.ReportAllocs()
	for b.Loop() {
		s, err := Parse(r)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Verify(r, body, testSecret, signedAt); err != nil {
			b.Fatal(err)
		}
	}
}
