package awsquery

import (
	"errors"
	"io"
	"mime"
	"net/http"
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
	params []param // the URL's, then the body's, in the order sent
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
	// The URL's parameters come first, so that Get prefers them, as the
	// url.Values merge before this did.
	params, err := parseForm(nil, r.URL.RawQuery)
	if err != nil {
		return nil, awserr.New(awserr.CodeMalformedQueryString, http.StatusBadRequest, "The query string is malformed.").Wrap(err)
	}
	if len(body) > 0 && isForm(r.Header.Get("Content-Type")) {
		if params, err = parseForm(params, string(body)); err != nil {
			return nil, awserr.New(awserr.CodeMalformedQueryString, http.StatusBadRequest, "The request body is not valid form encoding.").Wrap(err)
		}
	}
	q.params = params
	q.Action = q.Get("Action")
	q.Version = q.Get("Version")
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
func (q *Request) Get(name string) string {
	if i := lookup(q.params, name); i >= 0 {
		return q.params[i].value
	}
	return ""
}

// Has reports whether the parameter was sent (possibly empty).
func (q *Request) Has(name string) bool { return lookup(q.params, name) >= 0 }

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
	idx := indexed(q.params, name, "")
	if idx == nil {
		if q.Has(name) {
			return []string{}
		}
		return nil
	}
	out := make([]string, 0, len(idx))
	for _, e := range idx {
		out = append(out, e.value)
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
		for _, e := range indexed(q.params, name, "."+f) {
			m, ok := seen[e.n]
			if !ok {
				m = map[string]string{}
				seen[e.n] = m
				order = append(order, e.n)
			}
			m[f] = e.value
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
