package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus collectors, on a registry of its own
// so that several servers in one test process do not collide.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	fetches  *prometheus.CounterVec
	loops    *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyless_requests_total", Help: "AWS API requests by action and error code (empty code: success).",
		}, []string{"action", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keyless_request_duration_seconds", Help: "AWS API request latency by action.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"action"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyless_jwks_fetches_total", Help: "Remote discovery/JWKS fetches by result.",
		}, []string{"result"}),
		loops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyless_background_runs_total",
			Help: "Completed runs of each background loop (cache_refresh: the store version poll) by result.",
		}, []string{"loop", "result"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.fetches, m.loops,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observe(action, code string, d time.Duration) {
	m.requests.WithLabelValues(action, code).Inc()
	m.latency.WithLabelValues(action).Observe(d.Seconds())
}

func (m *metrics) fetched(_ string, err error) {
	if err != nil {
		m.fetches.WithLabelValues("error").Inc()
		return
	}
	m.fetches.WithLabelValues("ok").Inc()
}

// ran counts one completed run of a background loop.
func (m *metrics) ran(loop string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.loops.WithLabelValues(loop, result).Inc()
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
