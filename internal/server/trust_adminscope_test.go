package server_test

// Security round 2, item 11: the admin API accepts only the SigV4 scope it
// documents: service "keyless" in the server's region.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
)

func TestAdminAcceptsOnlyDocumentedScope(t *testing.T) {
	srv := servertest.Start(t, func(c *server.Config) { c.Region = "eu-central-1" })
	for _, tc := range []struct {
		name, service, region string
		wantStatus            int
		wantCode              string
	}{
		{name: "documented scope", service: "keyless", region: "eu-central-1", wantStatus: http.StatusOK},
		{name: "another service", service: "sts", region: "eu-central-1", wantStatus: http.StatusForbidden, wantCode: "SignatureDoesNotMatch"},
		{name: "iam service", service: "iam", region: "eu-central-1", wantStatus: http.StatusForbidden, wantCode: "SignatureDoesNotMatch"},
		{name: "another region", service: "keyless", region: "us-east-1", wantStatus: http.StatusForbidden, wantCode: "SignatureDoesNotMatch"},
		{name: "made-up region", service: "keyless", region: "xx-nowhere-9", wantStatus: http.StatusForbidden, wantCode: "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/_keyless/issuers", nil)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(nil)
			if err := v4.NewSigner().SignHTTP(context.Background(), rootCreds, req, hex.EncodeToString(sum[:]), tc.service, tc.region, time.Now()); err != nil {
				t.Fatal(err)
			}
			status, body := do(t, req)
			if status != tc.wantStatus || !strings.Contains(body, tc.wantCode) {
				t.Fatalf("status %d body %s, want %d %s", status, body, tc.wantStatus, tc.wantCode)
			}
		})
	}
}
