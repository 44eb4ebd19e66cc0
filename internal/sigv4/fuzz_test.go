package sigv4

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
)

// FuzzParse feeds arbitrary Authorization headers, query strings, dates and
// bodies through Parse and Verify. Neither may panic; every failure must be
// an AWS-shaped 4xx; a successful Parse always names host among the signed
// headers; and no arbitrary input verifies against the fixed secret.
// The committed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	r, _ := signedPOST(f, stsBody, nil)
	f.Add(r.Header.Get("Authorization"), "", r.Header.Get("X-Amz-Date"), stsBody)
	p := presignedGET(f, "60")
	f.Add("", p.URL.RawQuery, "", "")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request,SignedHeaders=host,Signature=00", "", "20260101T000000Z", "")
	f.Add("", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F20260101%2Fr%2Fs%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=1", "", "")
	f.Fuzz(func(t *testing.T, auth, rawQuery, amzDate, body string) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.URL.RawQuery = rawQuery
		r.RequestURI = r.URL.RequestURI()
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if amzDate != "" {
			r.Header.Set("X-Amz-Date", amzDate)
		}
		_ = hasAuth(r)
		s, err := Parse(r)
		if err != nil {
			checkFuzzErr(t, err)
			return
		}
		if !contains(s.SignedHeaders, "host") {
			t.Fatalf("parsed without host signed: %v", s.SignedHeaders)
		}
		_ = s.String()
		if err := s.Verify(r, []byte(body), "fuzz-secret", signedAt); err == nil {
			t.Fatalf("arbitrary input verified: auth=%q query=%q", auth, rawQuery)
		} else {
			checkFuzzErr(t, err)
		}
	})
}

func checkFuzzErr(t *testing.T, err error) {
	t.Helper()
	e := awserr.As(err)
	if e == nil || e.Status < 400 || e.Status >= 500 {
		t.Fatalf("error is not an AWS 4xx: %v", err)
	}
	if len(e.Message) > 4*maxAuthLen {
		t.Fatalf("message too long (%d bytes)", len(e.Message))
	}
}
