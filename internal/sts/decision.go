package sts

import (
	"context"
	"log/slog"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	declog "github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/policy"
)

// decision collects the attributes of one AssumeRole* decision as the
// action learns them, writes the single "assume decision" log line and
// hands the decision log (Config.Decisions) its record.
// (A child logger per request, built with slog's With, cost about 5 % of
// an exchange's CPU.)
type decision struct {
	log    *slog.Logger
	attrs  []slog.Attr
	record func(declog.Record)
	rec    declog.Record
	now    func() time.Time
	// simulated marks a decision of SimulateWebIdentity: logged as such,
	// and its record goes to the simulation, not to the decision log.
	simulated bool
	attrBuf   [12]slog.Attr // the usual line's attributes, allocated with the decision
}

func (s *Service) newDecision(c *awsquery.Call, action, roleARN string) *decision {
	return s.decisionFor(c, action, roleARN, s.decisions)
}

// decisionFor is newDecision with the record handed to record.
func (s *Service) decisionFor(c *awsquery.Call, action, roleARN string, record func(declog.Record)) *decision {
	d := &decision{log: s.log, record: record, now: s.now}
	d.attrs = d.attrBuf[:0]
	d.add(slog.String("request_id", c.RequestID), slog.String("action", action), slog.String("role", roleARN))
	if d.record != nil {
		start := c.Now
		if start.IsZero() {
			start = s.now()
		}
		d.rec = declog.Record{Time: start, RequestID: c.RequestID, SourceIP: c.SourceIP, UserAgent: c.UserAgent,
			Action: iamAction(action), RoleARN: roleARN}
		if c.Caller != nil {
			d.rec.Principal = c.Caller.ARN
		}
	}
	return d
}

// iamAction is "sts:" + action, without a concatenation for the
// actions that write a decision.
func iamAction(action string) string {
	switch action {
	case "AssumeRoleWithWebIdentity":
		return "sts:AssumeRoleWithWebIdentity"
	case "AssumeRole":
		return "sts:AssumeRole"
	}
	return "sts:" + action
}

// add records attributes for the decision line. They are slog.Attrs, not
// key-value pairs: a string in an any costs an allocation.
func (d *decision) add(attrs ...slog.Attr) { d.attrs = append(d.attrs, attrs...) }

// token records the presented token's decoded claims (never the token).
func (d *decision) token(t *oidc.Token) {
	d.add(slog.String("issuer", t.Issuer), slog.String("sub", t.Subject))
	d.rec.Subject, d.rec.ClaimsJSON = t.Subject, t.ClaimsJSON
}

// provider records the provider the token's issuer is registered as.
func (d *decision) provider(arn string) {
	d.add(slog.String("provider", arn))
	d.rec.Provider = arn
}

// write logs the decision with its verdict and the final attributes.
func (d *decision) write(attrs ...slog.Attr) {
	msg := "assume decision"
	if d.simulated {
		msg = "simulated decision"
	}
	// A record built here, not through Logger.LogAttrs, which would also
	// walk the stack for a source position no handler of ours prints.
	ctx := context.Background()
	if !d.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	r.AddAttrs(d.attrs...)
	r.AddAttrs(attrs...)
	_ = d.log.Handler().Handle(ctx, r)
}

// commit hands the record to the decision log.
func (d *decision) commit(verdict string, err error, reason string, tr *policy.Trace) {
	if d.record == nil {
		return
	}
	d.rec.Decision, d.rec.Reason, d.rec.Trace = verdict, reason, tr
	if err != nil {
		d.rec.ErrorCode = awserr.From(err).Code
	}
	if tr != nil {
		d.rec.ClosestMiss = tr.ClosestMiss
	}
	d.rec.Latency = d.now().Sub(d.rec.Time)
	d.record(d.rec)
}

// allow logs and records an allowed exchange.
func (d *decision) allow(attrs ...slog.Attr) {
	d.add(slog.String("verdict", "allow"))
	d.write(attrs...)
	d.commit(declog.Allow, nil, "", nil)
}

// deny logs a rejected exchange with its internal reason and returns err,
// whose public message says only what AWS says.
func (d *decision) deny(err error, reason string) error {
	d.write(slog.String("verdict", "deny"), slog.String("reason", reason), slog.String("error", err.Error()))
	d.commit(declog.Deny, err, reason, nil)
	return err
}

// denyPolicy logs and records a policy denial of action with its trace,
// and returns err (which says nothing of the trace).
func (d *decision) denyPolicy(err error, action string, tr *policy.Trace) error {
	d.write(slog.String("verdict", "deny"), slog.String("denied_action", action), slog.String("closest_miss", tr.ClosestMiss),
		slog.String("trace", tr.Text()))
	d.commit(declog.Deny, err, "policy denied "+action, tr)
	return err
}
