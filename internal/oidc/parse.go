package oidc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// supportedAlg reports whether alg is one AWS STS accepts for web-identity
// tokens: RS256/384/512 or ES256/384/512. Everything else ("none", HS*,
// PS*, EdDSA, …) is refused.
func supportedAlg(alg string) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "ES256", "ES384", "ES512":
		return true
	}
	return false
}

var b64 = base64.RawURLEncoding.Strict()

// Parse decodes a compact JWS web-identity token without verifying it.
// It is strict: exactly three base64url parts with no padding, stray
// characters or non-zero trailing bits; an allowed alg; no crit header;
// no duplicate JSON member names at any depth; valid UTF-8; iss a
// non-empty string; exp present and, like nbf and iat, a JSON integer.
// Keys or key URLs in the header (jwk, jku, x5u, x5c) are ignored.
// Errors are InvalidIdentityToken with the internal reason wrapped.
func Parse(raw string) (*Token, error) {
	t, payload, err := parseJWS(raw)
	if err != nil {
		return nil, invalid(err)
	}
	if err := t.decodeClaims(payload); err != nil {
		return nil, invalid(err)
	}
	return t, nil
}

// parseJWS splits and decodes the compact serialization and checks the
// protected header. It returns the token (without claims) and the decoded
// payload.
func parseJWS(raw string) (*Token, []byte, error) {
	if len(raw) > MaxTokenLen {
		return nil, nil, fmt.Errorf("token is %d bytes, more than %d", len(raw), MaxTokenLen)
	}
	for i := 0; i < len(raw); i++ {
		if !isB64URLOrDot(raw[i]) {
			return nil, nil, fmt.Errorf("invalid character at offset %d", i)
		}
	}
	h, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return nil, nil, errors.New("not a compact JWS: want 3 parts")
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return nil, nil, errors.New("not a compact JWS: want 3 parts")
	}
	if h == "" || s == "" {
		return nil, nil, errors.New("empty header or signature")
	}
	header, err := b64.DecodeString(h)
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	payload, err := b64.DecodeString(p)
	if err != nil {
		return nil, nil, fmt.Errorf("payload: %w", err)
	}
	sig, err := b64.DecodeString(s)
	if err != nil {
		return nil, nil, fmt.Errorf("signature: %w", err)
	}
	t := &Token{Raw: raw, signingInput: raw[:len(h)+1+len(p)], sig: sig}
	if err := t.decodeHeader(header); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	return t, payload, nil
}

func isB64URLOrDot(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

func (t *Token) decodeHeader(header []byte) error {
	if !utf8.Valid(header) {
		return errors.New("not UTF-8")
	}
	if err := checkJSON(header); err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(header, &m); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if err := stringMember(m, "alg", &t.Alg); err != nil {
		return err
	}
	if !supportedAlg(t.Alg) {
		return fmt.Errorf("alg %q is not allowed", t.Alg)
	}
	if err := stringMember(m, "kid", &t.KID); err != nil {
		return err
	}
	if _, ok := m["crit"]; ok {
		// No JWS extension is understood here, so any crit is unknown
		// (and an empty crit list is itself invalid, RFC 7515 §4.1.11).
		return errors.New("crit header names extensions this verifier does not support")
	}
	// jwk, jku, x5u, x5c, x5t are deliberately ignored: keys come only
	// from the provider's registered key set.
	return nil
}

// stringMember sets *dst from m[name] when present; the value must be a
// JSON string.
func stringMember(m map[string]json.RawMessage, name string, dst *string) error {
	v, ok := m[name]
	if !ok {
		return nil
	}
	if len(v) == 0 || v[0] != '"' {
		return fmt.Errorf("%s is not a string", name)
	}
	return json.Unmarshal(v, dst)
}

func (t *Token) decodeClaims(payload []byte) error {
	if !utf8.Valid(payload) {
		return errors.New("payload: not UTF-8")
	}
	if err := checkJSON(payload); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	if err := d.Decode(&t.Claims); err != nil {
		return fmt.Errorf("payload: not a JSON object: %w", err)
	}
	if t.Claims == nil {
		return errors.New("payload: not a JSON object")
	}
	t.ClaimsJSON = payload
	var err error
	if t.Issuer, err = claimString(t.Claims, "iss"); err != nil {
		return err
	}
	if t.Issuer == "" {
		return errors.New("missing iss claim")
	}
	if t.Subject, err = claimString(t.Claims, "sub"); err != nil {
		return err
	}
	if t.AZP, err = claimString(t.Claims, "azp"); err != nil {
		return err
	}
	if t.Audience, err = claimAudience(t.Claims); err != nil {
		return err
	}
	var has bool
	if t.Expiry, has, err = claimInt(t.Claims, "exp"); err != nil {
		return err
	}
	if !has {
		return errors.New("missing exp claim")
	}
	if t.NotBefore, t.HasNotBefore, err = claimInt(t.Claims, "nbf"); err != nil {
		return err
	}
	if t.IssuedAt, t.HasIssuedAt, err = claimInt(t.Claims, "iat"); err != nil {
		return err
	}
	return nil
}

func claimString(c map[string]any, name string) (string, error) {
	v, ok := c[name]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s claim is not a string", name)
	}
	return s, nil
}

func claimAudience(c map[string]any) ([]string, error) {
	switch v := c["aud"].(type) {
	case nil:
		if _, present := c["aud"]; present {
			return nil, errors.New("aud claim is null")
		}
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("aud claim has a non-string element")
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, errors.New("aud claim is neither a string nor an array")
	}
}

// claimInt reads a NumericDate that must be written as a JSON integer
// ("1.0", "1e9" and strings are refused, as AWS requires).
func claimInt(c map[string]any, name string) (int64, bool, error) {
	v, ok := c[name]
	if !ok {
		return 0, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, false, fmt.Errorf("%s claim is not a number", name)
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s claim is not an integer: %w", name, err)
	}
	return i, true, nil
}
