package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestProgressLines: on a terminal, statuses overwrite each other with
// carriage returns; anywhere else (a CI log) every status is a whole line,
// and a running scenario's counts appear at most every ProgressEvery.
func TestProgressLines(t *testing.T) {
	run := func(lines bool) string {
		var b bytes.Buffer
		cfg := Config{Progress: &b, ProgressLines: lines}
		cfg.setDefaults()
		r := &runner{cfg: cfg}
		r.status("starting moto_server")
		tick := r.ticker("[1] exchange — keyless (1/5)")
		for el := time.Duration(0); el <= 25*time.Second; el += 250 * time.Millisecond {
			tick(el, uint64(el/time.Millisecond), 0)
		}
		r.result("[1] exchange — keyless %8.0f req/s", 1234.0)
		return b.String()
	}
	t.Run("terminal", func(t *testing.T) {
		out := run(false)
		if !strings.Contains(out, "\r") || strings.Count(out, "\n") != 1 {
			t.Errorf("terminal progress should overwrite one line until the result:\n%q", out)
		}
	})
	t.Run("not a terminal", func(t *testing.T) {
		out := run(true)
		if strings.Contains(out, "\r") {
			t.Errorf("carriage return in non-terminal progress:\n%q", out)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		// the status, counts at 10s and 20s, the result
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "starting moto_server") ||
			!strings.Contains(lines[1], " 10.0s ") || !strings.Contains(lines[2], " 20.0s ") || !strings.Contains(lines[3], "req/s") {
			t.Errorf("non-terminal progress lines:\n%s", out)
		}
	})
}
