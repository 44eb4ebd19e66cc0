package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/directory"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/store/sqlstore"
)

// TestAuthenticateRunnerGenerations: runner credentials sealed before they
// named their issuer cannot be revoked, so they are refused
// (InvalidClientTokenId); those that name it are accepted until revoked.
func TestAuthenticateRunnerGenerations(t *testing.T) {
	const account = "123456789012"
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{URL: "sqlite://" + filepath.Join(t.TempDir(), "keyless.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	dir, err := directory.New(directory.Config{Store: st, Account: account})
	if err != nil {
		t.Fatal(err)
	}
	key, err := creds.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := creds.New(creds.Config{Keys: [][]byte{key}})
	if err != nil {
		t.Fatal(err)
	}
	a := &authenticator{account: account, root: rootCredentials{AccessKeyID: "AKIAROOTROOTROOTROOT", SecretAccessKey: "root-secret-root-secret"},
		sealer: sealer, dir: dir, now: time.Now}
	now := time.Now()
	legacy := creds.Session{Account: account, SessionName: "runner-org", SessionPolicy: runnerPolicy(account, "org"),
		Issued: now, Expiration: now.Add(time.Hour)}
	current := legacy
	current.IssuerID = "org"
	call := func(t *testing.T, sess creds.Session) error {
		t.Helper()
		cr, err := sealer.Mint(sess)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1/_keyless/issuers/org", nil)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(nil)
		if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey,
			SessionToken: cr.SessionToken}, req, hex.EncodeToString(sum[:]), "keyless", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		_, _, err = a.authenticate(req, nil, adminService, "us-east-1")
		return err
	}
	t.Run("runner credentials naming their issuer", func(t *testing.T) {
		if err := call(t, current); err != nil {
			t.Errorf("authenticate: %v", err)
		}
	})
	t.Run("runner credentials from before", func(t *testing.T) {
		err := call(t, legacy)
		var e *awserr.Error
		if !errors.As(err, &e) || e.Code != awserr.CodeInvalidClientTokenID {
			t.Errorf("authenticate = %v, want InvalidClientTokenId", err)
		}
	})
}

// TestStoreUnavailableMapsOnce: a store outage becomes ServiceUnavailable
// once; an error a handler already mapped keeps its one message (the log
// used to read "ServiceUnavailable: …: ServiceUnavailable: …").
func TestStoreUnavailableMapsOnce(t *testing.T) {
	outage := fmt.Errorf("sqlstore: create role: %w: attempt to write a readonly database", store.ErrUnavailable)
	mapped := awserr.New(awserr.CodeServiceUnavailable, 503, "Service is unavailable. Please try again.").Wrap(outage)
	tests := []struct {
		name string
		err  error
	}{
		{"raw outage", outage},
		{"already mapped", mapped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := awsquery.FromStoreOutage(tt.err)
			e := awserr.As(err)
			if e == nil || e.Code != awserr.CodeServiceUnavailable || e.Status != 503 {
				t.Fatalf("FromStoreOutage = %v", err)
			}
			if n := strings.Count(err.Error(), "ServiceUnavailable"); n != 1 {
				t.Errorf("message names ServiceUnavailable %d times: %q", n, err)
			}
		})
	}
}
