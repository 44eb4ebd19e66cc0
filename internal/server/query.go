package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/sts"
)

// service is one AWS service's action table.
type service struct {
	name      string // scope service in SigV4: sts | iam
	namespace string
	handlers  map[string]awsquery.Handler
	unsigned  map[string]bool
}

// queryHandler serves the AWS query API for all services.
type queryHandler struct {
	services []service
	auth     *authenticator
	metrics  *metrics
	srv      *Server
}

func (h *queryHandler) lookup(action, version string) (*service, awsquery.Handler) {
	for i := range h.services {
		if fn, ok := h.services[i].handlers[action]; ok {
			return &h.services[i], fn
		}
	}
	for i := range h.services {
		if (version == "2011-06-15" && h.services[i].name == "sts") || (version == "2010-05-08" && h.services[i].name == "iam") {
			return &h.services[i], nil
		}
	}
	return &h.services[0], nil
}

func (h *queryHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := requestID(r.Context())
	r.Body = http.MaxBytesReader(w, r.Body, awsquery.MaxBodyBytes+1)
	action, code := "unknown", ""
	ns := awsquery.NamespaceSTS
	var caller *awsquery.Caller
	fail := func(err error) {
		e := awserr.From(err)
		code = e.Code
		lvl := h.srv.log.Info
		if !e.Sender() {
			lvl = h.srv.log.Error
		}
		lvl("request failed", "request_id", rid, "action", action, "code", e.Code, "status", e.Status, "error", e.Error())
		awsquery.WriteError(w, ns, rid, e)
	}
	defer func() {
		h.metrics.observe(action, code, time.Since(start))
		if !h.srv.log.Enabled(r.Context(), slog.LevelDebug) {
			return // the attributes below cost more than the check
		}
		attrs := []any{"request_id", rid, "action", action, "duration_ms", float64(time.Since(start).Microseconds()) / 1000}
		if caller != nil {
			attrs = append(attrs, "caller", caller.ARN)
		}
		if code != "" {
			attrs = append(attrs, "code", code)
		}
		h.srv.log.Debug("request", attrs...)
	}()

	q, err := awsquery.Decode(r)
	if err != nil {
		fail(err)
		return
	}
	svc, fn := h.lookup(q.Action, q.Version)
	ns = svc.namespace
	if fn == nil {
		fail(awsquery.InvalidAction(q.Action, q.Version))
		return
	}
	action = q.Action
	call := &awsquery.Call{Request: q, RequestID: rid, SourceIP: sourceIP(r), Secure: r.TLS != nil,
		UserAgent: r.UserAgent(), Now: h.srv.cfg.Now()}
	if !svc.unsigned[q.Action] {
		c, signed, err := h.auth.authenticate(r, q.Body, svc.name, "")
		if err != nil {
			fail(err)
			return
		}
		caller, call.Caller, call.Region = c, c, signed.Region
	}
	call.Authorize = func(ctx context.Context, action, resource string) error {
		err := h.auth.authorize(ctx, call.Caller, sts.RequestInfo{SourceIP: call.SourceIP, Secure: call.Secure, Region: call.Region,
			UserAgent: call.UserAgent},
			action, resource)
		if err != nil {
			h.srv.log.Info("authorization denied", "request_id", rid, "action", action, "resource", resource,
				"reason", err.Error())
		}
		return err
	}
	res, err := fn(r.Context(), call)
	if err != nil {
		fail(awsquery.FromStoreOutage(err))
		return
	}
	awsquery.WriteResult(w, ns, q.Action, rid, res)
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
