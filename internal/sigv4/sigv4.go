// Package sigv4 verifies AWS Signature Version 4 on incoming requests, in
// both the header form (Authorization: AWS4-HMAC-SHA256 ...) and the
// presigned query form (X-Amz-Algorithm, X-Amz-Credential, ...).
//
// It owns parsing the signature material, rebuilding the canonical request
// from exactly the headers the client signed, the clock-skew and expiry
// rules, and the signing-key derivation (with a small bounded cache). Errors
// are awserr values with AWS's codes and messages.
//
// It does not know who the caller is: looking up the secret for an access key
// id, opening session tokens (package creds), checking that the scope's
// service names this server's API, and authorization all belong to the
// caller of Verify.
package sigv4

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

const (
	terminator   = "aws4_request"
	amzDateFmt   = "20060102T150405Z"
	scopeDateFmt = "20060102"

	// MaxSkew is how far X-Amz-Date may be from the server clock.
	MaxSkew = 15 * time.Minute
	// MaxExpires is the largest X-Amz-Expires accepted (seven days).
	MaxExpires = 7 * 24 * time.Hour

	// maxAuthLen caps the Authorization header (and echoed values) we parse.
	maxAuthLen = 8 << 10
)

// Query parameter and header names.
const (
	qAlgorithm     = "X-Amz-Algorithm"
	qCredential    = "X-Amz-Credential"
	qDate          = "X-Amz-Date"
	qExpires       = "X-Amz-Expires"
	qSignedHeaders = "X-Amz-SignedHeaders"
	qSecurityToken = "X-Amz-Security-Token"
	qSignature     = "X-Amz-Signature"
	qContentSHA256 = "X-Amz-Content-Sha256"
)

// Signed is the signature material of one request, as the client sent it.
type Signed struct {
	AccessKeyID, Date /*YYYYMMDD*/, Region, Service string

	// SignedHeaders are the lower-cased header names the client signed, in
	// the client's order.
	SignedHeaders []string
	Signature     string
	// SecurityToken is the X-Amz-Security-Token header or query parameter,
	// "" if none.
	SecurityToken string
	// Time is X-Amz-Date (or the Date header).
	Time      time.Time
	Presigned bool
	// Expires is X-Amz-Expires (presigned only); MaxSkew when absent.
	Expires time.Duration

	// amzDate is the request date exactly as it goes into the string to sign.
	amzDate string
}

// Scope returns the credential scope, "YYYYMMDD/region/service/aws4_request".
func (s *Signed) Scope() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/" + terminator
}

func incomplete(format string, args ...any) *awserr.Error {
	return awserr.Newf(awserr.CodeIncompleteSignature, http.StatusBadRequest, format, args...)
}

var errMissingAuth = awserr.New(awserr.CodeMissingAuth, http.StatusForbidden,
	"Request is missing Authentication Token")

// hasAuth reports whether r carries any SigV4 material: an Authorization
// header, or one of the presigned query parameters.
func hasAuth(r *http.Request) bool {
	if len(r.Header.Values("Authorization")) > 0 {
		return true
	}
	for _, p := range parseQuery(r.URL.RawQuery) {
		switch p.key {
		case qAlgorithm, qCredential, qSignature:
			return true
		}
	}
	return false
}

// Parse extracts the signature material from r without checking it. A
// request with no SigV4 material gets MissingAuthenticationToken; malformed
// material gets IncompleteSignature with AWS's wording.
func Parse(r *http.Request) (*Signed, error) {
	query := parseQuery(r.URL.RawQuery)
	auth := r.Header.Values("Authorization")
	presigned := false
	for _, p := range query {
		switch p.key {
		case qAlgorithm, qCredential, qSignature:
			presigned = true
		}
	}
	var (
		s   *Signed
		err error
	)
	switch {
	case len(auth) > 0 && presigned:
		return nil, incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, " +
			"Signature query string parameter or the Authorization header should be specified")
	case len(auth) > 1:
		return nil, incomplete("Only one Authorization header may be specified")
	case len(auth) == 1:
		s, err = parseHeader(r, auth[0])
	case presigned:
		s, err = parsePresigned(query)
	default:
		return nil, errMissingAuth
	}
	if err != nil {
		return nil, err
	}
	if !contains(s.SignedHeaders, "host") {
		return nil, incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return s, nil
}

// parseHeader parses the header form.
func parseHeader(r *http.Request, auth string) (*Signed, error) {
	if len(auth) > maxAuthLen {
		return nil, incomplete("Authorization header is too long")
	}
	shown := clip(auth)
	rest, ok := strings.CutPrefix(auth, Algorithm+" ")
	if !ok {
		alg, _, _ := strings.Cut(strings.TrimSpace(auth), " ")
		if strings.HasPrefix(alg, "AWS4-") {
			return nil, incomplete("Unsupported AWS 'algorithm': '%s'", clip(alg))
		}
		return nil, incomplete("Authorization header requires 'Credential' parameter. "+
			"Authorization header requires 'Signature' parameter. "+
			"Authorization header requires 'SignedHeaders' parameter. "+
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "+
			"Authorization=%s", shown)
	}
	fields := map[string]string{}
	// AWS splits the parameters on commas and white space alike.
	parts := strings.FieldsFunc(rest, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' })
	for _, part := range parts {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, incomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", part, shown)
		}
		if _, dup := fields[k]; dup {
			return nil, incomplete("Authorization header has a duplicate '%s' parameter. Authorization=%s", k, shown)
		}
		fields[k] = v
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if fields[k] == "" {
			missing = append(missing, "Authorization header requires '"+k+"' parameter.")
		}
	}
	amzDate := r.Header.Values("X-Amz-Date")
	dateHdr := r.Header.Values("Date")
	if len(amzDate) == 0 && len(dateHdr) == 0 {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		return nil, incomplete("%s Authorization=%s", strings.Join(missing, " "), shown)
	}
	s := &Signed{Signature: fields["Signature"]}
	if err := s.setCredential(fields["Credential"]); err != nil {
		return nil, err
	}
	if err := s.setSignedHeaders(fields["SignedHeaders"]); err != nil {
		return nil, err
	}
	switch {
	case len(amzDate) > 1 || len(dateHdr) > 1:
		return nil, incomplete("Only one X-Amz-Date or Date header may be specified")
	case len(amzDate) == 1:
		if !contains(s.SignedHeaders, "x-amz-date") {
			return nil, incomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
		}
		t, err := parseAmzDate(amzDate[0])
		if err != nil {
			return nil, err
		}
		s.Time, s.amzDate = t, amzDate[0]
	default:
		if !contains(s.SignedHeaders, "date") {
			return nil, incomplete("'Date' must be a 'SignedHeader' in the AWS Authorization.")
		}
		t, err := parseHTTPDate(dateHdr[0])
		if err != nil {
			return nil, incomplete("Date must be in RFC 1123 format. Got '%s'.", clip(dateHdr[0]))
		}
		s.Time = t.UTC()
		s.amzDate = s.Time.Format(amzDateFmt)
	}
	if tok := r.Header.Values("X-Amz-Security-Token"); len(tok) > 1 {
		return nil, incomplete("Only one X-Amz-Security-Token header may be specified")
	} else if len(tok) == 1 {
		s.SecurityToken = tok[0]
	}
	return s, nil
}

// parsePresigned parses the query form.
func parsePresigned(query []param) (*Signed, error) {
	vals := map[string]string{}
	for _, p := range query {
		switch p.key {
		case qAlgorithm, qCredential, qDate, qExpires, qSignedHeaders, qSecurityToken, qSignature:
			if _, dup := vals[p.key]; dup {
				return nil, incomplete("AWS query-string parameter '%s' must be specified only once.", p.key)
			}
			vals[p.key] = p.value
		}
	}
	for _, k := range []string{qAlgorithm, qCredential, qSignature, qSignedHeaders, qDate} {
		if vals[k] == "" {
			return nil, incomplete("AWS query-string parameters must include '%s'. Re-examine the query-string parameters.", k)
		}
	}
	if vals[qAlgorithm] != Algorithm {
		return nil, incomplete("X-Amz-Algorithm only supports \"%s\"", Algorithm)
	}
	s := &Signed{Presigned: true, Signature: vals[qSignature], SecurityToken: vals[qSecurityToken]}
	if err := s.setCredential(vals[qCredential]); err != nil {
		return nil, err
	}
	if err := s.setSignedHeaders(vals[qSignedHeaders]); err != nil {
		return nil, err
	}
	t, err := parseAmzDate(vals[qDate])
	if err != nil {
		return nil, err
	}
	s.Time, s.amzDate = t, vals[qDate]
	exp, ok := vals[qExpires]
	if !ok { // aws-sdk-go-v2's STS presigner sends none; STS then allows MaxSkew
		s.Expires = MaxSkew
		return s, nil
	}
	n, err := strconv.ParseInt(exp, 10, 64)
	switch {
	case err != nil:
		return nil, incomplete("X-Amz-Expires should be a number")
	case n < 1:
		return nil, incomplete("X-Amz-Expires must be non-negative")
	case n > int64(MaxExpires/time.Second):
		return nil, incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	s.Expires = time.Duration(n) * time.Second
	return s, nil
}

func (s *Signed) setCredential(cred string) error {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", clip(cred))
	}
	for _, p := range parts {
		if p == "" {
			return incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", clip(cred))
		}
	}
	if parts[4] != terminator {
		return awserr.Newf(awserr.CodeSignatureDoesNotMatch, http.StatusForbidden,
			"Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", clip(parts[4]))
	}
	if _, err := time.Parse(scopeDateFmt, parts[1]); err != nil || len(parts[1]) != 8 {
		return incomplete("Credential date must be in YYYYMMDD format, got '%s'", clip(parts[1]))
	}
	s.AccessKeyID, s.Date, s.Region, s.Service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (s *Signed) setSignedHeaders(list string) error {
	for h := range strings.SplitSeq(list, ";") {
		if h == "" || strings.ContainsAny(h, " \t:") {
			return incomplete("SignedHeaders contains an invalid header name: '%s'", clip(list))
		}
		s.SignedHeaders = append(s.SignedHeaders, strings.ToLower(h))
	}
	return nil
}

func parseAmzDate(v string) (time.Time, error) {
	t, err := time.Parse(amzDateFmt, v)
	if err != nil || len(v) != len(amzDateFmt) {
		return time.Time{}, incomplete("Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", clip(v))
	}
	return t, nil
}

// parseHTTPDate accepts the HTTP date formats and RFC 1123 with a numeric
// zone, which botocore sends ("Sun, 29 Nov 2026 05:29:23 -0000").
func parseHTTPDate(v string) (time.Time, error) {
	if t, err := http.ParseTime(v); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC1123Z, v)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// clip shortens attacker-controlled text echoed in messages.
func clip(s string) string {
	const n = 256
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// String is for logs: it never includes the signature or the token.
func (s *Signed) String() string {
	return fmt.Sprintf("sigv4{akid=%s scope=%s presigned=%t}", s.AccessKeyID, s.Scope(), s.Presigned)
}
