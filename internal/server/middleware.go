package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/google/uuid"

	"github.com/keylessci/keyless/internal/awsquery"
)

type ctxKey struct{}

// withRequestID gives every request a UUID, in its context and in the
// x-amzn-RequestId response header.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newUUID()
		w.Header()["X-Amzn-Requestid"] = []string{id} // Set's canonical form, not computed per request
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

func newUUID() string { return uuid.NewString() }

// recoverer turns a panic into a logged InternalFailure instead of a dropped
// connection. A panic is a bug; the test suite asserts none happens.
func recoverer(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "request_id", requestID(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				awsquery.WriteError(w, awsquery.NamespaceSTS, requestID(r.Context()), fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
