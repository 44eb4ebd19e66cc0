package awsquery

import (
	"context"
	"fmt"
)

// Access says how a call of an action is let in. Every action declares
// one; Serve enforces it before any of the action's own code that may act
// runs.
type Access uint8

const (
	// Undeclared is the zero Access: Serve refuses the action (and the
	// server's route-table test fails on it).
	Undeclared Access = iota
	// Policy: signed, and the caller's policies must allow Action.Policy
	// on the resource the action's Prepare names.
	Policy
	// AnyCaller: signed; every authenticated caller may (AWS never denies
	// sts:GetCallerIdentity).
	AnyCaller
	// Trust: signed; the action is itself the trust decision
	// (sts:AssumeRole evaluates the caller's policies with the role's
	// trust policy).
	Trust
	// Unsigned: not signed; the request carries its own proof
	// (AssumeRoleWithWebIdentity's token).
	Unsigned
)

func (a Access) String() string {
	switch a {
	case Policy:
		return "policy"
	case AnyCaller:
		return "any-caller"
	case Trust:
		return "trust"
	case Unsigned:
		return "unsigned"
	}
	return "undeclared"
}

// Action is one entry of a service's action table: how it is let in and
// what it does.
type Action struct {
	Access Access
	// Policy is the policy action authorized (Access Policy), e.g.
	// "iam:GetRole".
	Policy string
	// Prepare (Access Policy) validates the call and names the resource
	// Policy applies to; what it returns to run is only run once allowed.
	Prepare Prepare
	// Handle (every other Access) runs the action.
	Handle Handler
}

// Prepare validates a call (validation errors come before AccessDenied, as
// in AWS), and returns the resource to authorize and the work to do once
// authorized. It must not write.
type Prepare func(ctx context.Context, c *Call) (resource string, run Run, err error)

// Run is a prepared action, run once authorized.
type Run func(ctx context.Context) (any, error)

// Authorizer decides whether the caller of c may perform action on
// resource; it returns an AccessDenied *awserr.Error when not.
type Authorizer func(ctx context.Context, c *Call, action, resource string) error

// Serve runs a for c as its Access says: a Policy action is prepared,
// authorized with authorize, and only then run.
func (a Action) Serve(ctx context.Context, c *Call, authorize Authorizer) (any, error) {
	switch a.Access {
	case Unsigned, AnyCaller, Trust:
		if a.Handle != nil {
			return a.Handle(ctx, c)
		}
	case Policy:
		if a.Prepare == nil || a.Policy == "" {
			break
		}
		resource, run, err := a.Prepare(ctx, c)
		if err != nil {
			return nil, err
		}
		if err := authorize(ctx, c, a.Policy, resource); err != nil {
			return nil, err
		}
		return run(ctx)
	}
	// A bug, not the caller's: an InternalFailure that names nothing.
	return nil, fmt.Errorf("action %s: access %s declared incompletely", c.Action, a.Access)
}
