package awsquery

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/keylessci/keyless/internal/identity"
)

// TestServe: a Policy action is prepared, then authorized, then run, and
// nothing of its work runs when preparation fails or authorization denies;
// an action that declares no access, or declares it incompletely, is
// refused.
func TestServe(t *testing.T) {
	errInvalid, errDenied := errors.New("invalid"), errors.New("denied")
	type trace = []string
	policyAction := func(log *trace, prepErr error) Action {
		return Action{Access: Policy, Policy: "iam:GetRole", Prepare: func(context.Context, *Call) (string, Run, error) {
			*log = append(*log, "prepare")
			if prepErr != nil {
				return "", nil, prepErr
			}
			return "arn:aws:iam::123456789012:role/r", func(context.Context) (any, error) {
				*log = append(*log, "run")
				return "done", nil
			}, nil
		}}
	}
	handled := func(log *trace, a Access) Action {
		return Action{Access: a, Handle: func(context.Context, *Call) (any, error) {
			*log = append(*log, "handle")
			return "done", nil
		}}
	}
	tests := []struct {
		name    string
		action  func(log *trace) Action
		deny    bool
		want    trace
		wantErr error // nil: success; errAny: some error
	}{
		{"policy allowed", func(l *trace) Action { return policyAction(l, nil) }, false,
			trace{"prepare", "authorize iam:GetRole arn:aws:iam::123456789012:role/r", "run"}, nil},
		{"policy denied runs nothing", func(l *trace) Action { return policyAction(l, nil) }, true,
			trace{"prepare", "authorize iam:GetRole arn:aws:iam::123456789012:role/r"}, errDenied},
		{"invalid input is not authorized", func(l *trace) Action { return policyAction(l, errInvalid) }, false,
			trace{"prepare"}, errInvalid},
		{"unsigned handled", func(l *trace) Action { return handled(l, Unsigned) }, false, trace{"handle"}, nil},
		{"trust handled", func(l *trace) Action { return handled(l, Trust) }, false, trace{"handle"}, nil},
		{"any caller handled", func(l *trace) Action { return handled(l, AnyCaller) }, false, trace{"handle"}, nil},
		{"undeclared refused", func(l *trace) Action { return handled(l, Undeclared) }, false, nil, errAny},
		{"policy without a policy action refused", func(l *trace) Action {
			a := policyAction(l, nil)
			a.Policy = ""
			return a
		}, false, nil, errAny},
		{"policy with a handler only refused", func(l *trace) Action { return handled(l, Policy) }, false, nil, errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log trace
			c := &Call{Request: &Request{Action: "GetRole"}, Caller: &identity.Caller{Kind: identity.RoleSession}}
			res, err := tt.action(&log).Serve(context.Background(), c, func(_ context.Context, _ *Call, action, resource string) error {
				log = append(log, "authorize "+action+" "+resource)
				if tt.deny {
					return errDenied
				}
				return nil
			})
			switch {
			case tt.wantErr == nil && (err != nil || res != "done"):
				t.Errorf("Serve = %v, %v", res, err)
			case tt.wantErr == errAny && err == nil:
				t.Error("Serve succeeded")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Errorf("Serve error %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(log, tt.want) {
				t.Errorf("steps %q, want %q", log, tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")
