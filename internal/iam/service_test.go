package iam

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/testkit"
)

const testAccount = "123456789012"

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// harness is a Service on the tests' store (testkit.Store: the real SQLite
// store in a temporary directory) with a recording, optionally denying,
// authorizer, and its writes counted as the server's store announces them.
type harness struct {
	t       *testing.T
	svc     *Service
	store   Store
	changes int
	authz   []string // "action resource" per Authorize call
	deny    bool
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessOn(t, testkit.Store(t))
}

// newHarnessOn returns a harness whose Service uses st.
func newHarnessOn(t *testing.T, st Store) *harness {
	t.Helper()
	h := &harness{t: t, store: st}
	if full, ok := st.(store.Store); ok {
		// The server's wiring: every successful write announced, counted here.
		h.store = store.Announce(full, func() { h.changes++ })
	}
	svc, err := New(Config{
		Store:   h.store,
		Account: testAccount,
		Now:     func() time.Time { return testNow },
		Rand:    bytes.NewReader(bytes.Repeat([]byte{1, 2, 3, 4, 5, 250, 251, 252, 255}, 4000)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	return h
}

// providerCount, roleCount, role and policy read what the service stored.
func (h *harness) providerCount() int {
	h.t.Helper()
	ps, err := h.store.ListProviders(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	return len(ps)
}

func (h *harness) roleCount() int {
	h.t.Helper()
	rs, err := h.store.ListRoles(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	return len(rs)
}

func (h *harness) role(name string) store.Role {
	h.t.Helper()
	r, err := h.store.GetRole(h.t.Context(), name)
	if err != nil {
		h.t.Fatalf("stored role %s: %v", name, err)
	}
	return r
}

func (h *harness) policy(arn string) store.ManagedPolicy {
	h.t.Helper()
	p, err := h.store.GetPolicy(h.t.Context(), arn)
	if err != nil {
		h.t.Fatalf("stored policy %s: %v", arn, err)
	}
	return p
}

// failingProviders is a store whose provider listing fails with err.
type failingProviders struct {
	Store
	err error
}

func (f failingProviders) ListProviders(context.Context) ([]store.Provider, error) { return nil, f.err }

// params builds query parameters from alternating name, value pairs.
func params(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func (h *harness) call(action string, p url.Values) (any, error) {
	h.t.Helper()
	act, ok := h.svc.Actions()[action]
	if !ok {
		h.t.Fatalf("no action %s", action)
	}
	req, err := awsquery.Decode(testkit.QueryRequest(action, p))
	if err != nil {
		h.t.Fatalf("decode %s: %v", action, err)
	}
	c := &awsquery.Call{
		Request:   req,
		RequestID: "rid",
		Caller:    &identity.Caller{Kind: identity.Root, Account: testAccount},
		Now:       testNow,
	}
	return act.Serve(context.Background(), c, func(_ context.Context, _ *awsquery.Call, action, resource string) error {
		h.authz = append(h.authz, action+" "+resource)
		if h.deny {
			return awserr.Newf(awserr.CodeAccessDenied, 403, "not authorized to perform %s", action)
		}
		return nil
	})
}

// must calls action and fails the test on error.
func (h *harness) must(action string, kv ...string) any {
	h.t.Helper()
	res, err := h.call(action, params(kv...))
	if err != nil {
		h.t.Fatalf("%s: %v", action, err)
	}
	return res
}

// wantErr checks err is an *awserr.Error with code and status and a
// message containing msg.
func wantErr(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	e := awserr.As(err)
	if e == nil {
		t.Fatalf("error = %v, want %s", err, code)
	}
	if e.Code != code || e.Status != status || !strings.Contains(e.Message, msg) {
		t.Fatalf("error = %s %d %q, want %s %d containing %q", e.Code, e.Status, e.Message, code, status, msg)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no store", Config{Account: testAccount}},
		{"short account", Config{Store: testkit.Store(t), Account: "123"}},
		{"non-digit account", Config{Store: testkit.Store(t), Account: "12345678901x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

func TestStoreErrorsMapped(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   string
		status int
	}{
		{"unavailable", fmt.Errorf("disk full at /secret/path: %w", store.ErrUnavailable), awserr.CodeServiceUnavailable, 503},
		{"unknown", errors.New("sql: connection refused on /secret/path"), awserr.CodeServiceFailure, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessOn(t, failingProviders{Store: testkit.Store(t), err: tt.err})
			_, err := h.call("ListOpenIDConnectProviders", nil)
			wantErr(t, err, tt.code, tt.status, "")
			if e := awserr.As(err); strings.Contains(e.Message, "secret") {
				t.Errorf("message leaks internal detail: %q", e.Message)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("cause not kept for the log: %v", err)
			}
		})
	}
}

func TestURLEncodePolicy(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a": "b c"}`, "%7B%22a%22%3A%20%22b%20c%22%7D"},
		{"a-b_c.d~e", "a-b_c.d~e"},
		{"a+b/c%3A", "a%2Bb%2Fc%253A"},
		{"é", "%C3%A9"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := URLEncodePolicy(tt.in)
			if got != tt.want {
				t.Errorf("URLEncodePolicy(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if back, err := url.PathUnescape(got); err != nil || back != tt.in {
				t.Errorf("unescape = %q, %v", back, err)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 20; i++ {
		id, err := h.svc.newID("AROA")
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 21 || !strings.HasPrefix(id, "AROA") || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			t.Fatalf("id %q has the wrong shape", id)
		}
	}
	if _, err := (&Service{rand: bytes.NewReader(nil)}).newID("AROA"); err == nil {
		t.Error("newID with an exhausted reader succeeded")
	}
}

func TestPaginate(t *testing.T) {
	items := []string{"d", "a", "c", "b", "e"}
	var got []string
	p := page{max: 2}
	for pages := 0; pages < 10; pages++ {
		out, next := paginate(items, func(s string) string { return s }, p)
		got = append(got, out...)
		if next == "" {
			break
		}
		var err error
		if p, err = decodeMarker(next, 2); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(got, "") != "abcde" {
		t.Errorf("pages = %v", got)
	}
	if _, err := decodeMarker("!!!", 0); err == nil {
		t.Error("bad marker accepted")
	}
}
