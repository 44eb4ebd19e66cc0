package cli

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// The server's memory limit. Go's collector lets the heap grow to twice
// what is live (GOGC=100) before it collects; a server holding 10,000
// compiled roles (about 30 MiB of them live) then sat near 128 MiB. "auto", the
// default, sets Go's soft memory limit to one and a half times the live
// heap, never below autoMemFloor: a small server collects as Go always
// does, a large one keeps half its live heap as headroom instead of all of
// it. Following the live heap means the limit can never fall below what
// the server needs and make the collector run without end.
const (
	autoMemFloor    = 64 << 20
	autoMemInterval = 10 * time.Second
)

// memoryLimit is --memory-limit: auto, off, or a size (512MiB, 1GiB,
// 200000000).
type memoryLimit struct {
	auto  bool
	bytes int64 // 0: no limit (off)
}

func parseMemoryLimit(s string) (memoryLimit, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return memoryLimit{auto: true}, nil
	case "off", "0":
		return memoryLimit{}, nil
	}
	units := []struct {
		suffix string
		mul    int64
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"b", 1}}
	num, mul := strings.ToLower(s), int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mul = n, u.mul
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mul || n*mul < 16<<20 {
		return memoryLimit{}, fmt.Errorf("--memory-limit %q: want auto, off or a size of at least 16MiB such as 256MiB or 1GiB", s)
	}
	return memoryLimit{bytes: n * mul}, nil
}

// apply sets Go's memory limit as m says and, for auto, keeps it following
// the live heap until ctx ends. An explicit GOMEMLIMIT in the environment
// wins over auto (the runtime has applied it already).
func (m memoryLimit) apply(ctx context.Context, getenv func(string) string) {
	switch {
	case m.bytes > 0:
		debug.SetMemoryLimit(m.bytes)
	case !m.auto:
		debug.SetMemoryLimit(math.MaxInt64)
	case getenv("GOMEMLIMIT") != "":
	default:
		debug.SetMemoryLimit(autoLimit(liveHeap()))
		go func() {
			t := time.NewTicker(autoMemInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					debug.SetMemoryLimit(autoLimit(liveHeap()))
				}
			}
		}()
	}
}

// autoLimit is the auto limit for a live heap of live bytes.
func autoLimit(live uint64) int64 {
	return max(autoMemFloor, int64(live+live/2))
}

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
