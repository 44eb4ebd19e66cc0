package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// detRand is a deterministic byte stream (SHA-256 in counter mode over a
// seed), so that a witness is the same on every run: reports are stable and
// golden files do not churn. It is not a secret and not used as one.
type detRand struct {
	seed string
	n    uint64
	buf  []byte
}

func newRand(seed string) *detRand { return &detRand{seed: seed} }

func (r *detRand) Read(p []byte) (int, error) {
	for i := range p {
		if len(r.buf) == 0 {
			var c [8]byte
			binary.BigEndian.PutUint64(c[:], r.n)
			r.n++
			h := sha256.Sum256(append([]byte(r.seed), c[:]...))
			r.buf = h[:]
		}
		p[i], r.buf = r.buf[0], r.buf[1:]
	}
	return len(p), nil
}

func (r *detRand) hex(n int) string {
	b := make([]byte, n)
	_, _ = r.Read(b)
	return hex.EncodeToString(b)
}

func (r *detRand) uuid() string {
	b := make([]byte, 16)
	_, _ = r.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
