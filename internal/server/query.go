package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/sts"
)

// service is one AWS service's action table.
type service struct {
	name      string // scope service in SigV4: sts | iam
	namespace string
	actions   map[string]awsquery.Action
}

// queryHandler serves the AWS query API for all services: it decodes,
// looks the action up, authenticates unless the action is served unsigned,
// and hands the call to awsquery.Action.Serve with the one authorizer.
type queryHandler struct {
	services []service
	auth     *authenticator
	metrics  *metrics
	log      *slog.Logger
	now      func() time.Time
	// denied records a refused call in the decision log.
	denied func(c *awsquery.Call, action string, err error)
}

func (h *queryHandler) lookup(action, version string) (*service, *awsquery.Action) {
	for i := range h.services {
		if a, ok := h.services[i].actions[action]; ok {
			return &h.services[i], &a
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
	var caller *identity.Caller
	fail := func(err error) {
		e := awserr.From(err)
		code = e.Code
		lvl := h.log.Info
		if !e.Sender() {
			lvl = h.log.Error
		}
		lvl("request failed", "request_id", rid, "action", action, "code", e.Code, "status", e.Status, "error", e.Error())
		awsquery.WriteError(w, ns, rid, e)
	}
	defer func() {
		h.metrics.observe(action, code, time.Since(start))
		if !h.log.Enabled(r.Context(), slog.LevelDebug) {
			return // the attributes below cost more than the check
		}
		attrs := []any{"request_id", rid, "action", action, "duration_ms", float64(time.Since(start).Microseconds()) / 1000}
		if caller != nil {
			attrs = append(attrs, "caller", caller.ARN)
		}
		if code != "" {
			attrs = append(attrs, "code", code)
		}
		h.log.Debug("request", attrs...)
	}()

	q, err := awsquery.Decode(r)
	if err != nil {
		fail(err)
		return
	}
	svc, act := h.lookup(q.Action, q.Version)
	ns = svc.namespace
	if act == nil {
		fail(awsquery.InvalidAction(q.Action, q.Version))
		return
	}
	action = q.Action
	call := &awsquery.Call{Request: q, RequestID: rid, SourceIP: sourceIP(r), Secure: r.TLS != nil,
		UserAgent: r.UserAgent(), Now: h.now()}
	if act.Access != awsquery.Unsigned {
		c, signed, err := h.auth.authenticate(r, q.Body, svc.name, "")
		if err != nil {
			h.denied(call, svc.name+":"+q.Action, err)
			fail(err)
			return
		}
		caller, call.Caller, call.Region = c, c, signed.Region
	}
	res, err := act.Serve(r.Context(), call, h.authorize)
	if err != nil {
		fail(awsquery.FromStoreOutage(err))
		return
	}
	awsquery.WriteResult(w, ns, q.Action, rid, res)
}

// authorize is the awsquery.Authorizer of query calls: the one authorizer
// with what the request says about itself.
func (h *queryHandler) authorize(ctx context.Context, c *awsquery.Call, action, resource string) error {
	err := h.auth.authorize(ctx, c.Caller, sts.RequestInfo{SourceIP: c.SourceIP, Secure: c.Secure, Region: c.Region,
		UserAgent: c.UserAgent}, action, resource)
	if err != nil {
		h.denied(c, action, err)
		h.log.Info("authorization denied", "request_id", c.RequestID, "action", action, "resource", resource,
			"reason", err.Error())
	}
	return err
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
