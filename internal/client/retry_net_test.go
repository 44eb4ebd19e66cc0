package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestAssumeRetriesNetworkErrors: a server that is not listening and one
// that closes every connection are retried until the attempts run out,
// as docs/client.md promises.
func TestAssumeRetriesNetworkErrors(t *testing.T) {
	dead := func(t *testing.T) (string, *atomic.Int32) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens on addr any more: connection refused
		return "http://" + addr, nil
	}
	closer := func(t *testing.T) (string, *atomic.Int32) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		var accepted atomic.Int32
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				c.Close() // the client reads EOF
			}
		}()
		return "http://" + ln.Addr().String(), &accepted
	}
	tests := []struct {
		name  string
		start func(t *testing.T) (string, *atomic.Int32)
	}{
		{"connection refused", dead},
		{"connection closed (EOF)", closer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ep, accepted := tc.start(t)
			var retries int
			c, err := New(Config{STSEndpoint: ep, MaxAttempts: 3, Rand: func() float64 { return 0 },
				Sleep:   func(context.Context, time.Duration) error { return nil },
				OnRetry: func(int, error, time.Duration) { retries++ }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Assume(context.Background(), AssumeInput{RoleARN: "arn:aws:iam::111122223333:role/r", Token: testToken, SessionName: "s"})
			var re *RetryError
			if !errors.As(err, &re) || re.Attempts != 3 {
				t.Fatalf("Assume error = %v, want a RetryError after 3 attempts", err)
			}
			if retries != 2 {
				t.Errorf("retries = %d, want 2", retries)
			}
			if accepted != nil && accepted.Load() < 3 {
				t.Errorf("connections accepted = %d, want at least 3", accepted.Load())
			}
			if !strings.Contains(err.Error(), "gave up after 3 attempts") {
				t.Errorf("error = %v", err)
			}
		})
	}
}
