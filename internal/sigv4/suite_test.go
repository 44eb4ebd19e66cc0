package sigv4

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// suiteDir is the AWS SigV4 signing test suite shared by the project.
const suiteDir = "../../../shared/testdata/sigv4"

type suiteContext struct {
	Credentials struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
		Token           string `json:"token"`
	} `json:"credentials"`
	Expiration int       `json:"expiration_in_seconds"`
	OmitToken  bool      `json:"omit_session_token"`
	Normalize  bool      `json:"normalize"`
	Region     string    `json:"region"`
	Service    string    `json:"service"`
	Timestamp  time.Time `json:"timestamp"`
}

// readRawRequest parses a request file of the suite. The files are not
// always valid HTTP/1.1 (spaces and raw UTF-8 in the target, folded header
// lines), so they are read by hand; the result looks like what net/http's
// server hands a handler: Host promoted to r.Host, RequestURI as sent.
func readRawRequest(t testing.TB, data []byte) (*http.Request, []byte) {
	t.Helper()
	head, body, _ := bytes.Cut(data, []byte("\n\n"))
	sc := bufio.NewScanner(bytes.NewReader(head))
	if !sc.Scan() {
		t.Fatal("empty request file")
	}
	line := sc.Text()
	method, rest, ok := strings.Cut(line, " ")
	target, found := strings.CutSuffix(rest, " HTTP/1.1")
	if !ok || !found {
		t.Fatalf("bad request line %q", line)
	}
	path, rawQuery, _ := strings.Cut(target, "?")
	r := &http.Request{
		Method:     method,
		RequestURI: target,
		URL:        &url.URL{Path: path, RawQuery: rawQuery},
		Header:     http.Header{},
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	var last string
	for sc.Scan() {
		l := sc.Text()
		if l != "" && (l[0] == ' ' || l[0] == '\t') && last != "" { // folded line
			vals := r.Header[last]
			vals[len(vals)-1] += " " + strings.TrimSpace(l)
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			t.Fatalf("bad header line %q", l)
		}
		last = http.CanonicalHeaderKey(k)
		r.Header.Add(last, v)
	}
	r.Host = r.Header.Get("Host")
	r.Header.Del("Host")
	r.ContentLength = int64(len(body))
	return r, body
}

func readFile(t testing.TB, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAWSSuite(t *testing.T) {
	if _, err := os.Stat(suiteDir); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("AWS SigV4 test suite not found at %s (it lives in the shared testdata, outside this module)", suiteDir)
	}
	dirs, err := filepath.Glob(filepath.Join(suiteDir, "*", "context.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases in %s: %v", suiteDir, err)
	}
	for _, ctxFile := range dirs {
		dir := filepath.Dir(ctxFile)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var c suiteContext
			if err := json.Unmarshal([]byte(readFile(t, dir, "context.json")), &c); err != nil {
				t.Fatal(err)
			}
			for _, form := range []string{"header", "query"} {
				t.Run(form, func(t *testing.T) {
					r, body := readRawRequest(t, []byte(readFile(t, dir, form+"-signed-request.txt")))
					s, err := Parse(r)
					if err != nil {
						t.Fatalf("Parse: %v", err)
					}
					if s.Presigned != (form == "query") {
						t.Errorf("Presigned = %t", s.Presigned)
					}
					if s.AccessKeyID != c.Credentials.AccessKeyID || s.Region != c.Region || s.Service != c.Service ||
						!s.Time.Equal(c.Timestamp) || s.Date != c.Timestamp.Format("20060102") {
						t.Errorf("parsed %+v, want context %+v", s, c)
					}
					if form == "query" && s.Expires != time.Duration(c.Expiration)*time.Second {
						t.Errorf("Expires = %v, want %ds", s.Expires, c.Expiration)
					}
					if c.Credentials.Token != "" && s.SecurityToken != c.Credentials.Token {
						t.Errorf("SecurityToken = %q, want %q", s.SecurityToken, c.Credentials.Token)
					}

					canon, err := s.canonicalRequests(r, body)
					if err != nil {
						t.Fatalf("canonical request: %v", err)
					}
					want := readFile(t, dir, form+"-canonical-request.txt")
					if c.Normalize && !c.OmitToken && canon[0] != want {
						t.Errorf("canonical request:\n%s\nwant:\n%s", canon[0], want)
					}
					got := ""
					for _, cr := range canon {
						if cr == want {
							got = cr
						}
					}
					if got == "" {
						t.Fatalf("no candidate canonical request matches:\n%s\ncandidates:\n%s", want, strings.Join(canon, "\n--\n"))
					}
					sts := stringToSign(s.requestDate(), s.Scope(), got)
					if want := readFile(t, dir, form+"-string-to-sign.txt"); sts != want {
						t.Errorf("string to sign:\n%s\nwant:\n%s", sts, want)
					}
					if want := strings.TrimSpace(readFile(t, dir, form+"-signature.txt")); s.Signature != want {
						t.Errorf("signature in request %q, want %q", s.Signature, want)
					}
					if err := s.Verify(r, body, c.Credentials.SecretAccessKey, c.Timestamp); err != nil {
						t.Errorf("Verify: %v", err)
					}
					if err := s.Verify(r, body, c.Credentials.SecretAccessKey+"x", c.Timestamp); err == nil {
						t.Error("Verify with a wrong secret succeeded")
					}
				})
			}
		})
	}
}
