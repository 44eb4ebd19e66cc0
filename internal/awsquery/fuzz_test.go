package awsquery

import (
	"cmp"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/keylessci/keyless/internal/awserr"
)

// FuzzDecode decodes arbitrary query strings, bodies and content types and
// reads the result through every accessor the actions use. It must never
// panic; a refusal is a 4xx AWS error; lists and structures come back in
// index order with only the fields asked for.
func FuzzDecode(f *testing.F) {
	seeds := []struct{ query, contentType, body string }{
		{"", "application/x-www-form-urlencoded; charset=utf-8", "Action=GetCallerIdentity&Version=2011-06-15"},
		{"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&WebIdentityToken=a.b.c", "", ""},
		{"", "", "Action=CreateRole&Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.1.Value=1"},
		{"", "application/x-www-form-urlencoded", "Action=X&L.member.10=c&L.member.2=b&L.member.1=a&L.list.3=d&L.member.0=z&L.member.x=y"},
		{"", "application/x-www-form-urlencoded", "Action=X&L="},
		{"", "application/x-www-form-urlencoded", "Action=X&DurationSeconds=900&Flag=TRUE"},
		{"", "application/x-www-form-urlencoded", "Action=X&DurationSeconds=9e99&Flag=yes"},
		{"", "application/x-www-form-urlencoded", "Action=%zz"},
		{"%", "", "Action=X"},
		{"", "application/json", `{"Action":"X"}`},
		{"", "text/plain; charset=\"", "Action=X"},
		{"", "", "Action=X&L.member.99999999999999999999=a&L.member.-1=b"},
		{"", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.query, s.contentType, s.body)
	}
	f.Fuzz(func(t *testing.T, query, contentType, body string) {
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/", RawQuery: query},
			Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		// The reference: what url.ParseQuery makes of the same request, the
		// URL's values before the body's.
		want, refErr := url.ParseQuery(query)
		if body != "" && isForm(contentType) {
			form, err := url.ParseQuery(body)
			refErr = errors.Join(refErr, err)
			for k, v := range form {
				want[k] = append(want[k], v...)
			}
		}
		q, err := Decode(r)
		if err != nil {
			e := awserr.As(err)
			if e == nil {
				t.Fatalf("Decode error %v is not an AWS error", err)
			}
			if e.Status < 400 || e.Status > 499 {
				t.Fatalf("Decode error %s has status %d, want 4xx", e.Code, e.Status)
			}
			if e.Code == awserr.CodeMalformedQueryString && refErr == nil {
				t.Fatalf("Decode refused a request url.ParseQuery accepts: %v", err)
			}
			return
		}
		if refErr != nil {
			t.Fatalf("Decode accepted a request url.ParseQuery refuses: %v", refErr)
		}
		if q.Action == "" {
			t.Fatal("Decode accepted a request without Action")
		}
		if string(q.Body) != body {
			t.Fatal("Body is not the body as received")
		}
		names := []string{"Action", "Version", "L", "Tags", "DurationSeconds", "Flag", "PolicyArns"}
		for k := range want {
			name, _, _ := strings.Cut(k, ".")
			names = append(names, name, k)
		}
		for _, name := range names {
			if q.Has(name) != (want[name] != nil) {
				t.Fatalf("Has(%q) = %v, url.ParseQuery disagrees", name, q.Has(name))
			}
			if got := q.Get(name); got != want.Get(name) {
				t.Fatalf("Get(%q) = %q, url.ParseQuery gives %q", name, got, want.Get(name))
			}
			if _, ok, err := q.Int(name); err != nil && (!ok || awserr.As(err) == nil) {
				t.Fatalf("Int(%q) = %v, %v", name, ok, err)
			}
			if _, ok, err := q.Bool(name); err != nil && (!ok || awserr.As(err) == nil) {
				t.Fatalf("Bool(%q) = %v, %v", name, ok, err)
			}
			list := q.List(name)
			if ref := referenceList(want, name); !slices.Equal(list, ref) {
				t.Fatalf("List(%q) = %q, want %q", name, list, ref)
			}
			if list == nil && q.Has(name) {
				t.Fatalf("List(%q) is nil although %q was sent", name, name)
			}
			for _, v := range list {
				if !slices.ContainsFunc(allValues(want), func(x string) bool { return x == v }) {
					t.Fatalf("List(%q) invented %q", name, v)
				}
			}
			for _, m := range q.Structs(name, "Key", "Value") {
				for field := range m {
					if field != "Key" && field != "Value" {
						t.Fatalf("Structs(%q) returned field %q that was not asked for", name, field)
					}
				}
			}
		}
	})
}

func allValues(vals url.Values) []string {
	var out []string
	for _, vs := range vals {
		if len(vs) > 0 {
			out = append(out, vs[0])
		}
	}
	return out
}

// referenceList is List as url.Values defines it: the values of
// name.member.N (or name.list.N) with N an integer ≥ 1 as strconv reads
// it, each name's first value, ordered by N and then by name.
func referenceList(vals url.Values, name string) []string {
	type entry struct {
		n   int
		key string
	}
	var entries []entry
	for k := range vals {
		rest, ok := strings.CutPrefix(k, name+".")
		if !ok {
			continue
		}
		if m := indexSuffix.FindStringSubmatch(rest); m != nil {
			if n, err := strconv.Atoi(m[1]); err == nil && n >= 1 {
				entries = append(entries, entry{n, k})
			}
		}
	}
	if entries == nil {
		if _, ok := vals[name]; ok {
			return []string{}
		}
		return nil
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(a.n-b.n, strings.Compare(a.key, b.key))
	})
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, vals.Get(e.key))
	}
	return out
}

var indexSuffix = regexp.MustCompile(`^(?:member|list)\.([+-]?[0-9]+)$`)
