package sts

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/policy"
)

// Claim names AWS reads from a web identity token beyond the standard ones.
const (
	claimTags           = "https://aws.amazon.com/tags"
	claimSourceIdentity = "https://aws.amazon.com/source_identity"
)

// WebIdentityInput is everything the trust-policy evaluation of an
// AssumeRoleWithWebIdentity call depends on. `keyless explain` builds the
// same input, so it evaluates exactly as the server does.
type WebIdentityInput struct {
	Token       *oidc.Token
	ProviderURL string // without scheme, as registered
	ProviderARN string
	Audience    string // the client id the token matched
	RoleARN     string
	SessionName string
	SourceIP    string
	Secure      bool
	Now         time.Time
	Tags        []SessionTag
	Transitive  []string
	SourceID    string
}

// SessionTag is a tag taken from the token's https://aws.amazon.com/tags claim.
type SessionTag struct{ Key, Value string }

// Requests returns the policy requests AWS evaluates against the trust
// policy: sts:AssumeRoleWithWebIdentity, plus sts:TagSession when the token
// carries session tags and sts:SetSourceIdentity when it carries a source
// identity. All must be allowed.
func (in WebIdentityInput) Requests() []*policy.Request {
	ctx := WebIdentityContext(in)
	actions := []string{"sts:AssumeRoleWithWebIdentity"}
	if len(in.Tags) > 0 {
		actions = append(actions, "sts:TagSession")
	}
	if in.SourceID != "" {
		actions = append(actions, "sts:SetSourceIdentity")
	}
	out := make([]*policy.Request, 0, len(actions))
	for _, a := range actions {
		out = append(out, &policy.Request{
			Principal: policy.Principal{Type: policy.PrincipalFederated, ID: in.ProviderARN},
			Action:    a,
			Resource:  in.RoleARN,
			Context:   ctx,
		})
	}
	return out
}

// WebIdentityContext builds the condition context of a web identity call:
// <provider>:aud/sub/azp/amr, the provider-specific claim keys AWS exposes
// (CircleCI project-id, GitHub, GitLab, Buildkite lists), sts:RoleSessionName,
// session tags and source identity, and the global time and source IP keys.
func WebIdentityContext(in WebIdentityInput) *policy.Context {
	c := policy.NewContext()
	k := keysOf(in.ProviderURL)
	t := in.Token
	c.Set(k.aud, in.Audience)
	if t.Subject != "" {
		c.Set(k.sub, t.Subject)
	}
	if t.AZP != "" {
		c.Set(k.azp, t.AZP)
		if len(t.Audience) > 0 {
			c.Set(k.oaud, t.Audience...)
		}
	}
	for _, ck := range k.claims {
		if v, ok := t.Claim(ck.claim); ok {
			if vals := claimStrings(v); len(vals) > 0 {
				c.Set(ck.key, vals...)
			}
		}
	}
	now := in.Now.UTC().Format(time.RFC3339)
	c.Set("sts:RoleSessionName", in.SessionName)
	c.Set("aws:FederatedProvider", in.ProviderARN)
	c.Set("aws:TokenIssueTime", now)
	setGlobalAt(c, in.Now, now, in.SourceIP, in.Secure)
	setRequestTags(c, in.Tags, in.Transitive)
	if in.SourceID != "" {
		c.Set("sts:SourceIdentity", in.SourceID)
	}
	return c
}

// providerKeys are the condition keys of one provider's tokens:
// <provider>:aud, :sub, :azp, :oaud, and the claims read into keys of
// their own (amr, then the provider's CI claims).
type providerKeys struct {
	aud, sub, azp, oaud string
	claims              []claimKey
}

type claimKey struct{ claim, key string }

// keysOf returns the condition keys of a provider, built once per provider
// rather than concatenated on every exchange. The cache holds a few strings
// per registered provider and starts over past maxKeyCache providers.
func keysOf(providerURL string) *providerKeys {
	if k, ok := keyCache.Load(providerURL); ok {
		return k.(*providerKeys)
	}
	p := providerURL + ":"
	k := &providerKeys{aud: p + "aud", sub: p + "sub", azp: p + "azp", oaud: p + "oaud",
		claims: []claimKey{{"amr", p + "amr"}}}
	for _, c := range ciclaims.ProviderClaimKeys(providerURL) {
		k.claims = append(k.claims, claimKey{c, p + c})
	}
	if keyCacheLen.Add(1) > maxKeyCache {
		keyCache.Clear()
		keyCacheLen.Store(1)
	}
	keyCache.Store(providerURL, k)
	return k
}

const maxKeyCache = 4096

var (
	keyCache    sync.Map // provider URL -> *providerKeys
	keyCacheLen atomic.Int64
)

func setGlobal(c *policy.Context, now time.Time, sourceIP string, secure bool) {
	setGlobalAt(c, now, now.UTC().Format(time.RFC3339), sourceIP, secure)
}

// setGlobalAt is setGlobal with now already formatted.
func setGlobalAt(c *policy.Context, now time.Time, formatted, sourceIP string, secure bool) {
	c.Set("aws:CurrentTime", formatted)
	c.Set("aws:EpochTime", strconv.FormatInt(now.Unix(), 10))
	c.Set("aws:SecureTransport", strconv.FormatBool(secure))
	if sourceIP != "" {
		c.Set("aws:SourceIp", sourceIP)
	}
}

// setRequestTags sets aws:RequestTag/<key>, aws:TagKeys and
// sts:TransitiveTagKeys for the session tags of a request.
func setRequestTags(c *policy.Context, tags []SessionTag, transitive []string) {
	if len(tags) == 0 {
		return
	}
	keys := make([]string, 0, len(tags))
	for _, t := range tags {
		c.Set("aws:RequestTag/"+t.Key, t.Value)
		keys = append(keys, t.Key)
	}
	c.Set("aws:TagKeys", keys...)
	if len(transitive) > 0 {
		c.Set("sts:TransitiveTagKeys", transitive...)
	}
}

// claimStrings renders a claim value as condition-key values: strings as
// they are, booleans as "true"/"false", numbers in decimal, arrays element
// by element. Objects have no string form and yield nothing.
func claimStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case bool:
		return []string{strconv.FormatBool(x)}
	case json.Number:
		return []string{x.String()}
	case float64:
		return []string{strconv.FormatFloat(x, 'f', -1, 64)}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, claimStrings(e)...)
		}
		return out
	}
	return nil
}

// TokenSessionAttributes reads session tags and the source identity from
// the token, enforcing AWS's limits: at most 50 tags, keys 1..128 and values
// 0..256 characters, single-valued, keys unique case-insensitively, and a
// source identity of 2..64 characters of [\w+=,.@-] not starting with aws:.
func TokenSessionAttributes(t *oidc.Token) (tags []SessionTag, transitive []string, sourceID string, err error) {
	if raw, ok := t.Claim(claimTags); ok {
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil, nil, "", fmt.Errorf("claim %s is not an object", claimTags)
		}
		pt, _ := obj["principal_tags"].(map[string]any)
		seen := map[string]bool{}
		for k, v := range pt {
			vals := claimStrings(v)
			if len(vals) != 1 {
				return nil, nil, "", fmt.Errorf("session tag %q must have exactly one value", k)
			}
			if len(k) < 1 || len(k) > 128 || len(vals[0]) > 256 {
				return nil, nil, "", fmt.Errorf("session tag %q exceeds the key or value length limit", k)
			}
			if !tagKeyRE().MatchString(k) || !tagValueRE().MatchString(vals[0]) {
				return nil, nil, "", fmt.Errorf("session tag %q has characters outside %s", k, tagKeyPattern)
			}
			if seen[strings.ToLower(k)] {
				return nil, nil, "", fmt.Errorf("duplicate session tag key %q", k)
			}
			seen[strings.ToLower(k)] = true
			tags = append(tags, SessionTag{Key: k, Value: vals[0]})
		}
		if len(tags) > 50 {
			return nil, nil, "", fmt.Errorf("%d session tags exceed the limit of 50", len(tags))
		}
		for _, k := range claimStrings(obj["transitive_tag_keys"]) {
			if !seen[strings.ToLower(k)] {
				return nil, nil, "", fmt.Errorf("transitive tag key %q is not among the session tags", k)
			}
			transitive = append(transitive, k)
		}
		sortTags(tags)
	}
	if raw, ok := t.Claim(claimSourceIdentity); ok {
		s, ok := raw.(string)
		if !ok || len(s) < 2 || len(s) > 64 || !sourceIdentityRE.MatchString(s) || strings.HasPrefix(strings.ToLower(s), "aws:") {
			return nil, nil, "", fmt.Errorf("invalid source identity claim")
		}
		sourceID = s
	}
	return tags, transitive, sourceID, nil
}

func sortTags(tags []SessionTag) {
	for i := 1; i < len(tags); i++ {
		for j := i; j > 0 && tags[j].Key < tags[j-1].Key; j-- {
			tags[j], tags[j-1] = tags[j-1], tags[j]
		}
	}
}
