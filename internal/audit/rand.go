package audit

import (
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"
)

// detRand is a deterministic byte stream (PCG seeded from a hash of a
// seed string), so that a witness is the same on every run: reports are
// stable and diffs do not churn. Witness identifiers are not secrets.
type detRand struct {
	pcg *rand.PCG
	buf [8]byte
	n   int
}

func newRand(seed string) *detRand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(seed))
	s := h.Sum64()
	return &detRand{pcg: rand.NewPCG(s, s^0x9e3779b97f4a7c15)}
}

func (r *detRand) Read(p []byte) (int, error) {
	for i := range p {
		if r.n == 0 {
			binary.LittleEndian.PutUint64(r.buf[:], r.pcg.Uint64())
			r.n = 8
		}
		r.n--
		p[i] = r.buf[r.n]
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
