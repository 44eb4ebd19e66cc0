package awsquery

import (
	"errors"
	"fmt"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/store"
)

func TestFromStore(t *testing.T) {
	callerErr := awserr.New(awserr.CodeInvalidInput, 400, "bad input")
	other := errors.New("disk on fire")
	tests := []struct {
		name       string
		err        error
		msgs       StoreMessages
		wantCode   string
		wantStatus int
		wantMsg    string
		unchanged  bool // the error comes back as given
	}{
		{name: "nil", err: nil, unchanged: true},
		{name: "already an AWS error", err: fmt.Errorf("ctx: %w", callerErr), unchanged: true},
		{name: "not found with the call's message", err: fmt.Errorf("get role: %w", store.ErrNotFound),
			msgs:     StoreMessages{NotFound: "The role with name x cannot be found."},
			wantCode: awserr.CodeNoSuchEntity, wantStatus: 404, wantMsg: "The role with name x cannot be found."},
		{name: "not found, generic", err: store.ErrNotFound, wantCode: awserr.CodeNoSuchEntity, wantStatus: 404, wantMsg: "The entity cannot be found."},
		{name: "already exists", err: store.ErrAlreadyExists, wantCode: awserr.CodeEntityAlreadyExists, wantStatus: 409, wantMsg: awserr.MsgAlreadyExists},
		{name: "already exists with the call's message", err: store.ErrAlreadyExists, msgs: StoreMessages{AlreadyExists: "an issuer exists"},
			wantCode: awserr.CodeEntityAlreadyExists, wantStatus: 409, wantMsg: "an issuer exists"},
		{name: "conflict", err: store.ErrConflict, wantCode: awserr.CodeDeleteConflict, wantStatus: 409, wantMsg: awserr.MsgDeleteConflict},
		{name: "unavailable", err: fmt.Errorf("list roles: %w", store.ErrUnavailable), wantCode: awserr.CodeServiceUnavailable, wantStatus: 503,
			wantMsg: "Service is unavailable. Please try again later."},
		{name: "anything else", err: other, unchanged: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FromStore(tc.err, tc.msgs)
			if tc.unchanged {
				if got != tc.err {
					t.Fatalf("FromStore = %v, want %v unchanged", got, tc.err)
				}
				return
			}
			e := awserr.As(got)
			if e == nil || e.Code != tc.wantCode || e.Status != tc.wantStatus || e.Message != tc.wantMsg {
				t.Fatalf("FromStore = %v, want %s %d %q", got, tc.wantCode, tc.wantStatus, tc.wantMsg)
			}
			if !errors.Is(got, tc.err) {
				t.Fatal("the store error is not kept in the chain for the log")
			}
		})
	}
}

func TestFromStoreOutage(t *testing.T) {
	if err := FromStoreOutage(store.ErrNotFound); err != store.ErrNotFound {
		t.Fatalf("not found became %v; only an outage is mapped", err)
	}
	e := awserr.As(FromStoreOutage(fmt.Errorf("x: %w", store.ErrUnavailable)))
	if e == nil || e.Code != awserr.CodeServiceUnavailable || e.Status != 503 || e.Message != awserr.MsgServiceUnavailable {
		t.Fatalf("outage = %v", e)
	}
}
