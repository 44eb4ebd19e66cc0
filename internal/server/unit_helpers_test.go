package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/store"
)

// The package's unit tests drive a Server in process: New over SQLite in a
// temp dir, requests signed with the SDK's SigV4 signer and served by
// Handler without a listener.

const (
	unitAccount = "123456789012"
	unitRegion  = "us-east-1"
)

var unitRoot = aws.Credentials{AccessKeyID: "AKIAUNITROOTUNITROOT", SecretAccessKey: "unit-root-secret-unit-root-secret"}

type unit struct {
	t *testing.T
	s *Server
}

func newUnit(t *testing.T) *unit {
	t.Helper()
	s, err := New(context.Background(), Config{DataDir: t.TempDir(), Account: unitAccount, Region: unitRegion,
		RootAccessKeyID: unitRoot.AccessKeyID, RootSecretKey: unitRoot.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &unit{t: t, s: s}
}

// role creates a role whose only permissions are the statements given
// (JSON objects), and returns credentials of a session of it.
func (u *unit) role(name string, statements ...string) aws.Credentials {
	u.t.Helper()
	ctx := context.Background()
	id := fmt.Sprintf("AROA%017d", len(name)*7919+int(name[0]))
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + arn.Root(unitAccount) + `"},"Action":"sts:AssumeRole"}]}`
	if err := u.s.store.CreateRole(ctx, store.Role{Name: name, Path: "/", ID: id, TrustPolicy: trust,
		MaxSessionDuration: 3600, CreateDate: time.Now().UTC()}); err != nil {
		u.t.Fatal(err)
	}
	if len(statements) > 0 {
		doc := `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
		if err := u.s.store.PutRolePolicy(ctx, store.RolePolicy{RoleName: name, Name: "p", Document: doc}); err != nil {
			u.t.Fatal(err)
		}
	}
	return u.session(creds.Session{Account: unitAccount, RoleName: name, RolePath: "/", RoleID: id, SessionName: "s"})
}

// session mints credentials of sess, issued now for an hour.
func (u *unit) session(sess creds.Session) aws.Credentials {
	u.t.Helper()
	now := time.Now()
	sess.Issued, sess.Expiration = now, now.Add(time.Hour)
	cr, err := u.s.auth.sealer.Mint(sess)
	if err != nil {
		u.t.Fatal(err)
	}
	return aws.Credentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken}
}

// request builds a request, signed for service and region with cr when cr
// is not nil.
func (u *unit) request(method, path, body string, cr *aws.Credentials, service, region string) *http.Request {
	u.t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1"+path, strings.NewReader(body))
	if strings.HasPrefix(body, "Action=") {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cr != nil {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(context.Background(), *cr, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
			u.t.Fatal(err)
		}
	}
	req.Body = http.NoBody
	if body != "" {
		req.Body = httpBody(body)
	}
	return req
}

func httpBody(s string) *bodyReader { return &bodyReader{bytes.NewReader([]byte(s))} }

type bodyReader struct{ *bytes.Reader }

func (bodyReader) Close() error { return nil }

// admin serves a signed (cr non-nil) or unsigned admin call and returns
// its status and JSON error code ("" on success).
func (u *unit) admin(method, path, body string, cr *aws.Credentials) (int, string) {
	u.t.Helper()
	rec := httptest.NewRecorder()
	u.s.Handler().ServeHTTP(rec, u.request(method, path, body, cr, adminService, unitRegion))
	var out struct {
		Code string `json:"code"`
	}
	if rec.Code >= 400 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Code == "" {
			u.t.Fatalf("%s %s: %d with a body that is not a JSON error: %q", method, path, rec.Code, rec.Body)
		}
	}
	return rec.Code, out.Code
}
