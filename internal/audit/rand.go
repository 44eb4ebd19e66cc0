package audit

import (
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"

	"github.com/google/uuid"
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
	id, err := uuid.NewRandomFromReader(r)
	if err != nil { // cannot happen: Read never fails
		panic(err)
	}
	return id.String()
}
