package sts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	declog "github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/directory"
	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// Directory is the cached view of roles and providers.
type Directory interface {
	Role(ctx context.Context, name string) (*directory.Role, error)
	Provider(ctx context.Context, url string) (*store.Provider, error)
	SessionPolicies(ctx context.Context, doc string, arns []string) ([]*policy.Policy, error)
}

// KeySource returns the verification keys of an issuer: in process for
// issuers this server hosts, else over HTTPS. kid is the key the token asks
// for, so a source may refetch when it does not know it.
type KeySource = oidc.KeySource

// Minter seals session credentials.
type Minter interface {
	Mint(sess creds.Session) (creds.Credentials, error)
}

// Config configures the STS.
type Config struct {
	Directory Directory
	Keys      KeySource
	Creds     Minter
	Account   string
	Now       func() time.Time
	Log       *slog.Logger
	// ClockSkew tolerated on exp/nbf/iat; default oidc.DefaultClockSkew.
	ClockSkew time.Duration
	// OnAssumed, when set, is told of every session issued (RoleLastUsed).
	OnAssumed func(roleName string, at time.Time)
	// Decisions, when set, is handed every AssumeRole* decision, allowed
	// or denied, with its claims and trace (the decision log). It must
	// not block.
	Decisions func(declog.Record)
}

// Service serves the STS actions.
type Service struct {
	dir      Directory
	verifier *oidc.Verifier
	creds    Minter
	account  string
	now      func() time.Time
	log      *slog.Logger
	rand     io.Reader
	assumed  func(roleName string, at time.Time)
	// decisions receives every decision's record (nil: none kept).
	decisions func(declog.Record)
}

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Directory == nil:
		return nil, errors.New("sts: Directory is required")
	case cfg.Keys == nil:
		return nil, errors.New("sts: Keys is required")
	case cfg.Creds == nil:
		return nil, errors.New("sts: Creds is required")
	case !arn.IsAccountID(cfg.Account):
		return nil, fmt.Errorf("sts: invalid account id %q", cfg.Account)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	v, err := oidc.NewVerifier(oidc.VerifierConfig{Providers: providers{cfg.Directory}, Keys: cfg.Keys,
		Now: cfg.Now, ClockSkew: cfg.ClockSkew})
	if err != nil {
		return nil, fmt.Errorf("sts: %w", err)
	}
	return &Service{dir: cfg.Directory, verifier: v, creds: cfg.Creds, account: cfg.Account,
		now: cfg.Now, log: cfg.Log, rand: rand.Reader, assumed: cfg.OnAssumed,
		decisions: cfg.Decisions}, nil
}

// Actions returns the STS action table. GetAccessKeyInfo is authorized by
// the caller's policies like an IAM action; the other three are not:
// AssumeRoleWithWebIdentity is served unsigned (the token is the proof), AssumeRole is itself a trust decision (the caller's
// policies with the role's trust policy, here), and GetCallerIdentity
// answers any authenticated caller, as in AWS.
func (s *Service) Actions() map[string]awsquery.Action {
	return map[string]awsquery.Action{
		"AssumeRoleWithWebIdentity": {Access: awsquery.Unsigned, Handle: s.AssumeRoleWithWebIdentity},
		"AssumeRole":                {Access: awsquery.Trust, Handle: s.AssumeRole},
		"GetCallerIdentity":         {Access: awsquery.AnyCaller, Handle: s.GetCallerIdentity},
		"GetAccessKeyInfo":          {Access: awsquery.Policy, Policy: "sts:GetAccessKeyInfo", Prepare: s.prepareGetAccessKeyInfo},
	}
}

var (
	sessionNameRE    = regexp.MustCompile(`^[\w+=,.@-]*$`)
	sessionPolicyRE  = regexp.MustCompile("^[\u0009\u000A\u000D\u0020-\u00FF]+$")
	arnCharsRE       = regexp.MustCompile("^[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]+$")
	externalIDRE     = regexp.MustCompile(`^[\w+=,.@:\/-]*$`)
	sourceIdentityRE = regexp.MustCompile(`^[\w+=,.@-]*$`)
	tagKeyRE         = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`) })
	tagValueRE       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`) }) // compiled on first use: a millisecond at every start otherwise
)

const (
	sessionNamePattern   = `[\w+=,.@-]*`
	arnPattern           = `[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+`
	sessionPolicyPattern = `[\u0009\u000A\u000D\u0020-\u00FF]+`
	tagKeyPattern        = `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`
	tagValuePattern      = `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`
)

// common holds the parameters AssumeRole and AssumeRoleWithWebIdentity share.
type common struct {
	roleARN, sessionName string
	duration             int
	hasDuration          bool
	policy               string
	policyARNs           []string
}

func parseCommon(q *awsquery.Request, v *awsquery.Validator) common {
	c := common{roleARN: q.Get("RoleArn"), sessionName: q.Get("RoleSessionName"), policy: q.Get("Policy")}
	if v.Required("RoleArn", q.Has("RoleArn")) && v.Length("RoleArn", c.roleARN, 20, 2048) {
		v.Pattern("RoleArn", c.roleARN, arnCharsRE, arnPattern)
	}
	if v.Required("RoleSessionName", q.Has("RoleSessionName")) && v.Length("RoleSessionName", c.sessionName, 2, 64) {
		v.Pattern("RoleSessionName", c.sessionName, sessionNameRE, sessionNamePattern)
	}
	if n, ok, err := q.Int("DurationSeconds"); err != nil {
		v.Range("DurationSeconds", -1, 900, 43200)
	} else if ok {
		c.duration, c.hasDuration = n, true
		v.Range("DurationSeconds", n, 900, 43200)
	}
	if q.Has("Policy") && v.Length("Policy", c.policy, 1, 2048) {
		v.Pattern("Policy", c.policy, sessionPolicyRE, sessionPolicyPattern)
	}
	for _, m := range q.Structs("PolicyArns", "arn") {
		a := m["arn"]
		if v.Length("PolicyArns.member.arn", a, 20, 2048) {
			c.policyARNs = append(c.policyARNs, a)
		}
	}
	return c
}

// roleName checks that roleARN names a role of this account and returns its
// name and path. Anything else is a ValidationError "<arn> is invalid" (a
// malformed ARN) or false (a well-formed ARN of something we cannot assume).
func (s *Service) roleName(roleARN string) (name, path string, ok bool, err error) {
	a, perr := arn.Parse(roleARN)
	if perr != nil {
		return "", "", false, awserr.Newf(awserr.CodeValidation, http.StatusBadRequest, "%s is invalid", roleARN)
	}
	res, isRole := strings.CutPrefix(a.Resource, "role/")
	if a.Service != "iam" || !isRole || a.Account != s.account || res == "" {
		return "", "", false, nil
	}
	i := strings.LastIndex(res, "/")
	return res[i+1:], "/" + res[:i+1], true, nil
}

// lookupRole finds the role named by roleARN; ok is false when there is no
// such role here (the caller then answers AccessDenied, as AWS does not
// reveal whether a role exists).
func (s *Service) lookupRole(ctx context.Context, roleARN string) (*directory.Role, bool, error) {
	name, path, ok, err := s.roleName(roleARN)
	if err != nil || !ok {
		return nil, false, err
	}
	r, err := s.dir.Role(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, awsquery.FromStoreOutage(err)
	}
	if r.Path != path || r.Name != name {
		return nil, false, nil
	}
	return r, true, nil
}

func (s *Service) sessionDuration(c common, role *directory.Role, chained bool) (int, error) {
	d := 3600
	if c.hasDuration {
		d = c.duration
	}
	if chained && d > 3600 {
		return 0, awserr.New(awserr.CodeValidation, http.StatusBadRequest,
			"The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	max := role.MaxSessionDuration
	if max == 0 {
		max = 3600
	}
	if d > max {
		return 0, awserr.New(awserr.CodeValidation, http.StatusBadRequest,
			"The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	return d, nil
}

// sessionPolicies validates the session policy parameters.
func (s *Service) sessionPolicies(ctx context.Context, c common) error {
	if len(c.policyARNs) > 10 {
		return awserr.New(awserr.CodeValidation, http.StatusBadRequest,
			"1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	for _, a := range c.policyARNs {
		if _, err := arn.Parse(a); err != nil {
			return awserr.Newf(awserr.CodeValidation, http.StatusBadRequest, "%s is invalid", a)
		}
	}
	if _, err := s.dir.SessionPolicies(ctx, c.policy, c.policyARNs); err != nil {
		if e := awserr.As(err); e != nil {
			return e
		}
		if errors.Is(err, store.ErrNotFound) {
			return awserr.New(awserr.CodeMalformedPolicy, http.StatusBadRequest,
				"The policy ARN does not exist or is not attachable: "+strings.Join(c.policyARNs, ", ")).Wrap(err)
		}
		return awsquery.FromStoreOutage(err)
	}
	return nil
}

func accessDenied(action string) *awserr.Error {
	return awserr.New(awserr.CodeAccessDenied, http.StatusForbidden, "Not authorized to perform "+action)
}

// SessionResult holds the members AssumeRole and AssumeRoleWithWebIdentity
// results share; encoding/xml flattens it into the embedding result.
type SessionResult struct {
	Credentials             CredentialsXML     `xml:"Credentials"`
	AssumedRoleUser         AssumedRoleUserXML `xml:"AssumedRoleUser"`
	PackedPolicySize        *int               `xml:"PackedPolicySize,omitempty"`
	SessionTokenSize        *int               `xml:"SessionTokenSize,omitempty"`
	SessionTokenUtilization *int               `xml:"SessionTokenUtilization,omitempty"`
	SourceIdentity          string             `xml:"SourceIdentity,omitempty"`
}

// issue runs the checks that follow an allowed trust decision (duration
// against the role and chaining, session policies, packed size) and mints
// the session's credentials. sess carries the caller-specific fields; the
// role's and the request's are filled in here.
func (s *Service) issue(ctx context.Context, log *decision, in common, role *directory.Role, sess creds.Session, tags []SessionTag) (SessionResult, error) {
	dur, err := s.sessionDuration(in, role, sess.Chained)
	if err != nil {
		return SessionResult{}, err
	}
	if err := s.sessionPolicies(ctx, in); err != nil {
		return SessionResult{}, err
	}
	packed, hasPacked, err := packedSize(in.policy, in.policyARNs, tags)
	if err != nil {
		return SessionResult{}, err
	}
	sess.Account, sess.RoleName, sess.RolePath, sess.RoleID, sess.SessionName = s.account, role.Name, role.Path, role.ID, in.sessionName
	sess.Tags, sess.SessionPolicy, sess.PolicyARNs = credTags(tags), in.policy, in.policyARNs
	sess.Expiration = sess.Issued.Add(time.Duration(dur) * time.Second)
	cr, err := s.creds.Mint(sess)
	if err != nil {
		return SessionResult{}, err
	}
	log.allow(slog.String("access_key_id", cr.AccessKeyID), slog.Time("expiration", cr.Expiration))
	if s.assumed != nil {
		s.assumed(role.Name, sess.Issued)
	}
	res := SessionResult{
		Credentials: credentialsXML(cr),
		AssumedRoleUser: AssumedRoleUserXML{
			AssumedRoleID: role.ID + ":" + in.sessionName,
			Arn:           arn.AssumedRole(s.account, role.Name, in.sessionName),
		},
		SourceIdentity: sess.SourceIdentity,
	}
	if hasPacked {
		res.PackedPolicySize = &packed
	}
	res.SessionTokenSize, res.SessionTokenUtilization = tokenUsage(cr)
	return res, nil
}

// CredentialsXML is the Credentials element.
type CredentialsXML struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

// AssumedRoleUserXML is the AssumedRoleUser element.
type AssumedRoleUserXML struct {
	AssumedRoleID string `xml:"AssumedRoleId"`
	Arn           string `xml:"Arn"`
}

// tokenUsage returns SessionTokenSize and SessionTokenUtilization: the
// session token's length and its percentage of the largest token keyless
// mints (creds.MaxTokenLen).
func tokenUsage(c creds.Credentials) (size, pct *int) {
	n := len(c.SessionToken)
	p := (n*100 + creds.MaxTokenLen - 1) / creds.MaxTokenLen
	return &n, &p
}

func credentialsXML(c creds.Credentials) CredentialsXML {
	return CredentialsXML{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
		SessionToken: c.SessionToken, Expiration: awsquery.Timestamp(c.Expiration)}
}

// appendSession appends the members SessionResult holds, in its field
// order. It is not AppendXML: a result embedding SessionResult must not
// get an appender that leaves out its own members.
func (r *SessionResult) appendSession(b []byte) []byte {
	b = append(b, "<Credentials>"...)
	b = awsquery.AppendElement(b, "AccessKeyId", r.Credentials.AccessKeyID)
	b = awsquery.AppendElement(b, "SecretAccessKey", r.Credentials.SecretAccessKey)
	b = awsquery.AppendElement(b, "SessionToken", r.Credentials.SessionToken)
	b = awsquery.AppendElement(b, "Expiration", r.Credentials.Expiration)
	b = append(b, "</Credentials><AssumedRoleUser>"...)
	b = awsquery.AppendElement(b, "AssumedRoleId", r.AssumedRoleUser.AssumedRoleID)
	b = awsquery.AppendElement(b, "Arn", r.AssumedRoleUser.Arn)
	b = append(b, "</AssumedRoleUser>"...)
	b = awsquery.AppendIntElement(b, "PackedPolicySize", r.PackedPolicySize)
	b = awsquery.AppendIntElement(b, "SessionTokenSize", r.SessionTokenSize)
	b = awsquery.AppendIntElement(b, "SessionTokenUtilization", r.SessionTokenUtilization)
	if r.SourceIdentity != "" {
		b = awsquery.AppendElement(b, "SourceIdentity", r.SourceIdentity)
	}
	return b
}
