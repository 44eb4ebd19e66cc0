package decision

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// Verdicts.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Record is one decision. The writer fills ID (when empty) and Fix (from
// Reason and Trace, when empty); everything else comes from the decider.
type Record struct {
	ID        string    `json:"id"`
	Time      time.Time `json:"time"`
	RequestID string    `json:"requestId"`
	SourceIP  string    `json:"sourceIp,omitempty"`
	UserAgent string    `json:"userAgent,omitempty"`
	Action    string    `json:"action"`
	RoleARN   string    `json:"roleArn,omitempty"`
	Provider  string    `json:"provider,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Principal string    `json:"principal,omitempty"`
	Decision  string    `json:"decision"`
	ErrorCode string    `json:"errorCode,omitempty"`
	// Reason is the internal reason of a denial ("token rejected",
	// "trust policy", …); the caller never sees it.
	Reason      string        `json:"reason,omitempty"`
	ClosestMiss string        `json:"closestMiss,omitempty"`
	Fix         string        `json:"fix,omitempty"`
	Latency     time.Duration `json:"-"`
	// Claims are the token's decoded claims (numbers as json.Number),
	// never the token itself.
	Claims map[string]any `json:"claims,omitempty"`
	// ClaimsJSON, when set, is Claims as the token carried them (a JSON
	// object): stored as is rather than encoding Claims again.
	ClaimsJSON json.RawMessage `json:"-"`
	// Trace is the policy engine's explanation of a policy denial.
	Trace *policy.Trace `json:"trace,omitempty"`
}

// recordJSON adds the latency in milliseconds to the JSON form.
type recordJSON struct {
	*alias
	LatencyMS float64 `json:"latencyMs"`
}

type alias Record

// MarshalJSON renders the record as the admin API and the CLI show it.
func (r Record) MarshalJSON() ([]byte, error) {
	a := alias(r)
	return json.Marshal(recordJSON{alias: &a, LatencyMS: float64(r.Latency.Microseconds()) / 1000})
}

// UnmarshalJSON reads what MarshalJSON wrote; numbers in claims stay json.Number.
func (r *Record) UnmarshalJSON(b []byte) error {
	var v recordJSON
	v.alias = (*alias)(r)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	r.Latency = time.Duration(v.LatencyMS * float64(time.Millisecond))
	return nil
}

// idGen assigns record ids in time order, so that the store appends to its
// id index instead of scattering each batch over it (random ids made
// writing a batch touch a page per record). An id is 20 hex characters:
// 11 of milliseconds since 1970, 5 of a random node number drawn when the
// log starts (replicas differ), 4 of a sequence within the millisecond.
// The milliseconds never go back: when the clock does, or 65,536 ids are
// taken in one millisecond, the generator borrows from the next.
type idGen struct {
	mu   sync.Mutex
	node uint32 // 20 bits
	ms   int64
	seq  uint32
}

func newIDGen() *idGen {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &idGen{node: binary.BigEndian.Uint32(b[:]) & 0xfffff}
}

func (g *idGen) next(now time.Time) string {
	g.mu.Lock()
	ms := now.UnixMilli()
	switch {
	case ms > g.ms:
		g.ms, g.seq = ms, 0
	case g.seq == 0xffff:
		g.ms, g.seq = g.ms+1, 0
	default:
		g.seq++
	}
	ms, seq := g.ms, g.seq
	g.mu.Unlock()
	return fmt.Sprintf("%011x%05x%04x", ms&0xfffffffffff, g.node, seq)
}

// roleName is the last path segment of a role ARN ("" when it is not one).
func roleName(roleARN string) string {
	_, res, ok := strings.Cut(roleARN, ":role/")
	if !ok {
		return ""
	}
	return res[strings.LastIndexByte(res, '/')+1:]
}

// toStore encodes r for the store. Claims and trace become JSON here, in
// the writer's goroutine, never on the request path.
func (r *Record) toStore() (store.Decision, error) {
	d := store.Decision{
		ID: r.ID, Time: r.Time, RequestID: r.RequestID, SourceIP: r.SourceIP, UserAgent: r.UserAgent,
		Action: r.Action, RoleARN: r.RoleARN, RoleName: roleName(r.RoleARN), Provider: r.Provider,
		Subject: r.Subject, Principal: r.Principal, Decision: r.Decision, ErrorCode: r.ErrorCode,
		Reason: r.Reason, ClosestMiss: r.ClosestMiss, Fix: r.Fix, Latency: r.Latency,
	}
	var err error
	switch {
	case len(r.ClaimsJSON) > 0:
		d.Claims = r.ClaimsJSON
	case r.Claims != nil:
		if d.Claims, err = json.Marshal(r.Claims); err != nil {
			return d, fmt.Errorf("decision: encode claims: %w", err)
		}
	}
	if r.Trace != nil {
		if d.Trace, err = json.Marshal(r.Trace); err != nil {
			return d, fmt.Errorf("decision: encode trace: %w", err)
		}
	}
	return d, nil
}

// FromStore decodes a stored decision.
func FromStore(d store.Decision) (Record, error) {
	r := Record{
		ID: d.ID, Time: d.Time, RequestID: d.RequestID, SourceIP: d.SourceIP, UserAgent: d.UserAgent,
		Action: d.Action, RoleARN: d.RoleARN, Provider: d.Provider, Subject: d.Subject, Principal: d.Principal,
		Decision: d.Decision, ErrorCode: d.ErrorCode, Reason: d.Reason, ClosestMiss: d.ClosestMiss, Fix: d.Fix,
		Latency: d.Latency,
	}
	if len(d.Claims) > 0 {
		dec := json.NewDecoder(bytes.NewReader(d.Claims))
		dec.UseNumber()
		if err := dec.Decode(&r.Claims); err != nil {
			return r, fmt.Errorf("decision %s: decode claims: %w", d.ID, err)
		}
	}
	if len(d.Trace) > 0 {
		r.Trace = new(policy.Trace)
		if err := json.Unmarshal(d.Trace, r.Trace); err != nil {
			return r, fmt.Errorf("decision %s: decode trace: %w", d.ID, err)
		}
	}
	return r, nil
}

// Cursor encodes the position after r, for the next page.
func Cursor(r Record) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(r.Time.UnixMicro(), 10) + "." + r.ID))
}

// ErrBadCursor is returned by ParseCursor for a cursor it did not write.
var ErrBadCursor = errors.New("invalid cursor")

// ParseCursor decodes a cursor written by Cursor.
func ParseCursor(s string) (*store.DecisionKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	at, id, ok := strings.Cut(string(b), ".")
	us, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, ErrBadCursor
	}
	return &store.DecisionKey{Time: time.UnixMicro(us).UTC(), ID: id}, nil
}

// SuggestFix proposes what to change for a denial, from its reason and
// trace; "" when there is nothing to propose (an allowed decision).
func SuggestFix(r *Record) string {
	if r.Decision != Deny {
		return ""
	}
	if tr := r.Trace; tr != nil {
		switch {
		case tr.Decision == policy.ExplicitDeny:
			return "an explicit Deny matches (" + tr.Deciding + "); remove or narrow it"
		case tr.ClosestMiss != "":
			return "the policy does not match this request: " + tr.ClosestMiss + "; widen the condition in " +
				tr.ClosestStatement + ", or make the request that statement names"
		case r.Provider != "":
			return fmt.Sprintf("no statement allows %s for this principal; add one with Principal {\"Federated\": %q}", tr.Request.Action, r.Provider)
		default:
			return fmt.Sprintf("no statement allows %s on %s for %s; add a statement that does", tr.Request.Action, tr.Request.Resource, tr.Request.Principal)
		}
	}
	return reasonFix[r.Reason]
}

// reasonFix is the fix of each denial that did not reach a policy.
var reasonFix = map[string]string{
	"token rejected":                "send the token exactly as the CI issued it: a signed JWT (three base64url parts) with iss, sub, aud and exp",
	"session attributes rejected":   "fix the token's https://aws.amazon.com/tags or source_identity claim: AWS's shape and limits apply to session tags",
	"issuer not registered":         "register the token's issuer as an OIDC provider (aws iam create-open-id-connect-provider, or keyless setup)",
	"audience rejected":             "add the token's audience to the provider's client id list (aws iam add-client-id-to-open-id-connect-provider), or mint the token for an audience it lists",
	"token time rejected":           "use a fresh token: CI tokens live an hour or less, and the server's clock must agree with the issuer's",
	"signature rejected":            "the token is not signed by a key of its issuer: mint it from the issuer the provider names",
	"verification keys unavailable": "the issuer's JWKS could not be fetched: check its discovery document and the provider's thumbprints",
	"no such role in this account":  "check the role ARN: no such role exists in this account",
	"root caller":                   "assume roles with role session credentials, not root",
	"runner credentials":            "runner credentials may only mint tokens; exchange a token instead",
	"bad signature":                 "sign with the secret of this access key, for this service and region, with a correct clock",
}

// ParseTime reads a time filter: RFC 3339, or a duration back from now
// ("90m", "36h", "7d"); "" is the zero time (no bound).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 1h or 7d", s)
	}
	return now.Add(-d), nil
}

// ParseDuration reads a non-negative Go duration ("90m", "36h") or a
// number of days ("30d").
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		n, nerr := strconv.Atoi(days)
		d, err = time.Duration(n)*24*time.Hour, nerr
	}
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 36h or 30d", s)
	}
	return d, nil
}
