package issuer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/store"
)

// MintRequest asks for one job token. The claim inputs are those of
// ciclaims.Params (for a CircleCI issuer the org id is always the issuer's).
// On the wire (the admin API) it is a JSON object with the Params fields
// plus "ttl": a Go duration string ("90m") or a number of seconds.
type MintRequest struct {
	ciclaims.Params
	// TTL is the token lifetime: default 1h, capped at Config.MaxTTL.
	TTL time.Duration `json:"-"`
}

type mintWire struct {
	ciclaims.Params
	TTL json.RawMessage `json:"ttl,omitempty"`
}

// MarshalJSON encodes r in the admin API's wire form.
func (r MintRequest) MarshalJSON() ([]byte, error) {
	w := mintWire{Params: r.Params}
	if r.TTL != 0 {
		w.TTL = json.RawMessage(strconv.Quote(r.TTL.String()))
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes the wire form strictly: unknown fields are errors.
func (r *MintRequest) UnmarshalJSON(b []byte) error {
	var w mintWire
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return err
	}
	var ttl time.Duration
	if len(w.TTL) > 0 && string(w.TTL) != "null" {
		var s string
		var n json.Number
		switch {
		case json.Unmarshal(w.TTL, &s) == nil:
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("ttl: %w", err)
			}
			ttl = d
		case json.Unmarshal(w.TTL, &n) == nil:
			sec, err := n.Int64()
			if err != nil || sec > int64(1<<62/time.Second) || sec < 0 {
				return fmt.Errorf("ttl: want whole seconds, got %s", n)
			}
			ttl = time.Duration(sec) * time.Second
		default:
			return fmt.Errorf("ttl: want a duration string or seconds, got %s", w.TTL)
		}
	}
	*r = MintRequest{Params: w.Params, TTL: ttl}
	return nil
}

// Mint signs a job token for issuer issuerID and returns it in compact form.
// Header {"alg","kid","typ":"JWT"}; claims from ciclaims plus iat (now), exp
// (iat + TTL), jti (random) and, except for CircleCI which has none, nbf.
func (s *Service) Mint(ctx context.Context, issuerID string, req MintRequest) (string, error) {
	is, err := s.Get(ctx, issuerID)
	if err != nil {
		return "", err
	}
	ttl := req.TTL
	switch {
	case ttl < 0:
		return "", invalid("ttl must be positive, got %v", ttl)
	case ttl == 0:
		ttl = DefaultTTL
	case ttl > s.maxTTL:
		ttl = s.maxTTL
	}
	if ttl < time.Second {
		return "", invalid("ttl must be at least 1s, got %v", ttl)
	}
	p := req.Params
	p.Issuer = is.URL
	p.Rand = s.rand
	profile := ciclaims.Profile(is.Profile)
	if profile == ciclaims.CircleCI {
		p.OrgID = is.ID
	}
	if len(p.Audience) == 0 {
		p.Audience = Audience(is)
	}
	claims, err := ciclaims.Build(profile, p)
	if err != nil {
		return "", invalid("%v", err)
	}
	jti, err := s.uuid()
	if err != nil {
		return "", err
	}
	now := s.now()
	iat := now.Unix()
	claims["iat"] = iat
	claims["exp"] = iat + int64(ttl/time.Second)
	claims["jti"] = jti
	if profile != ciclaims.CircleCI {
		claims["nbf"] = iat
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	return s.sign(ctx, is, payload, now)
}

// sign signs payload with the key that signs at now.
func (s *Service) sign(ctx context.Context, is store.Issuer, payload []byte, now time.Time) (string, error) {
	keys, err := s.store.ListSigningKeys(ctx, is.ID)
	if err != nil {
		return "", fmt.Errorf("list keys of issuer %q: %w", is.ID, err)
	}
	k, ok := signingKey(keys, now)
	if !ok {
		return "", awserr.Newf(awserr.CodeServiceUnavailable, 503, "issuer %q has no signing key yet", is.ID)
	}
	sg, err := s.signerFor(k)
	if err != nil {
		return "", err
	}
	jws, err := sg.js.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("sign token with %s: %w", k.KID, err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("serialize token: %w", err)
	}
	return tok, nil
}
