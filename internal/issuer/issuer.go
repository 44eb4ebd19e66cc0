// Package issuer hosts CI OIDC token issuers: per-organization issuers shaped
// like CircleCI's, GitHub's, GitLab's or a generic one. It owns their signing
// keys (generation, sealing at rest, the rotation schedule), minting signed
// job tokens, the public discovery document and JWKS, the in-process key
// lookup the STS uses for issuers hosted here, and the JSON admin API.
//
// It does not authenticate or authorize admin callers (the server wraps
// each of AdminRoutes, routed by AdminMux), does not verify tokens (package
// oidc does) and does not know the claim shapes (package ciclaims does).
// Issuers and keys live in the store; the decrypted signers are cached in
// memory per key.
package issuer

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/store"
)

// Store is the subset of store.Store the issuer uses.
type Store interface {
	CreateIssuer(ctx context.Context, is store.Issuer) error
	GetIssuer(ctx context.Context, id string) (store.Issuer, error)
	GetIssuerByURL(ctx context.Context, url string) (store.Issuer, error)
	ListIssuers(ctx context.Context) ([]store.Issuer, error)
	DeleteIssuer(ctx context.Context, id string) error

	AddSigningKey(ctx context.Context, k store.SigningKey) error
	ListSigningKeys(ctx context.Context, issuerID string) ([]store.SigningKey, error)
	UpdateSigningKey(ctx context.Context, issuerID, kid string, fn func(*store.SigningKey) error) error
	DeleteSigningKey(ctx context.Context, issuerID, kid string) error
}

// Config configures a Service.
type Config struct {
	Store Store
	// KeyEncryption seals private keys at rest; required. The AAD binds each
	// sealed key to its issuer id and kid.
	KeyEncryption cipher.AEAD
	Now           func() time.Time // default time.Now
	Rand          io.Reader        // default crypto/rand.Reader
	// RotationPeriod is how long a key signs before Tick rotates it
	// automatically. Default 30 days.
	RotationPeriod time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the discovery document and
	// JWKS. A new key is published at least this long (plus a margin) before
	// it signs. Default 5 minutes.
	JWKSMaxAge time.Duration
	// MaxTTL caps a token's lifetime; a retired key stays published this long
	// (plus a margin) after its last signature. Default 5 hours.
	MaxTTL time.Duration
	// Logger receives internal failures of the HTTP handlers; default discard.
	Logger *slog.Logger
	// MaxIssuers caps how many issuers the store may hold; Create beyond it
	// is LimitExceeded. Default DefaultMaxIssuers.
	MaxIssuers int
	// Providers, when set, lists the registered external OIDC providers:
	// Create refuses an issuer URL that one of them already claims.
	Providers ProviderLister
	// BeforeDelete, when set, runs before an issuer is deleted; an error
	// stops the deletion. The server revokes the issuer's runner
	// credentials there: an issuer is known by its id alone, so credentials
	// of a deleted issuer would otherwise mint for a new one of the same id.
	BeforeDelete func(ctx context.Context, id string) error
}

// Defaults.
const (
	DefaultRotationPeriod = 30 * 24 * time.Hour
	DefaultJWKSMaxAge     = 5 * time.Minute
	DefaultMaxTTL         = 5 * time.Hour
	DefaultTTL            = time.Hour
	DefaultMaxIssuers     = 1000
	// margin is added to every schedule step: it absorbs clock skew between
	// replicas and the leeway verifiers allow on exp.
	margin = time.Minute
)

// Service is the issuer service. It is safe for concurrent use.
type Service struct {
	store     Store
	aead      cipher.AEAD
	now       func() time.Time
	rand      io.Reader
	rotPeriod time.Duration
	maxAge    time.Duration
	maxTTL    time.Duration

	log          *slog.Logger
	providers    ProviderLister
	beforeDelete func(ctx context.Context, id string) error

	mu      sync.Mutex
	signers map[string]*signer // by issuer id + "/" + kid

	keySets keySetCache // KeySet answers by URL

	maxIssuers int
	index      pathIndex // issuers by the path of their URL
}

// New validates cfg, applies defaults and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("issuer: store is required")
	}
	if cfg.KeyEncryption == nil {
		return nil, errors.New("issuer: key encryption is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.RotationPeriod == 0 {
		cfg.RotationPeriod = DefaultRotationPeriod
	}
	if cfg.JWKSMaxAge == 0 {
		cfg.JWKSMaxAge = DefaultJWKSMaxAge
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxIssuers == 0 {
		cfg.MaxIssuers = DefaultMaxIssuers
	}
	if cfg.MaxIssuers < 0 {
		return nil, errors.New("issuer: MaxIssuers must not be negative")
	}
	if cfg.RotationPeriod < 0 || cfg.JWKSMaxAge < 0 || cfg.MaxTTL < 0 {
		return nil, errors.New("issuer: durations must not be negative")
	}
	if cfg.RotationPeriod <= cfg.JWKSMaxAge+margin {
		return nil, fmt.Errorf("issuer: rotation period %v must exceed the JWKS max-age %v plus %v", cfg.RotationPeriod, cfg.JWKSMaxAge, margin)
	}
	return &Service{
		store: cfg.Store, aead: cfg.KeyEncryption, now: cfg.Now, rand: cfg.Rand, providers: cfg.Providers, beforeDelete: cfg.BeforeDelete,
		rotPeriod: cfg.RotationPeriod, log: cfg.Logger, maxAge: cfg.JWKSMaxAge, maxTTL: cfg.MaxTTL,
		signers: map[string]*signer{}, maxIssuers: cfg.MaxIssuers,
	}, nil
}

// CreateRequest describes a new issuer.
type CreateRequest struct {
	Profile string `json:"profile"`
	// ID names the issuer; for circleci it is the org id. Generated (a UUID)
	// when both ID and OrgID are empty.
	ID    string `json:"id,omitempty"`
	OrgID string `json:"org_id,omitempty"`
	// URL is the issuer URL (iss); default from the profile.
	URL string `json:"url,omitempty"`
	// Alg is RS256 (default) or ES256.
	Alg string `json:"alg,omitempty"`
	// Audience is the default aud of minted tokens; default from the profile.
	Audience []string `json:"audience,omitempty"`
}

// issuerConfig is the JSON kept in store.Issuer.Config.
type issuerConfig struct {
	Audience []string `json:"audience,omitempty"`
}

func invalid(format string, args ...any) error {
	return awserr.Newf(awserr.CodeInvalidInput, http.StatusBadRequest, format, args...)
}

// Create creates an issuer and its first signing key, which signs at once.
// A duplicate id or URL returns an error wrapping store.ErrAlreadyExists.
func (s *Service) Create(ctx context.Context, req CreateRequest) (store.Issuer, error) {
	defer s.keySets.clear()
	profile, err := ciclaims.ParseProfile(or(req.Profile, string(ciclaims.CircleCI)))
	if err != nil {
		return store.Issuer{}, invalid("%v", err)
	}
	alg := strings.ToUpper(or(req.Alg, algRS256))
	if alg != algRS256 && alg != algES256 {
		return store.Issuer{}, invalid("unsupported signing algorithm %q (want RS256 or ES256)", req.Alg)
	}
	id := or(req.ID, req.OrgID)
	if profile == ciclaims.CircleCI && req.ID != "" && req.OrgID != "" && req.ID != req.OrgID {
		return store.Issuer{}, invalid("a circleci issuer's id is its org id")
	}
	if id == "" {
		if id, err = s.uuid(); err != nil {
			return store.Issuer{}, err
		}
	}
	if !validID(id) {
		return store.Issuer{}, invalid("issuer id %q: use letters, digits, '-', '_' and '.' (at most 128)", id)
	}
	u := req.URL
	if u == "" {
		if u, err = ciclaims.DefaultIssuerURL(profile, id); err != nil {
			return store.Issuer{}, invalid("%v", err)
		}
	}
	if u, err = normalizeURL(u); err != nil {
		return store.Issuer{}, invalid("%v", err)
	}
	if err := s.checkProviderCollision(ctx, u); err != nil {
		return store.Issuer{}, err
	}
	cfg := issuerConfig{Audience: req.Audience}
	if len(cfg.Audience) == 0 {
		cfg.Audience = ciclaims.DefaultAudience(profile, id, u)
	}
	for _, a := range cfg.Audience {
		if a == "" {
			return store.Issuer{}, invalid("empty audience")
		}
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return store.Issuer{}, fmt.Errorf("encode issuer config: %w", err)
	}
	now := s.now().UTC()
	is := store.Issuer{ID: id, Profile: string(profile), URL: u, Alg: alg, Config: raw, CreateDate: now}
	key, err := s.newKey(is, now)
	if err != nil {
		return store.Issuer{}, err
	}
	if err := s.checkQuota(ctx); err != nil {
		return store.Issuer{}, err
	}
	defer s.index.invalidate()
	if err := s.store.CreateIssuer(ctx, is); err != nil {
		return store.Issuer{}, fmt.Errorf("create issuer %q: %w", id, err)
	}
	if err := s.store.AddSigningKey(ctx, key); err != nil {
		_ = s.store.DeleteIssuer(ctx, id)
		return store.Issuer{}, fmt.Errorf("add first key of issuer %q: %w", id, err)
	}
	return is, nil
}

// Get returns an issuer by id (error wrapping store.ErrNotFound if none).
func (s *Service) Get(ctx context.Context, id string) (store.Issuer, error) {
	is, err := s.store.GetIssuer(ctx, id)
	if err != nil {
		return store.Issuer{}, fmt.Errorf("issuer %q: %w", id, err)
	}
	return is, nil
}

// List returns every hosted issuer.
func (s *Service) List(ctx context.Context) ([]store.Issuer, error) {
	l, err := s.store.ListIssuers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list issuers: %w", err)
	}
	return l, nil
}

// Delete removes an issuer and its keys. Tokens it minted stop verifying.
func (s *Service) Delete(ctx context.Context, id string) error {
	defer s.keySets.clear()
	defer s.index.invalidate()
	if s.beforeDelete != nil {
		if _, err := s.store.GetIssuer(ctx, id); err != nil {
			return fmt.Errorf("delete issuer %q: %w", id, err)
		}
		if err := s.beforeDelete(ctx, id); err != nil {
			return fmt.Errorf("delete issuer %q: %w", id, err)
		}
	}
	if err := s.store.DeleteIssuer(ctx, id); err != nil {
		return fmt.Errorf("delete issuer %q: %w", id, err)
	}
	s.mu.Lock()
	for k := range s.signers {
		if strings.HasPrefix(k, id+"/") {
			delete(s.signers, k)
		}
	}
	s.mu.Unlock()
	return nil
}

// Audience returns the default audience of an issuer's tokens.
func Audience(is store.Issuer) []string {
	var c issuerConfig
	if len(is.Config) > 0 && json.Unmarshal(is.Config, &c) == nil && len(c.Audience) > 0 {
		return c.Audience
	}
	return ciclaims.DefaultAudience(ciclaims.Profile(is.Profile), is.ID, is.URL)
}

// JWKSURL returns the jwks_uri of an issuer: <iss>/.well-known/jwks-pub.json
// for CircleCI, <iss>/.well-known/jwks.json otherwise.
func JWKSURL(is store.Issuer) string {
	return is.URL + "/.well-known/" + ciclaims.JWKSFileName(ciclaims.Profile(is.Profile))
}

func normalizeURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("issuer url %q: %w", raw, err)
	}
	if u.Scheme == "http" {
		return "", fmt.Errorf("issuer url %q: an issuer URL must be https:// (AWS fetches discovery and keys only over https), e.g. %q", raw, "https://"+raw[len("http://"):])
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?") || strings.HasSuffix(raw, "#") {
		return "", fmt.Errorf("issuer url %q: want https://host[:port][/path] without query or fragment", raw)
	}
	if strings.Contains(u.Path, "/.well-known") {
		return "", fmt.Errorf("issuer url %q must not contain /.well-known", raw)
	}
	// The scheme is case-insensitive (RFC 3986 §3.1) and url.Parse lower-cases
	// it: keep that form, so "HTTPS://host" is compared, authorized
	// (keyless:IssuerUrl) and stored as the "https://host" it means.
	if !strings.EqualFold(raw[:len(u.Scheme)], u.Scheme) {
		return "", fmt.Errorf("issuer url %q: want https://host[:port][/path] without query or fragment", raw)
	}
	return strings.TrimRight(u.Scheme+raw[len(u.Scheme):], "/"), nil
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return id != "." && id != ".."
}

// uuid returns a random version-4 UUID from the configured source.
func (s *Service) uuid() (string, error) {
	id, err := uuid.NewRandomFromReader(s.rand)
	if err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	return id.String(), nil
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
