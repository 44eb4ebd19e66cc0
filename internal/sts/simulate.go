package sts

import (
	"context"

	"github.com/keylessci/keyless/internal/awsquery"
	declog "github.com/keylessci/keyless/internal/decision"
)

// SimulateInput is an AssumeRoleWithWebIdentity call to decide without
// making it: the console's playground.
type SimulateInput struct {
	RoleARN     string
	Token       string
	SessionName string // default "keyless-playground"
	// Caller is the ARN of who asked (the console's signed-in identity).
	Caller    string
	RequestID string
	SourceIP  string
	UserAgent string
	Secure    bool
}

// ActionSimulate is the action a simulated decision is recorded as in the
// decision log, so it is never mistaken for an exchange (tighten reads only
// sts:AssumeRoleWithWebIdentity).
const ActionSimulate = "keyless:SimulateWebIdentity"

// SimulateWebIdentity decides in as AssumeRoleWithWebIdentity would, through
// the same decideWebIdentity (verifier, role lookup, trust evaluation), and
// returns its record, fix included. It issues no credentials. The record goes
// to the decision log as ActionSimulate with in.Caller as its principal:
// asking whether a token would be accepted leaves a trace, as using it does.
// Bad input is a ValidationError; an error of ours (the store) is returned
// as is.
func (s *Service) SimulateWebIdentity(ctx context.Context, in SimulateInput) (declog.Record, error) {
	if in.SessionName == "" {
		in.SessionName = "keyless-playground"
	}
	var v awsquery.Validator
	c := common{roleARN: in.RoleARN, sessionName: in.SessionName}
	if v.Length("RoleArn", c.roleARN, 20, 2048) {
		v.Pattern("RoleArn", c.roleARN, arnCharsRE, arnPattern)
	}
	if v.Length("RoleSessionName", c.sessionName, 2, 64) {
		v.Pattern("RoleSessionName", c.sessionName, sessionNameRE, sessionNamePattern)
	}
	v.Length("WebIdentityToken", in.Token, 4, 20000)
	if err := v.Err(); err != nil {
		return declog.Record{}, err
	}
	if _, _, _, err := s.roleName(c.roleARN); err != nil {
		return declog.Record{}, err
	}
	var rec declog.Record
	call := &awsquery.Call{RequestID: in.RequestID, SourceIP: in.SourceIP, UserAgent: in.UserAgent,
		Secure: in.Secure, Now: s.now()}
	log := s.decisionFor(call, "AssumeRoleWithWebIdentity", c.roleARN, func(r declog.Record) { rec = r })
	log.simulated = true
	_, _, err := s.decideWebIdentity(ctx, log, call, c, in.Token)
	switch {
	case err == nil:
		log.allow()
	case rec.Decision == "":
		return declog.Record{}, err // not a decision: a failure of ours
	}
	rec.Fix = declog.SuggestFix(&rec)
	rec.Action, rec.Principal = ActionSimulate, in.Caller
	if s.decisions != nil {
		s.decisions(rec)
	}
	return rec, nil
}
