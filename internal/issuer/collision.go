package issuer

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/store"
)

// A hosted issuer's keys are resolved in process before any network fetch,
// so an issuer whose URL is that of an already registered external provider
// would mint tokens for that provider's roles and make the real provider's
// tokens stop verifying. Create refuses such a URL, comparing as IAM
// compares provider URLs: without the scheme, the host case-insensitively,
// the default port 443 dropped, a trailing slash ignored.

// ProviderLister lists the registered external OIDC providers.
type ProviderLister interface {
	ListProviders(ctx context.Context) ([]store.Provider, error)
}

func (s *Service) checkProviderCollision(ctx context.Context, issuerURL string) error {
	if s.providers == nil || !strings.HasPrefix(issuerURL, "https://") {
		return nil // STS takes only https issuers: an http one claims no provider
	}
	want := canonicalProviderURL(issuerURL)
	provs, err := s.providers.ListProviders(ctx)
	if err != nil {
		return fmt.Errorf("list providers: %w", err)
	}
	for _, p := range provs {
		if canonicalProviderURL(p.URL) == want {
			return awserr.Newf(awserr.CodeEntityAlreadyExists, http.StatusConflict,
				"issuer url %s is already registered as an external OIDC provider (%s); delete that provider first", issuerURL, p.URL)
		}
	}
	return nil
}

// canonicalProviderURL is the form in which two provider URLs are the same
// provider: scheme dropped, host lower-cased, port 443 dropped, trailing
// slashes dropped. The path keeps its case.
func canonicalProviderURL(u string) string {
	rest := strings.TrimPrefix(u, "https://")
	host, path, _ := strings.Cut(rest, "/")
	host = strings.ToLower(strings.TrimSuffix(host, ":443"))
	path = strings.TrimRight(path, "/")
	if path == "" {
		return host
	}
	return host + "/" + path
}

// ClaimedURL returns the issuer URL a create request would claim, so the
// admin API can authorize keyless:CreateIssuer with the condition key
// keyless:IssuerUrl: with its scheme, the host lower-cased and a default
// port dropped (so a Deny on a host cannot be sidestepped by spelling it
// otherwise), no trailing slash. It is empty when the URL depends on an id
// Create would generate or is invalid (Create then refuses it).
func ClaimedURL(req CreateRequest) string {
	u := req.URL
	if u == "" {
		profile, err := ciclaims.ParseProfile(or(req.Profile, string(ciclaims.CircleCI)))
		if err != nil {
			return ""
		}
		if u, err = ciclaims.DefaultIssuerURL(profile, or(req.ID, req.OrgID)); err != nil {
			return ""
		}
	}
	n, err := normalizeURL(u)
	if err != nil {
		return ""
	}
	scheme, rest, _ := strings.Cut(n, "://")
	host, path, _ := strings.Cut(rest, "/")
	host = strings.ToLower(host)
	if scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	} else {
		host = strings.TrimSuffix(host, ":80")
	}
	if path == "" {
		return scheme + "://" + host
	}
	return scheme + "://" + host + "/" + path
}
