package oidc

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// FetcherConfig configures a Fetcher. Zero values take the defaults noted.
type FetcherConfig struct {
	// RootCAs verifies providers' TLS chains; nil means the system roots.
	RootCAs *x509.CertPool
	// Timeout bounds one whole fetch (discovery plus JWKS). Default 5s.
	Timeout time.Duration
	// MaxBytes caps each document; a larger one is an error. Default 1 MiB.
	MaxBytes int64
	// MinTTL and MaxTTL clamp the Cache-Control max-age of a key set.
	// Defaults 1m and 24h.
	MinTTL, MaxTTL time.Duration
	// DefaultTTL applies when the JWKS response has no max-age. Default
	// 10m (then clamped).
	DefaultTTL time.Duration
	// RefetchInterval is the least time between two fetches of one issuer
	// (refetch on unknown kid, retry after a failure). Default 10s.
	RefetchInterval time.Duration
	// MaxStale is how long after expiry a set is still served when its
	// refresh fails (stale-if-error). Default 24h.
	MaxStale time.Duration
	// MaxRedirects bounds same-host redirects per document. Default 3.
	MaxRedirects int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// OnFetch, when set, is called after every network fetch attempt.
	OnFetch func(issuer string, err error)
	// DialContext, when set, replaces the dialer (tests). It is given
	// resolved addresses (ip:port) that passed the address policy.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// AllowPrivateJWKS lets jwks_uri point at loopback, link-local, private
	// and other non-public addresses even when the provider itself is not
	// on an address of that kind (operators with internal JWKS hosts).
	AllowPrivateJWKS bool
}

func (c *FetcherConfig) setDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	if c.MinTTL <= 0 {
		c.MinTTL = time.Minute
	}
	if c.MaxTTL <= 0 {
		c.MaxTTL = 24 * time.Hour
	}
	if c.MaxTTL < c.MinTTL {
		c.MaxTTL = c.MinTTL
	}
	if c.DefaultTTL <= 0 {
		c.DefaultTTL = 10 * time.Minute
	}
	if c.RefetchInterval <= 0 {
		c.RefetchInterval = 10 * time.Second
	}
	if c.MaxStale <= 0 {
		c.MaxStale = 24 * time.Hour
	}
	if c.MaxRedirects <= 0 {
		c.MaxRedirects = 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// fetchKeySet performs one network fetch of issuer's key set: discovery
// document, then jwks_uri. It returns the set and its time to live.
func (f *Fetcher) fetchKeySet(ctx context.Context, issuer string, thumbprints []string) (*jose.JSONWebKeySet, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	discoveryURL := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	// The registered provider is fetched wherever it is; what kind of
	// address it is on decides where its jwks_uri may point.
	var provider addrClass
	body, _, err := f.get(ctx, discoveryURL, thumbprints, f.guardedDial(nil, &provider))
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: %w", err)
	}
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &disc); err != nil {
		return nil, 0, fmt.Errorf("discovery: %w", err)
	}
	if disc.JWKSURI == "" {
		return nil, 0, errors.New("discovery: no jwks_uri")
	}
	allowed := func(c addrClass) bool { return c == classPublic || c == provider || f.cfg.AllowPrivateJWKS }
	body, header, err := f.get(ctx, disc.JWKSURI, thumbprints, f.guardedDial(allowed, nil))
	if err != nil {
		return nil, 0, fmt.Errorf("jwks: %w", err)
	}
	set, err := ParseKeySet(body)
	if err != nil {
		return nil, 0, fmt.Errorf("jwks: %w", err)
	}
	return set, f.ttl(header), nil
}

// get fetches one document over HTTPS with the provider's trust settings.
func (f *Fetcher) get(ctx context.Context, rawURL string, thumbprints []string, dial dialFunc) ([]byte, http.Header, error) {
	u, err := httpsURL(rawURL)
	if err != nil {
		return nil, nil, err
	}
	tr := &http.Transport{
		TLSClientConfig:       tlsConfig(u.Hostname(), f.cfg.RootCAs, thumbprints),
		DisableKeepAlives:     true,
		Proxy:                 nil,
		ForceAttemptHTTP2:     false,
		TLSHandshakeTimeout:   f.cfg.Timeout,
		ResponseHeaderTimeout: f.cfg.Timeout,
	}
	tr.DialContext = dial
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		Timeout:   f.cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > f.cfg.MaxRedirects {
				return fmt.Errorf("more than %d redirects", f.cfg.MaxRedirects)
			}
			if req.URL.Scheme != "https" || req.URL.Host != u.Host {
				return fmt.Errorf("redirect to another host (%s) refused", req.URL.Redacted())
			}
			return nil
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: status %d", u.Redacted(), resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if int64(len(body)) > f.cfg.MaxBytes {
		return nil, nil, fmt.Errorf("GET %s: document larger than %d bytes", u.Redacted(), f.cfg.MaxBytes)
	}
	return body, resp.Header, nil
}

// httpsURL parses an absolute https URL with a host and no user info.
func httpsURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("bad URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("URL %q is not an https URL with a host", u.Redacted())
	}
	return u, nil
}

// ttl derives the cache lifetime from Cache-Control, clamped.
func (f *Fetcher) ttl(h http.Header) time.Duration {
	d := f.cfg.DefaultTTL
	noStore := false
	for _, directive := range strings.Split(h.Get("Cache-Control"), ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(directive), "=")
		switch strings.ToLower(name) {
		case "no-store", "no-cache":
			noStore = true
		case "max-age":
			if secs, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && secs >= 0 {
				d = time.Duration(min(secs, int64(f.cfg.MaxTTL/time.Second)+1)) * time.Second
			}
		}
	}
	if noStore {
		d = 0
	}
	return min(max(d, f.cfg.MinTTL), f.cfg.MaxTTL)
}
