package oidc

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	// One buffer takes the three decoded parts, and one string the header
	// and payload: the claims read as strings are substrings of it.
	hn, pn := b64.DecodedLen(len(h)), b64.DecodedLen(len(p))
	buf := make([]byte, hn+pn+b64.DecodedLen(len(s)))
	hn, err := b64.Decode(buf, []byte(h))
	if err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	pn, err = b64.Decode(buf[hn:], []byte(p))
	if err != nil {
		return nil, nil, fmt.Errorf("payload: %w", err)
	}
	sn, err := b64.Decode(buf[hn+pn:], []byte(s))
	if err != nil {
		return nil, nil, fmt.Errorf("signature: %w", err)
	}
	text := string(buf[:hn+pn])
	t := &Token{Raw: raw, signingInput: raw[:len(h)+1+len(p)], sig: buf[hn+pn : hn+pn+sn : hn+pn+sn]}
	if err := t.decodeHeader(buf[:hn], text[:hn]); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	t.text = text[hn:] // decodeClaims indexes the payload it is the text of
	return t, buf[hn : hn+pn : hn+pn], nil
}

func isB64URLOrDot(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// decodeHeader reads the protected header; text is header as a string.
func (t *Token) decodeHeader(header []byte, text string) error {
	members, err := indexObject(header)
	if err != nil {
		return err
	}
	if t.Alg, err = stringMember(members, text, "alg"); err != nil {
		return err
	}
	if !supportedAlg(t.Alg) {
		return fmt.Errorf("alg %q is not allowed", t.Alg)
	}
	if t.KID, err = stringMember(members, text, "kid"); err != nil {
		return err
	}
	if _, ok := find(members, "crit"); ok {
		// No JWS extension is understood here, so any crit is unknown
		// (and an empty crit list is itself invalid, RFC 7515 §4.1.11).
		return errors.New("crit header names extensions this verifier does not support")
	}
	// jwk, jku, x5u, x5c, x5t are deliberately ignored: keys come only
	// from the provider's registered key set.
	return nil
}

// indexObject checks that data is one JSON object in UTF-8 without a
// duplicate member name at any depth (as checkJSON does), and returns its
// members.
func indexObject(data []byte) ([]member, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not UTF-8")
	}
	sc := scanners.Get().(*jsonScanner)
	*sc = jsonScanner{data: data, keys: sc.keys[:0], collecting: true, top: sc.top[:0]}
	err := sc.document()
	members := slices.Clone(sc.top) // exactly as many as there are
	// The pool keeps no piece of a token.
	clear(sc.keys[:cap(sc.keys)])
	clear(sc.top[:cap(sc.top)])
	*sc = jsonScanner{keys: sc.keys[:0], top: sc.top[:0]}
	if cap(sc.keys) <= 4*linearKeys && cap(sc.top) <= 256 { // not a rare giant's buffers
		scanners.Put(sc)
	}
	if err != nil {
		return nil, err
	}
	if first := bytes.TrimLeft(data, " \t\n\r"); len(first) == 0 || first[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	return members, nil
}

// scanners keeps jsonScanners with their stack of member names and their
// list of members, which every token's header and payload would otherwise
// allocate and grow.
var scanners = sync.Pool{New: func() any {
	return &jsonScanner{keys: make([][]byte, 0, linearKeys), top: make([]member, 0, 32)}
}}

// find returns the member named name.
func find(members []member, name string) (member, bool) {
	for _, m := range members {
		if string(m.name) == name {
			return m, true
		}
	}
	return member{}, false
}

// stringMember returns the member named name ("" when absent); its value
// must be a JSON string. text is the indexed data as a string.
func stringMember(members []member, text, name string) (string, error) {
	m, ok := find(members, name)
	if !ok {
		return "", nil
	}
	if s, ok := plainString(m, text); ok {
		return s, nil
	}
	raw := m.value
	if raw[0] != '"' {
		return "", fmt.Errorf("%s is not a string", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// decodeClaims checks the payload and reads the registered claims from it.
// The payload is not decoded as a whole: one pass checks its syntax,
// refuses duplicate member names and indexes the members of the outer
// object (indexObject), and each claim is decoded when it is asked for
// (Token.Claim).
func (t *Token) decodeClaims(payload []byte) error {
	if err := t.setClaims(payload, t.text); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	var err error
	if t.Issuer, err = t.claimString("iss"); err != nil {
		return err
	}
	if t.Issuer == "" {
		return errors.New("missing iss claim")
	}
	if t.Subject, err = t.claimString("sub"); err != nil {
		return err
	}
	if t.AZP, err = t.claimString("azp"); err != nil {
		return err
	}
	if t.Audience, err = t.claimAudience(); err != nil {
		return err
	}
	var has bool
	if t.Expiry, has, err = t.claimInt("exp"); err != nil {
		return err
	}
	if !has {
		return errors.New("missing exp claim")
	}
	if t.NotBefore, t.HasNotBefore, err = t.claimInt("nbf"); err != nil {
		return err
	}
	if t.IssuedAt, t.HasIssuedAt, err = t.claimInt("iat"); err != nil {
		return err
	}
	return nil
}

// rawClaim returns the claim's value as the token wrote it.
func (t *Token) rawClaim(name string) ([]byte, bool) {
	m, ok := find(t.members, name)
	return m.value, ok
}

// Claim returns the claim's value decoded as encoding/json decodes into an
// interface (numbers as json.Number), and whether the token has it.
func (t *Token) Claim(name string) (any, bool) {
	m, ok := find(t.members, name)
	if !ok {
		return nil, false
	}
	if s, ok := plainString(m, t.text); ok {
		return s, true
	}
	d := json.NewDecoder(bytes.NewReader(m.value))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false // unreachable: Parse checked the payload
	}
	return v, true
}

// Claims returns every claim, decoded as Claim decodes one.
func (t *Token) Claims() map[string]any {
	out := make(map[string]any, len(t.members))
	for _, m := range t.members {
		out[string(m.name)], _ = t.Claim(string(m.name))
	}
	return out
}

// plainString returns the content of a member's JSON string value written
// without escapes, which is the string itself, as a substring of text (the
// indexed data as a string).
func plainString(m member, text string) (string, bool) {
	raw := m.value
	if len(raw) < 2 || raw[0] != '"' || bytes.IndexByte(raw, '\\') >= 0 {
		return "", false
	}
	return text[m.at+1 : m.at+len(raw)-1], true
}

func (t *Token) claimString(name string) (string, error) {
	v, err := stringMember(t.members, t.text, name)
	if err != nil {
		return "", fmt.Errorf("%s claim is not a string", name)
	}
	return v, nil
}

func (t *Token) claimAudience() ([]string, error) {
	raw, ok := t.rawClaim("aud")
	switch {
	case !ok:
		return nil, nil
	case raw[0] == 'n':
		return nil, errors.New("aud claim is null")
	case raw[0] == '"':
		s, err := t.claimString("aud")
		return []string{s}, err
	case raw[0] != '[':
		return nil, errors.New("aud claim is neither a string nor an array")
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, fmt.Errorf("aud claim: %w", err)
	}
	out := make([]string, 0, len(elems))
	for _, e := range elems {
		var s string
		if len(e) == 0 || e[0] != '"' || json.Unmarshal(e, &s) != nil {
			return nil, errors.New("aud claim has a non-string element")
		}
		out = append(out, s)
	}
	return out, nil
}

// claimInt reads a NumericDate that must be written as a JSON integer
// ("1.0", "1e9" and strings are refused, as AWS requires).
func (t *Token) claimInt(name string) (int64, bool, error) {
	raw, ok := t.rawClaim(name)
	if !ok {
		return 0, false, nil
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, false, fmt.Errorf("%s claim is not a number", name)
	}
	i, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%s claim is not an integer: %w", name, err)
	}
	return i, true, nil
}

// SetClaims replaces the token's claims with payload, a JSON object,
// checked and indexed as Parse does, leaving the other fields as they are.
// It is for tokens built by hand (tests); nothing makes a token trusted but
// Verifier.Verify.
func (t *Token) SetClaims(payload []byte) error {
	return t.setClaims(payload, string(payload))
}

// setClaims is SetClaims with payload's text, which parseJWS converted
// together with the header.
func (t *Token) setClaims(payload []byte, text string) error {
	if len(text) != len(payload) {
		return errors.New("claims text is not the payload's") // a bug, never the token's fault
	}
	members, err := indexObject(payload)
	if err != nil {
		return err
	}
	t.members, t.ClaimsJSON, t.text = members, payload, text
	return nil
}
