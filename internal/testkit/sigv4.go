package testkit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SignedRequest returns a request to url signed with cr for service in
// region at the instant at, the way AWS SDKs and `keyless issuer` sign:
// the payload hash is over body. A request to the query API (path "/")
// carries a form body, any other non-empty body is JSON.
func SignedRequest(t testing.TB, method, url, body string, cr aws.Credentials, service, region string, at time.Time) *http.Request {
	t.Helper()
	req, err := signedRequest(method, url, body, cr, service, region, at)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func signedRequest(method, url, body string, cr aws.Credentials, service, region string, at time.Time) (*http.Request, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	switch {
	case req.URL.Path == "/" || req.URL.Path == "":
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	case body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), cr, req, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		return nil, fmt.Errorf("sign %s %s: %w", method, url, err)
	}
	return req, nil
}

// Admin is a client of keyless's admin API (/_keyless/…), signing every
// call with Creds for the "keyless" service as `keyless issuer` does.
type Admin struct {
	Endpoint string // scheme://host:port
	Creds    aws.Credentials
	Region   string       // default us-east-1
	HTTP     *http.Client // default http.DefaultClient
	Now      func() time.Time
}

// Do sends a signed admin call and returns the status and body; a
// transport error fails t.
func (a Admin) Do(t testing.TB, method, path, body string) (int, []byte) {
	t.Helper()
	status, b, err := a.Send(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, b
}

// Send is Do returning a transport error instead of failing a test, for
// goroutines other than the test's own.
func (a Admin) Send(method, path, body string) (int, []byte, error) {
	region, now, hc := a.Region, a.Now, a.HTTP
	if region == "" {
		region = "us-east-1"
	}
	if now == nil {
		now = time.Now
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := signedRequest(method, a.Endpoint+path, body, a.Creds, "keyless", region, now())
	if err != nil {
		return 0, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return resp.StatusCode, b, nil
}

// QueryRequest returns an unsigned query-API request for action with
// params, as an AWS SDK sends it (a form POST to "/"): unit tests of an
// action decode it with awsquery.Decode, the server's own decoder, rather
// than building a decoded request by hand.
func QueryRequest(action string, params url.Values) *http.Request {
	v := url.Values{"Action": {action}}
	for k, vs := range params {
		if k != "Action" {
			v[k] = vs
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return r
}
