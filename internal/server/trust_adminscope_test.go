package server_test

// Security round 2, item 11: the admin API accepts only the SigV4 scope it
// documents: service "keyless" in the server's region.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/testkit"
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
			req := testkit.SignedRequest(t, http.MethodGet, srv.URL+"/_keyless/issuers", "", rootCreds, tc.service, tc.region, time.Now())
			status, body := do(t, req)
			if status != tc.wantStatus || !strings.Contains(body, tc.wantCode) {
				t.Fatalf("status %d body %s, want %d %s", status, body, tc.wantStatus, tc.wantCode)
			}
		})
	}
}
