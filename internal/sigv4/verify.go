package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"sync"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
)

const mismatchMsg = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

func mismatch(format string, args ...any) *awserr.Error {
	return awserr.Newf(awserr.CodeSignatureDoesNotMatch, http.StatusForbidden, format, args...)
}

var errMismatch = mismatch(mismatchMsg)

const unsignedPayload = "UNSIGNED-PAYLOAD"

// Verify checks the signature over r (whose body the caller has already read
// into body) with secret, at time now. It rebuilds the canonical request from
// exactly the client's SignedHeaders; the payload hash is that of body (an
// X-Amz-Content-Sha256 value is used when present, and must equal it;
// UNSIGNED-PAYLOAD is accepted only for an empty body, since the query
// protocol carries the action in the body). The request date must be within
// MaxSkew of now; a presigned request also expires X-Amz-Expires after its
// date, and, as AWS STS does, never lives longer than MaxSkew. The path is
// accepted normalized (botocore) or as sent (S3-style signers), and a
// presigned X-Amz-Security-Token may be unsigned (see canonicalRequests).
// The scope's service and region are not checked here. r.URL.RawQuery and
// r.RequestURI (r.URL when RequestURI is empty) must be as received.
func (s *Signed) Verify(r *http.Request, body []byte, secret string, now time.Time) error {
	amzDate := s.requestDate()
	if amzDate[:8] != s.Date {
		return mismatch("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			s.Date, amzDate[:8], amzDate)
	}
	if err := s.checkTime(amzDate, now); err != nil {
		return err
	}
	canon, err := s.canonicalRequests(r, body)
	if err != nil {
		return err
	}
	key := signingKey(secret, s.Date, s.Region, s.Service)
	scope := s.Scope()
	var sts string
	for _, c := range canon {
		sts = stringToSign(amzDate, scope, c)
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(sts))
		var want [2 * sha256.Size]byte
		hex.Encode(want[:], mac.Sum(nil))
		if subtle.ConstantTimeCompare(want[:], []byte(s.Signature)) == 1 {
			return nil
		}
	}
	// The string to sign holds only hashes and the scope: safe to log.
	return errMismatch.Wrap(fmt.Errorf("signature mismatch; string to sign %q", sts))
}

// requestDate is the request date as it goes into the string to sign.
func (s *Signed) requestDate() string {
	if s.amzDate != "" {
		return s.amzDate
	}
	return s.Time.UTC().Format(amzDateFmt)
}

// canonicalRequests returns the candidate canonical requests, most usual
// first: the path normalized, then (if different) as sent, as S3-style
// signers leave it; and for a presigned request whose X-Amz-Security-Token
// was appended after signing (some signers do), the query without it. The
// token is bound to its access key id when it is opened, so leaving it
// unsigned gains an attacker nothing, as with an unsigned header.
func (s *Signed) canonicalRequests(r *http.Request, body []byte) ([]string, error) {
	payload, err := s.payloadHash(r, body)
	if err != nil {
		return nil, err
	}
	headers, err := canonicalHeaders(r, s.SignedHeaders)
	if err != nil {
		return nil, err
	}
	params := parseQuery(r.URL.RawQuery)
	queries := []string{canonicalQuery(params, s.Presigned)}
	if s.Presigned && s.SecurityToken != "" {
		without := make([]param, 0, len(params))
		for _, p := range params {
			if p.key != qSecurityToken {
				without = append(without, p)
			}
		}
		queries = append(queries, canonicalQuery(without, true))
	}
	var out []string
	for _, query := range queries {
		for _, uri := range canonicalURIs(r) {
			out = append(out, canonicalRequest(r.Method, uri, query, headers, s.SignedHeaders, payload))
		}
	}
	return out, nil
}

func (s *Signed) checkTime(amzDate string, now time.Time) error {
	now = now.UTC()
	t := s.Time.UTC()
	if t.After(now.Add(MaxSkew)) {
		return mismatch("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, now.Add(MaxSkew).Format(amzDateFmt), now.Format(amzDateFmt))
	}
	if s.Presigned && s.Expires < MaxSkew && now.After(t.Add(s.Expires)) {
		return mismatch("Signature expired: %s is now earlier than %s (%s - %d sec.)",
			amzDate, now.Add(-s.Expires).Format(amzDateFmt), now.Format(amzDateFmt), int64(s.Expires/time.Second))
	}
	if t.Before(now.Add(-MaxSkew)) {
		return mismatch("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, now.Add(-MaxSkew).Format(amzDateFmt), now.Format(amzDateFmt))
	}
	return nil
}

func (s *Signed) payloadHash(r *http.Request, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	computed := hex.EncodeToString(sum[:])
	claimed := r.Header.Values(qContentSHA256)
	if s.Presigned {
		for _, p := range parseQuery(r.URL.RawQuery) {
			if p.key == qContentSHA256 {
				claimed = append(claimed, p.value)
			}
		}
	}
	switch {
	case len(claimed) == 0:
		return computed, nil
	case len(claimed) > 1:
		return "", incomplete("Only one X-Amz-Content-Sha256 may be specified")
	case claimed[0] == computed:
		return computed, nil
	case claimed[0] == unsignedPayload && len(body) == 0:
		return unsignedPayload, nil
	}
	return "", errMismatch.Wrap(errors.New("x-amz-content-sha256 does not match the body"))
}

// Signing keys are derived with four HMACs; they are cached by a hash of
// (secret, date, region, service) so the secret itself is never a map key.
const maxCachedKeys = 4096

var keyCache = struct {
	sync.Mutex
	m map[[sha256.Size]byte][]byte
}{m: make(map[[sha256.Size]byte][]byte)}

func signingKey(secret, date, region, service string) []byte {
	h := sha256.New()
	for _, f := range []string{secret, date, region, service} {
		writeField(h, f)
	}
	var id [sha256.Size]byte
	h.Sum(id[:0])

	keyCache.Lock()
	k, ok := keyCache.m[id]
	keyCache.Unlock()
	if ok {
		return k
	}
	k = deriveKey(secret, date, region, service)
	keyCache.Lock()
	if len(keyCache.m) >= maxCachedKeys {
		for old := range keyCache.m { // evict an arbitrary entry
			delete(keyCache.m, old)
			break
		}
	}
	keyCache.m[id] = k
	keyCache.Unlock()
	return k
}

func writeField(h hash.Hash, f string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(f)))
	h.Write(n[:])
	h.Write([]byte(f))
}

func deriveKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, terminator)
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
