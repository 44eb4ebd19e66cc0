package sigv4

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// botocoreCase is a request signed by botocore (testdata/botocore/gen.py).
type botocoreCase struct {
	Name      string      `json:"name"`
	Method    string      `json:"method"`
	URL       string      `json:"url"`
	Headers   [][2]string `json:"headers"`
	Body      string      `json:"body"`
	Timestamp string      `json:"timestamp"`
	Secret    string      `json:"secret"`
}

func TestBotocoreRequests(t *testing.T) {
	data, err := os.ReadFile("testdata/botocore/botocore.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []botocoreCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			u, err := url.Parse(c.URL)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(c.Method, u.RequestURI(), strings.NewReader(c.Body))
			r.Host = u.Host
			for _, h := range c.Headers {
				r.Header.Add(h[0], h[1])
			}
			now, err := time.Parse(amzDateFmt, c.Timestamp)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(r)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !s.Time.Equal(now) {
				t.Errorf("Time %s, want %s", s.Time, now)
			}
			if err := s.Verify(r, []byte(c.Body), c.Secret, now.Add(time.Minute)); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := s.Verify(r, []byte(c.Body+"&x=1"), c.Secret, now); err == nil && c.Body != "" {
				t.Error("Verify accepted a changed body")
			}
			if err := s.Verify(r, []byte(c.Body), c.Secret, now.Add(MaxSkew+time.Second)); err == nil {
				t.Error("Verify accepted a stale request")
			}
		})
	}
}
