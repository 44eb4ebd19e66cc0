package iam

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/store"
)

// Provider quotas (IAM defaults).
const (
	maxProviders   = 100
	maxClientIDs   = 100
	maxThumbprints = 5
)

type createProviderResult struct {
	OpenIDConnectProviderArn string     `xml:"OpenIDConnectProviderArn"`
	Tags                     xmlTagList `xml:"Tags,omitempty"`
}

func (s *Service) createOpenIDConnectProvider(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	// Every model constraint is checked before any is reported: AWS answers
	// "3 validation errors detected: …" for a long Url, ClientID and
	// thumbprint together (members in the order of the request shape).
	var v awsquery.Validator
	raw, ok := required(&v, c, "Url")
	if ok {
		v.Length("Url", raw, 1, 255)
	}
	rawIDs, rawThumbs := c.List("ClientIDList"), c.List("ThumbprintList")
	checkClientIDs(&v, rawIDs)
	checkThumbprints(&v, rawThumbs)
	tags, err := parseTags(&v, c, false)
	if err != nil {
		return "", nil, err
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	u, err := parseProviderURL(raw)
	if err != nil {
		return "", nil, err
	}
	clientIDs, err := parseClientIDs(rawIDs)
	if err != nil {
		return "", nil, err
	}
	thumbs, err := parseThumbprints(rawThumbs)
	if err != nil {
		return "", nil, err
	}
	providerARN := arn.OIDCProvider(s.account, u)
	return providerARN, func(ctx context.Context) (any, error) {
		existing, err := s.store.ListProviders(ctx)
		if err != nil {
			return nil, storeErr(err, "")
		}
		for _, p := range existing {
			if p.URL == u {
				return nil, alreadyExists("Provider with url https://%s already exists.", u)
			}
		}
		if len(existing) >= maxProviders {
			return nil, limitExceeded("Cannot exceed quota for OpenIdConnectProvidersPerAccount: %d", maxProviders)
		}
		p := store.Provider{URL: u, ClientIDs: clientIDs, Thumbprints: thumbs, Tags: tags, CreateDate: s.now().UTC()}
		if err := s.store.CreateProvider(ctx, p); err != nil {
			if errors.Is(err, store.ErrAlreadyExists) {
				return nil, alreadyExists("Provider with url https://%s already exists.", u).Wrap(err)
			}
			return nil, storeErr(err, "")
		}
		return createProviderResult{OpenIDConnectProviderArn: providerARN, Tags: xmlTags(tags)}, nil
	}, nil
}

// parseProviderURL checks an https URL (host, optional port, optional
// path; no query, fragment or user info) and returns it without the
// scheme, exactly as given.
func parseProviderURL(raw string) (string, error) {
	bad := invalidInput("Invalid Open ID Connect Provider URL")
	if len(raw) < len("https://") || !strings.EqualFold(raw[:len("https://")], "https://") {
		return "", invalidInput("Invalid Open ID Connect Provider URL: the URL must begin with https://")
	}
	rest := raw[len("https://"):]
	if rest == "" || strings.ContainsAny(rest, "?#@ \t\r\n\\") {
		return "", bad
	}
	u, err := url.Parse("https://" + rest)
	if err != nil || u.Host == "" || u.Hostname() == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", bad.Wrap(err)
	}
	return rest, nil
}

// checkClientIDs records the model constraint on ClientIDList members.
func checkClientIDs(v *awsquery.Validator, ids []string) {
	for _, id := range ids {
		if len(id) < 1 || len(id) > 255 {
			v.ListMembers("ClientIDList", ids,
				"Member must have length less than or equal to 255", "Member must have length greater than or equal to 1")
			return
		}
	}
}

// checkThumbprints records the model constraint on ThumbprintList members.
func checkThumbprints(v *awsquery.Validator, thumbs []string) {
	for _, t := range thumbs {
		if len(t) != 40 {
			v.ListMembers("ThumbprintList", thumbs,
				"Member must have length less than or equal to 40", "Member must have length greater than or equal to 40")
			return
		}
	}
}

// parseClientIDs validates a ClientIDList and returns it without duplicates.
func parseClientIDs(ids []string) ([]string, error) {
	var v awsquery.Validator
	checkClientIDs(&v, ids)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := dedupe(ids)
	if len(out) > maxClientIDs {
		return nil, limitExceeded("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: %d", maxClientIDs)
	}
	return out, nil
}

// parseThumbprints validates a ThumbprintList and returns it without duplicates.
func parseThumbprints(thumbs []string) ([]string, error) {
	var v awsquery.Validator
	checkThumbprints(&v, thumbs)
	if err := v.Err(); err != nil {
		return nil, err
	}
	out := dedupe(thumbs)
	if len(out) > maxThumbprints {
		return nil, invalidInput("Thumbprint list must contain fewer than %d entries.", maxThumbprints)
	}
	for _, t := range out {
		for i := 0; i < len(t); i++ {
			if !isHex(t[i]) {
				return nil, invalidInput("Thumbprint %s is not a valid SHA-1 hex fingerprint.", t)
			}
		}
	}
	return out, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// dedupe drops repeated values, keeping first occurrences in order; it
// returns a non-nil slice.
func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// providerURL validates the OpenIDConnectProviderArn parameter and returns
// the ARN and the provider URL it names. A malformed ARN is InvalidInput;
// one of another account names no provider here.
func (s *Service) providerURL(v *awsquery.Validator, c *awsquery.Call) (providerARN, u string, err error) {
	providerARN = checkARN(v, c, "OpenIDConnectProviderArn")
	if err := v.Err(); err != nil {
		return "", "", err
	}
	a, perr := arn.Parse(providerARN)
	rest, ok := strings.CutPrefix(a.Resource, "oidc-provider/")
	if perr != nil || a.Service != "iam" || a.Region != "" || !ok || rest == "" || !arn.IsAccountID(a.Account) {
		return "", "", invalidInput("ARN %s is not valid.", providerARN)
	}
	if a.Account != s.account || a.Partition != "aws" {
		return providerARN, "", nil
	}
	return providerARN, rest, nil
}

func providerNotFound(providerARN string) string {
	return "OpenIDConnect Provider not found for arn " + providerARN
}

// providerTarget is the provider an action names by its
// OpenIDConnectProviderArn parameter, the resource authorized.
type providerTarget struct {
	arn string
	url string // the store key; "" when the ARN names no provider here
}

// providerTarget validates the ARN parameter.
func (s *Service) providerTarget(v *awsquery.Validator, c *awsquery.Call) (providerTarget, error) {
	providerARN, u, err := s.providerURL(v, c)
	if err != nil {
		return providerTarget{}, err
	}
	return providerTarget{arn: providerARN, url: u}, nil
}

// get returns the ARN and the stored provider URL, or NoSuchEntity: called
// once authorized.
func (t providerTarget) get() (providerARN, u string, err error) {
	if t.url == "" {
		return "", "", noSuchEntity("%s", providerNotFound(t.arn))
	}
	return t.arn, t.url, nil
}

type getProviderResult struct {
	URL            string     `xml:"Url"`
	ClientIDList   []string   `xml:"ClientIDList>member"`
	ThumbprintList []string   `xml:"ThumbprintList>member"`
	CreateDate     string     `xml:"CreateDate"`
	Tags           xmlTagList `xml:"Tags,omitempty"`
}

func (s *Service) getOpenIDConnectProvider(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	prov, err := s.providerTarget(&v, c)
	if err != nil {
		return "", nil, err
	}
	return prov.arn, func(ctx context.Context) (any, error) {
		providerARN, u, err := prov.get()
		if err != nil {
			return nil, err
		}
		p, err := s.store.GetProvider(ctx, u)
		if err != nil {
			return nil, storeErr(err, providerNotFound(providerARN))
		}
		return getProviderResult{
			URL:            p.URL,
			ClientIDList:   p.ClientIDs,
			ThumbprintList: p.Thumbprints,
			CreateDate:     awsquery.Timestamp(p.CreateDate),
			Tags:           xmlTags(p.Tags),
		}, nil
	}, nil
}

type providerListEntry struct {
	Arn string `xml:"Arn"`
}

type listProvidersResult struct {
	OpenIDConnectProviderList []providerListEntry `xml:"OpenIDConnectProviderList>member"`
}

func (s *Service) listOpenIDConnectProviders(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	return "*", func(ctx context.Context) (any, error) {
		ps, err := s.store.ListProviders(ctx)
		if err != nil {
			return nil, storeErr(err, "")
		}
		res := listProvidersResult{OpenIDConnectProviderList: make([]providerListEntry, 0, len(ps))}
		for _, p := range ps {
			res.OpenIDConnectProviderList = append(res.OpenIDConnectProviderList, providerListEntry{Arn: arn.OIDCProvider(s.account, p.URL)})
		}
		return res, nil
	}, nil
}

// deleteOpenIDConnectProvider is idempotent, as botocore documents it: "it
// does not fail or return an error if you call the operation for a provider
// that does not exist" (a malformed ARN is still InvalidInput).
func (s *Service) deleteOpenIDConnectProvider(ctx context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	providerARN, u, err := s.providerURL(&v, c)
	if err != nil {
		return "", nil, err
	}
	return providerARN, func(ctx context.Context) (any, error) {
		if u == "" {
			return nil, nil // another account's or partition's provider: none here
		}
		if err := s.store.DeleteProvider(ctx, u); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil
			}
			return nil, storeErr(err, providerNotFound(providerARN))
		}
		return nil, nil
	}, nil
}
