package awsquery

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type poolResult struct {
	Name string `xml:"Name"`
}

type badResult struct {
	Name string   `xml:"Name"`
	Ch   chan int `xml:"Ch"` // encoding/xml cannot encode a channel
}

// The pooled response buffers must never leak one response into another:
// not after an encoding error, not under concurrency.
func TestWriteResultReusesBuffersCleanly(t *testing.T) {
	want := func(name string) string {
		return `<GetRoleResponse xmlns="` + NamespaceIAM + `"><GetRoleResult><Name>` + name +
			`</Name></GetRoleResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></GetRoleResponse>`
	}
	t.Run("after an encoding error", func(t *testing.T) {
		for range 3 {
			rec := httptest.NewRecorder()
			WriteResult(rec, NamespaceIAM, "GetRole", "rid", &badResult{Name: strings.Repeat("partial", 100), Ch: make(chan int)})
			if rec.Code == 200 {
				t.Fatalf("unencodable result answered 200: %s", rec.Body)
			}
			rec = httptest.NewRecorder()
			WriteResult(rec, NamespaceIAM, "GetRole", "rid", &poolResult{Name: "ok"})
			if got := rec.Body.String(); got != want("ok") {
				t.Fatalf("after an error:\n got %s\nwant %s", got, want("ok"))
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					name := fmt.Sprintf("role-%d-%d-%s", g, i, strings.Repeat("x", i*50))
					rec := httptest.NewRecorder()
					WriteResult(rec, NamespaceIAM, "GetRole", "rid", &poolResult{Name: name})
					if got := rec.Body.String(); got != want(name) {
						t.Errorf("goroutine %d, response %d: got %.80s…", g, i, got)
						return
					}
				}
			}()
		}
		wg.Wait()
	})
}

// The Date header is cached per second and never stale.
func TestHTTPDate(t *testing.T) {
	base := time.Date(2026, 12, 5, 1, 2, 3, 0, time.UTC)
	for _, tc := range []struct {
		name string
		at   time.Time
	}{
		{"first", base},
		{"same second", base.Add(999 * time.Millisecond)},
		{"next second", base.Add(time.Second)},
		{"other zone", base.Add(2 * time.Second).In(time.FixedZone("x", 3600))},
		{"back in time", base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := httpDate(tc.at), tc.at.UTC().Format(http.TimeFormat); got != want {
				t.Errorf("httpDate = %q, want %q", got, want)
			}
		})
	}
}
