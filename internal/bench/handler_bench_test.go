package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
)

// handlerWorld starts an in-process server and sets up the benchmark world
// over HTTP; the benchmarks then call the handler directly, without the
// network, so the profile shows only the server's own work.
func handlerWorld(b *testing.B, opts ...servertest.Options) (http.Handler, *World) {
	h, w, _ := handlerServer(b, opts...)
	return h, w
}

// handlerServer is handlerWorld that also returns the server.
func handlerServer(b *testing.B, opts ...servertest.Options) (http.Handler, *World, *servertest.Server) {
	b.Helper()
	// Logging as `keyless serve` does by default: JSON at info level.
	s := servertest.Start(b, append([]servertest.Options{func(c *server.Config) {
		c.Log = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}}, opts...)...)
	hc := NewClient(2)
	w, err := Setup(context.Background(), hc, s.URL, aws.Credentials{AccessKeyID: servertest.RootAccessKeyID,
		SecretAccessKey: servertest.RootSecretKey}, 4)
	if err != nil {
		b.Fatal(err)
	}
	return s.Handler(), w, s
}

func serveOK(b *testing.B, h http.Handler, req *http.Request, element string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<"+element+">") {
		b.Fatalf("HTTP %d: %s", rec.Code, clip(rec.Body.Bytes()))
	}
}

// BenchmarkHandlerAssumeRoleWithWebIdentity is a full exchange through the
// server's handler: decode, token parse and verify, provider and role
// lookup, trust policy, sealed session token, XML.
func BenchmarkHandlerAssumeRoleWithWebIdentity(b *testing.B) {
	h, w := handlerWorld(b)
	benchExchanges(b, h, w)
}

// benchExchanges runs RS256 and ES256 exchanges through h, one
// sub-benchmark each.
func benchExchanges(b *testing.B, h http.Handler, w *World) {
	for _, o := range []struct {
		name string
		org  Org
	}{{"RS256", w.RS}, {"ES256", w.ES}} {
		b.Run(o.name, func(b *testing.B) {
			build := webIdentity([]string{o.org.RoleARN}, o.org.Tokens)
			loopCPU(b, func(i int) {
				req, err := build(uint64(i), w.Endpoint)
				if err != nil {
					b.Fatal(err)
				}
				serveOK(b, h, req, "SessionToken")
			})
		})
	}
}

// BenchmarkHandlerGetCallerIdentity is a SigV4-signed call with session
// credentials through the server's handler: SigV4 verify, session token
// open, XML.
func BenchmarkHandlerGetCallerIdentity(b *testing.B) {
	h, w := handlerWorld(b)
	benchCallerIdentity(b, h, w)
}

// benchCallerIdentity runs GetCallerIdentity, signed with the session
// credentials of w, through h.
func benchCallerIdentity(b *testing.B, h http.Handler, w *World) {
	s, err := sign(context.Background(), w.Temp, http.MethodPost, w.Endpoint, "/", "sts", formType,
		[]byte("Action=GetCallerIdentity&Version=2011-06-15"))
	if err != nil {
		b.Fatal(err)
	}
	loopCPU(b, func(int) {
		req, err := s.build(w.Endpoint)
		if err != nil {
			b.Fatal(err)
		}
		serveOK(b, h, req, "Account")
	})
}

// BenchmarkHandlerScale compares exchanges for one role with exchanges
// cycling through many roles (all compiled and cached after a warm-up
// pass), through the handler.
func BenchmarkHandlerScale(b *testing.B) {
	h, w := handlerWorld(b)
	const roles = 2000
	arns, _, _, err := Scale(context.Background(), NewClient(8), w, roles, 0, 8, nil)
	if err != nil {
		b.Fatal(err)
	}
	cycling := webIdentity(arns, w.RS.Tokens)
	for i := range roles {
		req, err := cycling(uint64(i), w.Endpoint)
		if err != nil {
			b.Fatal(err)
		}
		serveOK(b, h, req, "SessionToken")
	}
	for _, c := range []struct {
		name string
		req  Request
	}{{"one-role", webIdentity([]string{w.RS.RoleARN}, w.RS.Tokens)}, {"cycling-2000-roles", cycling}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				req, err := c.req(uint64(i), w.Endpoint)
				if err != nil {
					b.Fatal(err)
				}
				serveOK(b, h, req, "SessionToken")
			}
		})
	}
}

// BenchmarkHandlerDecisionLog is the RS256 exchange through the handler
// with the decision log on (the default: a record per exchange, written in
// batches by the writer) and off. It reports the records the full queue
// dropped per exchange: a nonzero value means the writer did not keep up
// and the "on" figure does not include writing every record.
func BenchmarkHandlerDecisionLog(b *testing.B) {
	for _, c := range []struct {
		name string
		off  bool
	}{{"on", false}, {"off", true}} {
		b.Run(c.name, func(b *testing.B) {
			h, w, _ := handlerServer(b, func(cfg *server.Config) { cfg.DecisionsOff = c.off })
			build := webIdentity([]string{w.RS.RoleARN}, w.RS.Tokens)
			before := droppedDecisions(b, h)
			n := 0
			loopCPU(b, func(i int) {
				req, err := build(uint64(i), w.Endpoint)
				if err != nil {
					b.Fatal(err)
				}
				serveOK(b, h, req, "SessionToken")
				n++
			})
			b.ReportMetric((droppedDecisions(b, h)-before)/float64(max(n, 1)), "dropped/op")
		})
	}
}

// droppedDecisions reads keyless_decisions_dropped_total from the server's
// /metrics, as an operator's scraper would (0 when the log is off).
func droppedDecisions(b *testing.B, h http.Handler) float64 {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("GET /metrics: HTTP %d", rec.Code)
	}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "keyless_decisions_dropped_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("metric %q: %v", line, err)
			}
			return n
		}
	}
	return 0
}

// loopCPU runs each in b.Loop and reports cpu-ns/op beside ns/op: the
// process's CPU time per iteration, on all threads. The decision log's
// writer and the garbage collector run beside the handler, on the other
// core, where ns/op does not see them.
func loopCPU(b *testing.B, each func(i int)) {
	b.Helper()
	b.ReportAllocs()
	n := 0
	cpu0 := processCPU(b)
	for i := 0; b.Loop(); i++ {
		each(i)
		n++
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(max(n, 1)), "cpu-ns/op")
}

// processCPU is the user and system CPU time the process has used, on all
// its threads.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandlerFloor is the floor's handler driven the same way as
// keyless's above (same requests, same recorder), so that the handler
// benchmarks give the ratio `keyless bench` measures over the network,
// without the network and the load generator: compare RS256 with
// BenchmarkHandlerAssumeRoleWithWebIdentity/RS256, and so on.
func BenchmarkHandlerFloor(b *testing.B) {
	_, w, s := handlerServer(b)
	var sets []*jose.JSONWebKeySet
	for _, o := range []Org{w.RS, w.ES} {
		set, err := fetchJWKS(context.Background(), NewClient(1), s.URL, o.JWKSURI)
		if err != nil {
			b.Fatal(err)
		}
		sets = append(sets, set)
	}
	fl, err := StartFloor(sets, map[string]string{w.Temp.AccessKeyID: w.Temp.SecretAccessKey})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = fl.Close() })
	floor := http.HandlerFunc(fl.serve)
	benchExchanges(b, floor, w)
	b.Run("GetCallerIdentity", func(b *testing.B) { benchCallerIdentity(b, floor, w) })
}
