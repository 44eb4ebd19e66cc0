package awsquery

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/keylessci/keyless/internal/awserr"
)

// MaxBodyBytes caps a request body. The largest legitimate input is a
// policy document (131072 characters, URL-encoded up to three times that).
const MaxBodyBytes = 1 << 20

// Request is a decoded query-protocol request.
type Request struct {
	Action  string
	Version string
	// Body is the raw body as received (needed for SigV4 payload hashing).
	Body   []byte
	values url.Values
}

// Decode reads and parses r. Parameters come from the form body of a POST
// and from the URL query (presigned requests carry them there).
func Decode(r *http.Request) (*Request, error) {
	q := &Request{}
	var body []byte
	if r.Body != nil {
		b, err := readBody(r.Body, r.ContentLength)
		if err != nil {
			return nil, awserr.New(awserr.CodeMalformedQueryString, http.StatusBadRequest, "The request body could not be read.").Wrap(err)
		}
		if len(b) > MaxBodyBytes {
			return nil, awserr.New(awserr.CodeRequestEntityTooLarge, http.StatusRequestEntityTooLarge,
				"Request body exceeds the maximum size of 1048576 bytes.")
		}
		body = b
	}
	q.Body = body
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, awserr.New(awserr.CodeMalformedQueryString, http.StatusBadRequest, "The query string is malformed.").Wrap(err)
	}
	if len(body) > 0 && isForm(r.Header.Get("Content-Type")) {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, awserr.New(awserr.CodeMalformedQueryString, http.StatusBadRequest, "The request body is not valid form encoding.").Wrap(err)
		}
		if len(vals) == 0 {
			vals = form // the usual POST: nothing in the URL to merge
		} else {
			for k, v := range form {
				vals[k] = append(vals[k], v...)
			}
		}
	}
	q.values = vals
	q.Action = vals.Get("Action")
	q.Version = vals.Get("Version")
	if q.Action == "" {
		return nil, awserr.New(awserr.CodeMissingAction, http.StatusBadRequest, "Missing Action")
	}
	return q, nil
}

// readBody reads at most MaxBodyBytes+1 bytes, in one allocation when the
// request declares its length (every AWS SDK does).
func readBody(body io.Reader, declared int64) ([]byte, error) {
	lr := io.LimitReader(body, MaxBodyBytes+1)
	if declared <= 0 || declared > MaxBodyBytes {
		return io.ReadAll(lr)
	}
	// One spare byte so that reaching EOF does not force a regrowth.
	b := make([]byte, 0, declared+1)
	for {
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // a longer body than declared: grow
		}
	}
}

// The Content-Type values the AWS SDKs send, recognised without parsing.
var formTypes = map[string]bool{
	"application/x-www-form-urlencoded":                true,
	"application/x-www-form-urlencoded; charset=utf-8": true,
}

func isForm(ct string) bool {
	if ct == "" {
		return true // botocore always sets it; tolerate its absence
	}
	if formTypes[ct] {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// Get returns the first value of a flat parameter, "" if absent.
func (q *Request) Get(name string) string { return q.values.Get(name) }

// Has reports whether the parameter was sent (possibly empty).
func (q *Request) Has(name string) bool { _, ok := q.values[name]; return ok }

// Int parses an optional integer parameter. ok is false when absent.
func (q *Request) Int(name string) (n int, ok bool, err error) {
	if !q.Has(name) {
		return 0, false, nil
	}
	n, err = strconv.Atoi(q.Get(name))
	if err != nil {
		return 0, true, awserr.Newf(awserr.CodeValidation, http.StatusBadRequest,
			"1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be a number", q.Get(name), lowerFirst(name))
	}
	return n, true, nil
}

// Bool parses an optional boolean parameter.
func (q *Request) Bool(name string) (b, ok bool, err error) {
	if !q.Has(name) {
		return false, false, nil
	}
	switch strings.ToLower(q.Get(name)) {
	case "true":
		return true, true, nil
	case "false":
		return false, true, nil
	}
	return false, true, awserr.Newf(awserr.CodeValidation, http.StatusBadRequest,
		"1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be a boolean", q.Get(name), lowerFirst(name))
}

// List returns a list parameter sent as Name.member.N (what the SDKs send)
// or Name.list.N (the API reference samples), ordered by N. A bare `Name=`
// is botocore's encoding of an empty list and yields an empty, non-nil
// slice; an absent list yields nil.
func (q *Request) List(name string) []string {
	idx := q.indexed(name, "")
	if idx == nil {
		if q.Has(name) {
			return []string{}
		}
		return nil
	}
	out := make([]string, 0, len(idx))
	for _, e := range idx {
		out = append(out, q.values.Get(e.key))
	}
	return out
}

// Structs returns a list of structures sent as Name.member.N.Field, each as
// a map from field name to value, ordered by N. Field names are matched
// exactly as given in fields.
func (q *Request) Structs(name string, fields ...string) []map[string]string {
	seen := map[int]map[string]string{}
	var order []int
	for _, f := range fields {
		for _, e := range q.indexed(name, "."+f) {
			m, ok := seen[e.n]
			if !ok {
				m = map[string]string{}
				seen[e.n] = m
				order = append(order, e.n)
			}
			m[f] = q.values.Get(e.key)
		}
	}
	if len(order) == 0 {
		if q.Has(name) {
			return []map[string]string{}
		}
		return nil
	}
	sort.Ints(order)
	out := make([]map[string]string, 0, len(order))
	for _, n := range order {
		out = append(out, seen[n])
	}
	return out
}

type indexedKey struct {
	n   int
	key string
}

// indexed finds keys of the form name.member.N+suffix (or .list.N) and
// returns them sorted by N.
func (q *Request) indexed(name, suffix string) []indexedKey {
	var out []indexedKey
	for k := range q.values {
		rest, ok := strings.CutPrefix(k, name+".")
		if !ok {
			continue
		}
		if r, ok := strings.CutPrefix(rest, "member."); ok {
			rest = r
		} else if r, ok := strings.CutPrefix(rest, "list."); ok {
			rest = r
		} else {
			continue
		}
		num, ok := strings.CutSuffix(rest, suffix)
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 1 {
			continue
		}
		out = append(out, indexedKey{n: n, key: k})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	return out
}

// ErrUnknownAction is returned by routers for an action they do not serve.
var ErrUnknownAction = errors.New("unknown action")

// InvalidAction is the AWS error for an action this endpoint does not implement.
func InvalidAction(action, version string) *awserr.Error {
	return awserr.Newf(awserr.CodeInvalidAction, http.StatusBadRequest,
		"Could not find operation %s for version %s", action, version)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
