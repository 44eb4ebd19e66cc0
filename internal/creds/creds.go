// Package creds mints and opens stateless temporary credentials: an ASIA…
// access key id, a 40-character secret and a session token that carries the
// whole session (role, session name, tags, session policies, expiry and the
// secret itself) sealed with AES-256-GCM. Any replica holding the keys opens
// tokens minted by any other without a lookup; the access key id is bound
// to its token as additional authenticated data.
//
// It owns the token format, key rotation (the first key seals, every key
// opens) and expiry. It does not load or store the keys (the server takes
// them from the store), verify request signatures (package sigv4), or
// decide what a session may do (package policy).
package creds

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
)

// KeySize is the length of a sealing key (AES-256).
const KeySize = 32

const (
	version      = 1
	keyIDLen     = 4
	headerLen    = 1 + keyIDLen // version, key id
	akidPrefix   = "ASIA"
	akidRandLen  = 10 // 16 base32 characters
	secretRawLen = 30 // 40 base64 characters
	// MaxTokenLen bounds the session tokens Open will look at.
	MaxTokenLen = 16 << 10
)

// Tag is a session tag.
type Tag struct{ Key, Value string }

// Session is everything a session token carries.
type Session struct {
	Account, RoleName, RolePath, RoleID, SessionName string
	SourceIdentity                                   string
	Tags                                             []Tag
	TransitiveTagKeys                                []string
	SessionPolicy                                    string
	PolicyARNs                                       []string
	// Chained is set when AssumeRole minted the session from session
	// credentials.
	Chained bool
	// ProviderARN, Subject and Audience record a web identity origin ("" otherwise).
	ProviderARN, Subject, Audience string
	// Runner credentials (no role) only: the issuer they mint for, and the
	// role whose session created them (empty when root did), by name and
	// unique id. Tokens sealed before these fields existed open with them
	// empty.
	IssuerID, CreatorRoleName, CreatorRoleID string
	// Issued and Expiration are kept to the second.
	Issued, Expiration time.Time
}

// Credentials are what STS returns to the caller.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// Config configures a Sealer.
type Config struct {
	// Keys are 32-byte keys: Keys[0] seals, all of them open (rotation).
	Keys [][]byte
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// Rand is the randomness source; crypto/rand by default.
	Rand io.Reader
}

// Sealer mints and opens session credentials. It is safe for concurrent use.
type Sealer struct {
	seal   sealKey
	open   map[[keyIDLen]byte]cipher.AEAD
	now    func() time.Time
	rand   io.Reader
	nonce  int
	opened openedCache
}

type sealKey struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
}

var (
	errInvalid = awserr.New(awserr.CodeInvalidClientTokenID, http.StatusForbidden,
		"The security token included in the request is invalid.")
	errExpired = awserr.New(awserr.CodeExpiredToken, http.StatusForbidden,
		"The security token included in the request is expired")
)

// New validates cfg and returns a Sealer.
func New(cfg Config) (*Sealer, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("creds: at least one key is required")
	}
	s := &Sealer{open: make(map[[keyIDLen]byte]cipher.AEAD, len(cfg.Keys)), now: cfg.Now, rand: cfg.Rand}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	for i, k := range cfg.Keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("creds: key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("creds: key %d: %w", i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("creds: key %d: %w", i, err)
		}
		id := keyID(k)
		if _, dup := s.open[id]; dup {
			return nil, fmt.Errorf("creds: key %d duplicates an earlier key (or its id)", i)
		}
		s.open[id] = aead
		if i == 0 {
			s.seal = sealKey{id: id, aead: aead}
			s.nonce = aead.NonceSize()
		}
	}
	return s, nil
}

// keyID names a key in tokens without revealing it.
func keyID(k []byte) [keyIDLen]byte {
	h := sha256.New()
	h.Write([]byte("keyless creds key id\x00"))
	h.Write(k)
	var id [keyIDLen]byte
	copy(id[:], h.Sum(nil))
	return id
}

// GenerateKey returns a new random 32-byte key read from r (crypto/rand if nil).
func GenerateKey(r io.Reader) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	k := make([]byte, KeySize)
	if _, err := io.ReadFull(r, k); err != nil {
		return nil, fmt.Errorf("creds: generate key: %w", err)
	}
	return k, nil
}

var (
	akidEncoding  = base32.StdEncoding.WithPadding(base32.NoPadding)
	tokenEncoding = base64.RawURLEncoding.Strict()
)

// IsTemporary reports whether accessKeyID has the shape of a key id minted
// here ("ASIA" and 16 base32 characters), i.e. one that needs a session token.
func IsTemporary(accessKeyID string) bool {
	if len(accessKeyID) != len(akidPrefix)+16 || !strings.HasPrefix(accessKeyID, akidPrefix) {
		return false
	}
	for _, c := range accessKeyID[len(akidPrefix):] {
		if !('A' <= c && c <= 'Z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// Mint seals sess into new credentials. Issued defaults to now; Expiration
// is required and must be in the future. Times are truncated to the second.
func (s *Sealer) Mint(sess Session) (Credentials, error) {
	now := s.now()
	if sess.Issued.IsZero() {
		sess.Issued = now
	}
	sess.Issued = sess.Issued.UTC().Truncate(time.Second)
	sess.Expiration = sess.Expiration.UTC().Truncate(time.Second)
	if !sess.Expiration.After(now) {
		return Credentials{}, fmt.Errorf("creds: mint: expiration %s is not after now %s", sess.Expiration, now)
	}
	if sess.Expiration.Before(sess.Issued) {
		return Credentials{}, errors.New("creds: mint: expiration before issue time")
	}

	// One allocation holds the random key id, secret and nonce, and the
	// additional data; one more the sealed token; one more the three
	// strings. Mint runs on every exchange.
	const akidLen = len(akidPrefix) + 16
	rndLen := akidRandLen + secretRawLen + s.nonce
	rnd := make([]byte, rndLen, rndLen+headerLen+akidLen)
	if _, err := io.ReadFull(s.rand, rnd); err != nil {
		return Credentials{}, fmt.Errorf("creds: mint: random: %w", err)
	}
	var akid [akidLen]byte
	copy(akid[:], akidPrefix)
	akidEncoding.Encode(akid[len(akidPrefix):], rnd[:akidRandLen])
	secretRaw := rnd[akidRandLen : akidRandLen+secretRawLen]
	nonce := rnd[akidRandLen+secretRawLen:]

	// The session is encoded where its ciphertext goes, after the header
	// and nonce, and sealed in place (an exact overlap, which AEAD allows).
	out := make([]byte, headerLen, headerLen+s.nonce+encodedSize(&sess)+s.seal.aead.Overhead())
	out[0] = version
	copy(out[1:], s.seal.id[:])
	out = append(out, nonce...)
	prefix := len(out)
	out = encodeSession(out, &sess, secretRaw)
	out = s.seal.aead.Seal(out[:prefix], nonce, out[prefix:], appendAAD(rnd[rndLen:], out[:headerLen], akid[:]))

	var stack [1536]byte // the usual token fits: text stays off the heap
	text := append(stack[:0], akid[:]...)
	text = base64.StdEncoding.AppendEncode(text, secretRaw)
	text = tokenEncoding.AppendEncode(text, out)
	all := string(text)
	secretEnd := akidLen + base64.StdEncoding.EncodedLen(secretRawLen)
	return Credentials{
		AccessKeyID:     all[:akidLen],
		SecretAccessKey: all[akidLen:secretEnd],
		SessionToken:    all[secretEnd:],
		Expiration:      sess.Expiration,
	}, nil
}

// appendAAD appends the additional data a token is sealed with: its header
// and the access key id it was issued with.
func appendAAD[T string | []byte](b, header []byte, akid T) []byte {
	return append(append(b, header...), akid...)
}

// Open authenticates token for accessKeyID and returns its session and
// secret. Anything but a token sealed by one of our keys for exactly this
// access key id is InvalidClientTokenId; a valid token past its expiration
// is ExpiredToken. A CI job signs every call with the same token, so the
// sessions of tokens opened lately are kept (opened.go) and a repeated
// token is not decrypted again; its expiration is checked all the same.
func (s *Sealer) Open(accessKeyID, token string) (Session, string, error) {
	if sess, secret, ok := s.opened.get(accessKeyID, token); ok {
		if err := s.checkExpiry(sess); err != nil {
			return Session{}, "", err
		}
		return sess, secret, nil
	}
	sess, secret, err := s.openToken(accessKeyID, token)
	if err != nil {
		return Session{}, "", err
	}
	s.opened.put(accessKeyID, token, sess, secret)
	return sess, secret, nil
}

// checkExpiry refuses a session at or past its expiration.
func (s *Sealer) checkExpiry(sess Session) error {
	if !s.now().Before(sess.Expiration) {
		return errExpired.Wrap(fmt.Errorf("session expired at %s", sess.Expiration.Format(time.RFC3339)))
	}
	return nil
}

// openToken is Open without the cache.
func (s *Sealer) openToken(accessKeyID, token string) (Session, string, error) {
	if len(token) > MaxTokenLen {
		return Session{}, "", errInvalid.Wrap(errors.New("session token too long"))
	}
	// One buffer takes the decoded token, then the record opened in place,
	// then the additional data; the record becomes one string, which the
	// session's fields are substrings of.
	rawLen := tokenEncoding.DecodedLen(len(token))
	raw := make([]byte, rawLen, rawLen+headerLen+len(accessKeyID))
	n, err := tokenEncoding.Decode(raw, []byte(token))
	if err != nil {
		return Session{}, "", errInvalid.Wrap(fmt.Errorf("session token encoding: %w", err))
	}
	raw = raw[:n]
	if len(raw) < headerLen+s.nonce || raw[0] != version {
		return Session{}, "", errInvalid.Wrap(errors.New("session token header"))
	}
	var id [keyIDLen]byte
	copy(id[:], raw[1:headerLen])
	aead, ok := s.open[id]
	if !ok {
		return Session{}, "", errInvalid.Wrap(errors.New("session token sealed by an unknown key"))
	}
	nonce, sealed := raw[headerLen:headerLen+s.nonce], raw[headerLen+s.nonce:]
	plain, err := aead.Open(sealed[:0], nonce, sealed, appendAAD(raw[rawLen:rawLen], raw[:headerLen], accessKeyID))
	if err != nil {
		return Session{}, "", errInvalid.Wrap(fmt.Errorf("session token: %w", err))
	}
	sess, secretRaw, err := decodeSession(string(plain))
	if err != nil {
		return Session{}, "", errInvalid.Wrap(fmt.Errorf("session token payload: %w", err))
	}
	if err := s.checkExpiry(sess); err != nil {
		return Session{}, "", err
	}
	return sess, base64.StdEncoding.EncodeToString([]byte(secretRaw)), nil
}
