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
	RequestID   string
	SourceIP    string
	UserAgent   string
	Secure      bool
}

// SimulateWebIdentity decides in as AssumeRoleWithWebIdentity would, through
// the same decideWebIdentity (verifier, role lookup, trust evaluation), and
// returns the decision record the log would hold, fix included. It issues no
// credentials and records nothing in the decision log. Bad input is a
// ValidationError; an error of ours (the store) is returned as is.
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
	return rec, nil
}
