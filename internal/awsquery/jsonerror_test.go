package awsquery

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
)

func TestWriteJSONError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantBody   string
	}{
		{name: "aws error", err: awserr.New(awserr.CodeNoSuchEntity, 404, `no issuer "x" <y>`), wantStatus: 404,
			wantBody: `{"code":"NoSuchEntity","message":"no issuer \"x\" \u003cy\u003e"}` + "\n"},
		{name: "internal detail is not sent", err: errors.New("sql: connection refused"), wantStatus: 500,
			wantBody: `{"code":"InternalFailure","message":"We encountered an internal error. Please try again."}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteJSONError(rec, tc.err)
			if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.wantStatus, tc.wantBody)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
		})
	}
}
