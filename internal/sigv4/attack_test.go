package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/keylessci/keyless/internal/awserr"
)

const (
	testAKID   = "ASIAQWERTYUIOPASDFGH"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testToken  = "sealed-session-token"
	stsBody    = "Action=GetCallerIdentity&Version=2011-06-15"
)

var signedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// signedPOST returns an STS GetCallerIdentity POST signed by aws-sdk-go-v2 at
// signedAt with session credentials; edit runs before signing.
func signedPOST(t testing.TB, body string, edit func(r *http.Request)) (*http.Request, []byte) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Host = "sts.keyless.test:8443"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if edit != nil {
		edit(r)
	}
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: testToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hexSHA([]byte(body)), "sts", "us-east-1", signedAt); err != nil {
		t.Fatal(err)
	}
	return r, []byte(body)
}

// presignedGET returns a presigned GetCallerIdentity GET (X-Amz-Expires=expires).
func presignedGET(t testing.TB, expires string) *http.Request {
	t.Helper()
	target := "/?Action=GetCallerIdentity&Version=2011-06-15"
	if expires != "" {
		target += "&X-Amz-Expires=" + expires
	}
	r := httptest.NewRequest(http.MethodGet, target, nil)
	r.Host = "sts.keyless.test"
	creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: testToken}
	signed, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, r, hexSHA(nil), "sts", "us-east-1", signedAt)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	out := httptest.NewRequest(http.MethodGet, u.RequestURI(), nil)
	out.Host = r.Host
	for k, v := range hdr {
		if k != "Host" {
			out.Header[k] = v
		}
	}
	return out
}

func setQuery(r *http.Request, key, value string) {
	q := r.URL.Query()
	q.Set(key, value)
	r.URL.RawQuery = q.Encode()
	r.RequestURI = r.URL.RequestURI()
}

func editAuth(r *http.Request, old, new string) {
	r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
}

func TestVerifyAttacks(t *testing.T) {
	type tc struct {
		name    string
		req     func(t testing.TB) (*http.Request, []byte)
		secret  string
		now     time.Time
		code    string // "" means success
		status  int
		message string // exact message, if set
	}
	post := func(mut func(r *http.Request) []byte) func(t testing.TB) (*http.Request, []byte) {
		return func(t testing.TB) (*http.Request, []byte) {
			r, body := signedPOST(t, stsBody, nil)
			if mut != nil {
				if b := mut(r); b != nil {
					body = b
				}
			}
			return r, body
		}
	}
	get := func(expires string, mut func(r *http.Request)) func(t testing.TB) (*http.Request, []byte) {
		return func(t testing.TB) (*http.Request, []byte) {
			r := presignedGET(t, expires)
			if mut != nil {
				mut(r)
			}
			return r, nil
		}
	}
	const (
		mis = awserr.CodeSignatureDoesNotMatch
		inc = awserr.CodeIncompleteSignature
	)
	tests := []tc{
		{name: "baseline header form", req: post(nil)},
		{name: "baseline presigned", req: get("60", nil)},
		{name: "presigned without X-Amz-Expires", req: get("", func(r *http.Request) {}), now: signedAt.Add(MaxSkew)},
		{name: "skew exactly 15 min past", req: post(nil), now: signedAt.Add(MaxSkew)},
		{name: "skew exactly 15 min ahead", req: post(nil), now: signedAt.Add(-MaxSkew)},
		{name: "tampered signature", code: mis, status: 403, message: mismatchMsg, req: post(func(r *http.Request) []byte {
			a := r.Header.Get("Authorization")
			last := a[len(a)-1]
			flip := map[bool]string{true: "0", false: "1"}[last != '0']
			r.Header.Set("Authorization", a[:len(a)-1]+flip)
			return nil
		})},
		{name: "signature upper-case hex", code: mis, req: post(func(r *http.Request) []byte {
			a := r.Header.Get("Authorization")
			i := strings.Index(a, "Signature=") + len("Signature=")
			r.Header.Set("Authorization", a[:i]+strings.ToUpper(a[i:]))
			return nil
		})},
		{name: "truncated signature", code: mis, req: post(func(r *http.Request) []byte {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-2])
			return nil
		})},
		{name: "tampered body", code: mis, req: post(func(r *http.Request) []byte {
			return []byte("Action=CreateRole&Version=2010-05-08")
		})},
		{name: "tampered signed header", code: mis, req: post(func(r *http.Request) []byte {
			r.Header.Set("Content-Type", "text/plain")
			return nil
		})},
		{name: "tampered host", code: mis, req: post(func(r *http.Request) []byte {
			r.Host = "evil.test:8443"
			return nil
		})},
		{name: "tampered session token (signed header)", code: mis, req: post(func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Security-Token", "other-token")
			return nil
		})},
		{name: "added query parameter", code: mis, req: post(func(r *http.Request) []byte {
			setQuery(r, "Action", "CreateRole")
			return nil
		})},
		{name: "tampered path", code: mis, req: post(func(r *http.Request) []byte {
			r.URL.Path, r.RequestURI = "/_keyless/admin", "/_keyless/admin"
			return nil
		})},
		{name: "wrong secret", code: mis, secret: testSecret + "x", req: post(nil)},
		{name: "other region in scope", code: mis, req: post(func(r *http.Request) []byte {
			editAuth(r, "/us-east-1/", "/us-west-2/")
			return nil
		})},
		{name: "scope date is not the request date", code: mis, status: 403,
			message: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20251231' != '20260101', from '20260101T000000Z'.",
			req: post(func(r *http.Request) []byte {
				editAuth(r, "/20260101/", "/20251231/")
				return nil
			})},
		{name: "stale date", code: mis, status: 403, now: signedAt.Add(MaxSkew + time.Second),
			message: "Signature expired: 20260101T000000Z is now earlier than 20260101T000001Z (20260101T001501Z - 15 min.)",
			req:     post(nil)},
		{name: "future date", code: mis, status: 403, now: signedAt.Add(-MaxSkew - time.Second),
			message: "Signature not yet current: 20260101T000000Z is still later than 20251231T235959Z (20251231T234459Z + 15 min.)",
			req:     post(nil)},
		{name: "content sha256 header does not match tampered body", code: mis, req: func(t testing.TB) (*http.Request, []byte) {
			r, _ := signedPOST(t, stsBody, func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", hexSHA([]byte(stsBody))) })
			return r, []byte("Action=DeleteRole&RoleName=x")
		}},
		{name: "unsigned payload with a body", code: mis, req: func(t testing.TB) (*http.Request, []byte) {
			r, _ := signedPOST(t, stsBody, func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") })
			return r, []byte(stsBody)
		}},
		{name: "signed header removed", code: inc, status: 400,
			message: "'content-type' is named as a SignedHeader, but it does not exist in the HTTP request.",
			req: post(func(r *http.Request) []byte {
				r.Header.Del("Content-Type")
				return nil
			})},
		{name: "presigned expired", code: mis, now: signedAt.Add(61 * time.Second), req: get("60", nil),
			message: "Signature expired: 20260101T000000Z is now earlier than 20260101T000001Z (20260101T000101Z - 60 sec.)"},
		{name: "presigned long expiry still capped at 15 min", code: mis, now: signedAt.Add(MaxSkew + time.Second), req: get("3600", nil)},
		{name: "presigned tampered parameter", code: mis, req: get("60", func(r *http.Request) { setQuery(r, "Action", "AssumeRole") })},
		{name: "presigned tampered token", code: mis, req: get("60", func(r *http.Request) { setQuery(r, "X-Amz-Security-Token", "x") })},
		{name: "presigned tampered expiry", code: mis, req: get("60", func(r *http.Request) { setQuery(r, "X-Amz-Expires", "900") })},
		{name: "presigned tampered body", code: mis, req: func(t testing.TB) (*http.Request, []byte) {
			return presignedGET(t, "60"), []byte("Action=CreateRole")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, body := tt.req(t)
			secret, now := testSecret, signedAt
			if tt.secret != "" {
				secret = tt.secret
			}
			if !tt.now.IsZero() {
				now = tt.now
			}
			s, err := Parse(r)
			if err == nil {
				err = s.Verify(r, body, secret, now)
			}
			checkErr(t, err, tt.code, tt.status, tt.message)
		})
	}
}

func checkErr(t *testing.T, err error, code string, status int, message string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	e := awserr.As(err)
	if e == nil {
		t.Fatalf("error %v, want awserr %s", err, code)
	}
	if e.Code != code {
		t.Errorf("code %s, want %s (%v)", e.Code, code, err)
	}
	if status != 0 && e.Status != status {
		t.Errorf("status %d, want %d", e.Status, status)
	}
	if message != "" && e.Message != message {
		t.Errorf("message:\n%q\nwant\n%q", e.Message, message)
	}
}

func TestParseErrors(t *testing.T) {
	base := func() *http.Request {
		r, _ := signedPOST(t, stsBody, nil)
		return r
	}
	withAuth := func(a string) func() *http.Request {
		return func() *http.Request {
			r := base()
			r.Header.Set("Authorization", a)
			return r
		}
	}
	goodAuth := base().Header.Get("Authorization")
	presigned := func(mut func(q url.Values)) func() *http.Request {
		return func() *http.Request {
			r := presignedGET(t, "60")
			q := r.URL.Query()
			mut(q)
			r.URL.RawQuery = q.Encode()
			return r
		}
	}
	tests := []struct {
		name    string
		req     func() *http.Request
		code    string
		status  int
		message string
	}{
		{name: "no auth at all", code: awserr.CodeMissingAuth, status: 403, message: "Request is missing Authentication Token",
			req: func() *http.Request { return httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(nil)) }},
		{name: "garbage authorization", code: awserr.CodeIncompleteSignature, status: 400,
			message: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Basic Zm9vOmJhcg==",
			req: withAuth("Basic Zm9vOmJhcg==")},
		{name: "sigv4a algorithm", code: awserr.CodeIncompleteSignature, message: "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'",
			req: withAuth(strings.Replace(goodAuth, Algorithm, "AWS4-ECDSA-P256-SHA256", 1))},
		{name: "missing equal sign", code: awserr.CodeIncompleteSignature, status: 400,
			message: "'Credential' not a valid key=value pair (missing equal-sign) in Authorization header: '" +
				strings.Replace(goodAuth, "Credential=", "Credential ", 1) + "'.",
			req: withAuth(strings.Replace(goodAuth, "Credential=", "Credential ", 1))},
		{name: "missing signature", code: awserr.CodeIncompleteSignature,
			req: withAuth(goodAuth[:strings.Index(goodAuth, ", Signature=")])},
		{name: "duplicate credential", code: awserr.CodeIncompleteSignature,
			req: withAuth(goodAuth + ", Credential=AKIDEXAMPLE/20260101/us-east-1/sts/aws4_request")},
		{name: "credential with four parts", code: awserr.CodeIncompleteSignature,
			message: "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '" + testAKID + "/20260101/us-east-1/aws4_request'",
			req:     withAuth(strings.Replace(goodAuth, "/sts/", "/", 1))},
		{name: "bad terminator", code: awserr.CodeSignatureDoesNotMatch, status: 403,
			message: "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'.",
			req:     withAuth(strings.Replace(goodAuth, "aws4_request", "aws5_request", 1))},
		{name: "bad scope date", code: awserr.CodeIncompleteSignature, req: withAuth(strings.Replace(goodAuth, "/20260101/", "/2026011/", 1))},
		{name: "host not signed", code: awserr.CodeIncompleteSignature, status: 400,
			message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
			req:     withAuth(strings.Replace(goodAuth, ";host;", ";", 1))},
		{name: "x-amz-date not signed", code: awserr.CodeIncompleteSignature,
			req: withAuth(strings.Replace(goodAuth, ";x-amz-date", "", 1))},
		{name: "empty signed header name", code: awserr.CodeIncompleteSignature,
			req: withAuth(strings.Replace(goodAuth, ";host;", ";;host;", 1))},
		{name: "no date header", code: awserr.CodeIncompleteSignature, req: func() *http.Request {
			r := base()
			r.Header.Del("X-Amz-Date")
			return r
		}},
		{name: "bad x-amz-date", code: awserr.CodeIncompleteSignature,
			message: "Date must be in ISO-8601 'basic format'. Got '2026-01-01T00:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
			req: func() *http.Request {
				r := base()
				r.Header.Set("X-Amz-Date", "2026-01-01T00:00:00Z")
				return r
			}},
		{name: "two x-amz-date headers", code: awserr.CodeIncompleteSignature, req: func() *http.Request {
			r := base()
			r.Header.Add("X-Amz-Date", "20260101T000100Z")
			return r
		}},
		{name: "date header not signed", code: awserr.CodeIncompleteSignature,
			message: "'Date' must be a 'SignedHeader' in the AWS Authorization.",
			req: func() *http.Request {
				r := base()
				r.Header.Del("X-Amz-Date")
				r.Header.Set("Date", "Thu, 01 Jan 2026 00:00:00 GMT")
				return r
			}},
		{name: "two security token headers", code: awserr.CodeIncompleteSignature, req: func() *http.Request {
			r := base()
			r.Header.Add("X-Amz-Security-Token", "other")
			return r
		}},
		{name: "two authorization headers", code: awserr.CodeIncompleteSignature, req: func() *http.Request {
			r := base()
			r.Header.Add("Authorization", goodAuth)
			return r
		}},
		{name: "header and query auth", code: awserr.CodeIncompleteSignature, req: func() *http.Request {
			r := base()
			r.URL.RawQuery = "X-Amz-Signature=abc"
			return r
		}},
		{name: "presigned duplicate signature", code: awserr.CodeIncompleteSignature, req: func() *http.Request {
			r := presignedGET(t, "60")
			r.URL.RawQuery += "&X-Amz-Signature=00"
			return r
		}},
		{name: "presigned duplicate credential", code: awserr.CodeIncompleteSignature, req: func() *http.Request {
			r := presignedGET(t, "60")
			r.URL.RawQuery += "&X-Amz-Credential=" + url.QueryEscape("AKIDEXAMPLE/20260101/us-east-1/sts/aws4_request")
			return r
		}},
		{name: "presigned missing credential", code: awserr.CodeIncompleteSignature,
			message: "AWS query-string parameters must include 'X-Amz-Credential'. Re-examine the query-string parameters.",
			req:     presigned(func(q url.Values) { q.Del("X-Amz-Credential") })},
		{name: "presigned wrong algorithm", code: awserr.CodeIncompleteSignature,
			req: presigned(func(q url.Values) { q.Set("X-Amz-Algorithm", "AWS4-HMAC-SHA1") })},
		{name: "presigned negative expiry", code: awserr.CodeIncompleteSignature,
			req: presigned(func(q url.Values) { q.Set("X-Amz-Expires", "-1") })},
		{name: "presigned expiry over a week", code: awserr.CodeIncompleteSignature,
			message: "X-Amz-Expires must be less than a week (in seconds) that is 604800",
			req:     presigned(func(q url.Values) { q.Set("X-Amz-Expires", "604801") })},
		{name: "presigned expiry not a number", code: awserr.CodeIncompleteSignature,
			req: presigned(func(q url.Values) { q.Set("X-Amz-Expires", "1e3") })},
		{name: "presigned host not signed", code: awserr.CodeIncompleteSignature,
			req: presigned(func(q url.Values) { q.Set("X-Amz-SignedHeaders", "x-amz-date") })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req()
			s, err := Parse(r)
			if err == nil {
				t.Fatalf("Parse succeeded: %v", s)
			}
			checkErr(t, err, tt.code, tt.status, tt.message)
			if !hasAuth(r) && tt.code != awserr.CodeMissingAuth {
				t.Error("hasAuth = false for a request with auth material")
			}
		})
	}
}

func TestHasAuth(t *testing.T) {
	tests := []struct {
		name string
		req  func() *http.Request
		want bool
	}{
		{"none", func() *http.Request { return httptest.NewRequest(http.MethodPost, "/?Action=X", nil) }, false},
		{"header", func() *http.Request { r, _ := signedPOST(t, stsBody, nil); return r }, true},
		{"presigned", func() *http.Request { return presignedGET(t, "60") }, true},
		{"only a signature parameter", func() *http.Request { return httptest.NewRequest(http.MethodGet, "/?X-Amz-Signature=1", nil) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasAuth(tt.req()); got != tt.want {
				t.Errorf("hasAuth = %t, want %t", got, tt.want)
			}
		})
	}
}
