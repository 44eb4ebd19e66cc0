package server

import (
	"context"
	"net/http"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/console"
	"github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/sts"
)

// This file wires the web console (package console) to the server: it
// signs in through the authenticator (credentials, as for every signed
// call), is authorized by authenticator.authorize, and decides the
// playground with the STS's own decision (sts.SimulateWebIdentity).

func (s *Server) newConsole(stsSvc *sts.Service) (*console.Console, error) {
	return console.New(console.Config{Account: s.cfg.Account, Now: s.cfg.Now, Log: s.log,
		IdleTimeout: s.cfg.ConsoleIdle, Auth: consoleAuth{s}, Data: consoleData{s, stsSvc}})
}

// consoleAuth is the authenticator as the console uses it.
type consoleAuth struct{ s *Server }

func (a consoleAuth) Login(r *http.Request, accessKeyID, secret, sessionToken string) (*identity.Caller, error) {
	start := a.s.cfg.Now()
	caller, err := a.s.auth.login(r.Context(), accessKeyID, secret, sessionToken)
	if err != nil {
		a.s.recordDenied(adminCall(r, start, nil), console.ActionLogin, err)
	}
	return caller, err
}

func (a consoleAuth) Resume(ctx context.Context, accessKeyID, sessionToken string) (*identity.Caller, error) {
	c, _, err := a.s.auth.credentials(ctx, accessKeyID, sessionToken)
	return c, err
}

func (a consoleAuth) Authorize(r *http.Request, caller *identity.Caller, action, resource string) error {
	start := a.s.cfg.Now()
	err := a.authorize(r, caller, action, resource)
	if err != nil {
		a.s.recordDenied(adminCall(r, start, caller), action, err)
	}
	return err
}

func (a consoleAuth) Allowed(r *http.Request, caller *identity.Caller, action, resource string) bool {
	return a.authorize(r, caller, action, resource) == nil
}

// authorize asks the server's authorizer, with the console request's
// global condition keys.
func (a consoleAuth) authorize(r *http.Request, caller *identity.Caller, action, resource string) error {
	ri := sts.RequestInfo{SourceIP: sourceIP(r), Secure: r.TLS != nil, Region: a.s.cfg.Region, UserAgent: r.UserAgent()}
	return a.s.auth.authorize(r.Context(), caller, ri, action, resource)
}

// consoleData is what the console reads, from the store as written.
type consoleData struct {
	s   *Server
	sts *sts.Service
}

func (d consoleData) Issuers(ctx context.Context) ([]issuer.IssuerView, error) {
	return d.s.issuers.Views(ctx)
}

func (d consoleData) Providers(ctx context.Context) ([]store.Provider, error) {
	return d.s.store.ListProviders(ctx)
}

func (d consoleData) Roles(ctx context.Context) ([]store.Role, error) {
	return d.s.store.ListRoles(ctx)
}

func (d consoleData) Role(ctx context.Context, name string) (store.Role, []string, error) {
	r, err := d.s.store.GetRole(ctx, name)
	if err != nil {
		return r, nil, err
	}
	inline, err := d.s.store.ListRolePolicies(ctx, r.Name)
	if err != nil {
		return r, nil, err
	}
	attached, err := d.s.store.ListAttachedRolePolicies(ctx, r.Name)
	if err != nil {
		return r, nil, err
	}
	var perms []string
	for _, p := range inline {
		perms = append(perms, p.Name)
	}
	for _, p := range attached {
		perms = append(perms, p.ARN)
	}
	return r, perms, nil
}

func (d consoleData) Decisions(ctx context.Context, f store.DecisionFilter) ([]decision.Record, error) {
	return d.s.readDecisions(ctx, f)
}

func (d consoleData) Decision(ctx context.Context, id string) (decision.Record, error) {
	return d.s.readDecision(ctx, id)
}

func (d consoleData) Simulate(ctx context.Context, in sts.SimulateInput) (decision.Record, error) {
	in.RequestID = requestID(ctx)
	return d.sts.SimulateWebIdentity(ctx, in)
}

func (d consoleData) Mint(ctx context.Context, issuerID string, p ciclaims.Params) (string, error) {
	return d.s.issuers.Mint(ctx, issuerID, issuer.MintRequest{Params: p})
}
