package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// This file wires the decision log (package decision): the writer and its
// retention loop, the record of denied signed calls, and the admin API
// GET /_keyless/decisions[/{id}] (keyless:ListDecisions, keyless:GetDecision
// on arn:aws:keyless::ACCT:decision/…).

// decisionsPruneEvery is how often retention runs.
const decisionsPruneEvery = 10 * time.Minute

// newDecisionLog builds the log unless it is off, and exports its counters.
func (s *Server) newDecisionLog() error {
	if s.cfg.DecisionsOff {
		return nil
	}
	l, err := decision.New(decision.Config{Store: s.store, Now: s.cfg.Now, Retention: s.cfg.DecisionsRetention,
		MaxRows: s.cfg.DecisionsMaxRows, FlushInterval: s.cfg.DecisionsFlush, Log: s.log})
	if err != nil {
		return err
	}
	s.decisions = l
	counter := func(name, help string, v func(decision.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(l.Stats())) })
	}
	s.metrics.reg.MustRegister(
		counter("keyless_decisions_written_total", "Decision log records committed.", func(s decision.Stats) uint64 { return s.Written }),
		counter("keyless_decisions_dropped_total", "Decision log records dropped because the write queue was full.", func(s decision.Stats) uint64 { return s.Dropped }),
		counter("keyless_decisions_failed_total", "Decision log records lost because their batch could not be written.", func(s decision.Stats) uint64 { return s.Failed }),
		counter("keyless_decisions_pruned_total", "Decision log records deleted by retention.", func(s decision.Stats) uint64 { return s.Pruned }),
	)
	return nil
}

// recordDecision hands the STS's records to the log (the sts hook).
func (s *Server) recordDecision() func(decision.Record) {
	if s.decisions == nil {
		return nil
	}
	return s.decisions.Record
}

// runDecisions starts the writer; stop (call it after the HTTP server has
// shut down) writes what is queued and waits for the writer to finish.
func (s *Server) runDecisions() (stop func()) {
	if s.decisions == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.decisions.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// traceError carries the policy trace of a denied signed call from the
// authorizer to the decision log; its text is the trace's.
type traceError struct{ tr *policy.Trace }

func (e traceError) Error() string { return e.tr.Text() }

// recordDenied records a signed call that was refused (bad signature,
// AccessDenied). c.Caller is nil when authentication failed. Failures of
// ours (5xx) are not decisions and are not recorded.
func (s *Server) recordDenied(c *awsquery.Call, action string, err error) {
	e := awserr.From(err)
	if s.decisions == nil || !e.Sender() {
		return
	}
	r := decision.Record{Time: c.Now, RequestID: c.RequestID, SourceIP: c.SourceIP, UserAgent: c.UserAgent,
		Action: action, Decision: decision.Deny, ErrorCode: e.Code}
	var te traceError
	switch {
	case errors.As(err, &te):
		r.Trace, r.Reason = te.tr, "policy denied "+action
	case c.Caller != nil:
		r.Reason = "caller's policies unavailable"
	case e.Code == awserr.CodeSignatureDoesNotMatch:
		// Never the error's detail: it may quote the signed headers.
		r.Reason = "bad signature"
	default:
		r.Reason = "authentication failed"
	}
	if c.Caller != nil {
		r.Principal = c.Caller.ARN
	}
	r.Latency = s.cfg.Now().Sub(c.Now)
	s.decisions.Record(r)
}

// adminCall describes an admin API request for recordDenied.
func adminCall(r *http.Request, start time.Time, caller *identity.Caller) *awsquery.Call {
	return &awsquery.Call{RequestID: requestID(r.Context()), SourceIP: sourceIP(r), UserAgent: r.UserAgent(),
		Now: start, Caller: caller}
}

// decisionRoutes are the decision log's routes of the admin API: read-only,
// authorized like every admin route (adminAPI.serve) as keyless:ListDecisions
// on decision/* and keyless:GetDecision on decision/<id>.
func (s *Server) decisionRoutes() []issuer.AdminRoute {
	return []issuer.AdminRoute{
		{Pattern: "GET /_keyless/decisions", Action: "keyless:ListDecisions", Resource: decisionResource, Handler: s.listDecisions},
		{Pattern: "GET /_keyless/decisions/{id}", Action: "keyless:GetDecision", Resource: decisionResource, Handler: s.getDecision},
	}
}

// decisionResource is decision/<id>, decision/* for the list.
func decisionResource(account, id string) string {
	if id == "" {
		id = "*"
	}
	return arn.Decision(account, id)
}

// DecisionList is the answer of GET /_keyless/decisions.
type DecisionList struct {
	Decisions  []decision.Record `json:"decisions"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

// listDecisions serves GET /_keyless/decisions for an authorized caller.
func (s *Server) listDecisions(w http.ResponseWriter, r *http.Request) {
	f, err := s.decisionFilter(r)
	if err != nil {
		awsquery.WriteJSONError(w, awserr.New(awserr.CodeValidation, http.StatusBadRequest, err.Error()))
		return
	}
	recs, err := s.readDecisions(r.Context(), f)
	if err != nil {
		s.decisionStoreError(w, r, err)
		return
	}
	out := DecisionList{Decisions: recs}
	if len(out.Decisions) == f.Limit {
		out.NextCursor = decision.Cursor(out.Decisions[len(out.Decisions)-1])
	}
	writeJSON(w, out)
}

// getDecision serves GET /_keyless/decisions/{id} for an authorized caller.
func (s *Server) getDecision(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, err := s.readDecision(r.Context(), id)
	if err != nil {
		s.decisionStoreError(w, r, awsquery.FromStore(err, awsquery.StoreMessages{NotFound: "no decision " + strconv.Quote(id)}))
		return
	}
	writeJSON(w, rec)
}

// readDecisions reads the records f selects (the admin API and the console).
func (s *Server) readDecisions(ctx context.Context, f store.DecisionFilter) ([]decision.Record, error) {
	ds, err := s.store.ListDecisions(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]decision.Record, 0, len(ds))
	for _, d := range ds {
		rec, err := decision.FromStore(d)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// readDecision reads one record (an error wrapping store.ErrNotFound when
// there is none).
func (s *Server) readDecision(ctx context.Context, id string) (decision.Record, error) {
	d, err := s.store.GetDecision(ctx, id)
	if err != nil {
		return decision.Record{}, err
	}
	return decision.FromStore(d)
}

// decisionStoreError answers a failed read of the log; a failure of ours
// (5xx) is logged with its cause, which the caller never sees.
func (s *Server) decisionStoreError(w http.ResponseWriter, r *http.Request, err error) {
	e := awserr.From(awsquery.FromStoreOutage(err))
	if e.Status >= http.StatusInternalServerError {
		s.log.Error("decision log read failed", "request_id", requestID(r.Context()), "error", err.Error())
	}
	awsquery.WriteJSONError(w, e)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// decisionFilter reads the query parameters (decision.ParseFilter); the
// admin API lists 100 decisions when no limit is given.
func (s *Server) decisionFilter(r *http.Request) (store.DecisionFilter, error) {
	f, err := decision.ParseFilter(r.URL.Query(), s.cfg.Account, s.cfg.Now())
	if f.Limit == 0 {
		f.Limit = 100
	}
	return f, err
}
