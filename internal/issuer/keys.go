package issuer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/store"
)

const (
	algRS256 = "RS256"
	algES256 = "ES256"
	rsaBits  = 2048
)

// signer is a decrypted, ready-to-use signing key, cached per kid so that
// minting never decrypts or re-parses a key.
type signer struct {
	kid string
	js  jose.Signer
}

// newKey generates a key for is that signs from signFrom, sealed for the store.
func (s *Service) newKey(is store.Issuer, signFrom time.Time) (store.SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch is.Alg {
	case algRS256:
		priv, err = rsa.GenerateKey(s.rand, rsaBits)
	case algES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), s.rand)
	default:
		err = fmt.Errorf("unsupported algorithm %q", is.Alg)
	}
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate %s key: %w", is.Alg, err)
	}
	kid, err := keyID(priv.Public())
	if err != nil {
		return store.SigningKey{}, err
	}
	pub, err := jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: is.Alg, Use: "sig"}.MarshalJSON()
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("encode public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("encode private key: %w", err)
	}
	sealed, err := s.seal(is.ID, kid, der)
	if err != nil {
		return store.SigningKey{}, err
	}
	return store.SigningKey{
		IssuerID: is.ID, KID: kid, Alg: is.Alg, Public: pub, Sealed: sealed,
		CreatedAt: s.now().UTC(), SignFrom: signFrom.UTC(),
	}, nil
}

// keyID is the RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key:
// stable, and derived from the key alone.
func keyID(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

func aad(issuerID, kid string) []byte {
	return []byte("keyless-issuer-key\x00" + issuerID + "\x00" + kid)
}

// seal encrypts a private key: nonce || AEAD ciphertext, bound to issuer and kid.
func (s *Service) seal(issuerID, kid string, plain []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, aad(issuerID, kid)), nil
}

func (s *Service) unseal(issuerID, kid string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("unseal key: too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad(issuerID, kid))
	if err != nil {
		return nil, fmt.Errorf("unseal key %s: %w", kid, err)
	}
	return plain, nil
}

// signerFor returns the cached signer of k, decrypting it on first use.
func (s *Service) signerFor(k store.SigningKey) (*signer, error) {
	ck := k.IssuerID + "/" + k.KID
	s.mu.Lock()
	sg := s.signers[ck]
	s.mu.Unlock()
	if sg != nil {
		return sg, nil
	}
	der, err := s.unseal(k.IssuerID, k.KID, k.Sealed)
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", k.KID, err)
	}
	var alg jose.SignatureAlgorithm
	switch key := parsed.(type) {
	case *rsa.PrivateKey:
		key.Precompute()
		alg = jose.RS256
	case *ecdsa.PrivateKey:
		alg = jose.ES256
	default:
		return nil, fmt.Errorf("key %s: unsupported type %T", k.KID, parsed)
	}
	if string(alg) != k.Alg {
		return nil, fmt.Errorf("key %s: stored alg %q does not match its key", k.KID, k.Alg)
	}
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: parsed, KeyID: k.KID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("signer for key %s: %w", k.KID, err)
	}
	sg = &signer{kid: k.KID, js: js}
	s.mu.Lock()
	s.signers[ck] = sg
	s.mu.Unlock()
	return sg, nil
}

// The key schedule. All of it is in the keys' timestamps, so any replica
// computes the same answer from the store:
//   - a key signs in [SignFrom, SignUntil) (SignUntil zero: open-ended); when
//     several may sign, the one with the latest SignFrom does;
//   - a key is published while PublishEnd is zero or in the future, which
//     includes the time before SignFrom.

// signingKey returns the key that signs at t.
func signingKey(keys []store.SigningKey, t time.Time) (store.SigningKey, bool) {
	var best store.SigningKey
	found := false
	for _, k := range keys {
		if t.Before(k.SignFrom) || (!k.SignUntil.IsZero() && !t.Before(k.SignUntil)) {
			continue
		}
		if !found || k.SignFrom.After(best.SignFrom) {
			best, found = k, true
		}
	}
	return best, found
}

func published(k store.SigningKey, t time.Time) bool {
	return k.PublishEnd.IsZero() || t.Before(k.PublishEnd)
}

// Rotate starts a rotation of issuer id: a new key is published now and
// signs from now + JWKSMaxAge + margin, by which time every verifier that
// honours Cache-Control has seen it. The keys signing until then stop at that
// instant and stay published until every token they signed has expired.
func (s *Service) Rotate(ctx context.Context, id string) error {
	is, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	return s.rotate(ctx, is, s.now().UTC())
}

func (s *Service) rotate(ctx context.Context, is store.Issuer, now time.Time) error {
	defer s.keySets.clear()
	start := now.Add(s.maxAge + margin)
	keys, err := s.store.ListSigningKeys(ctx, is.ID)
	if err != nil {
		return fmt.Errorf("list keys of issuer %q: %w", is.ID, err)
	}
	next, err := s.newKey(is, start)
	if err != nil {
		return err
	}
	if err := s.store.AddSigningKey(ctx, next); err != nil {
		return fmt.Errorf("add key to issuer %q: %w", is.ID, err)
	}
	if _, ok := signingKey(keys, now); !ok {
		// No key signs now (a new issuer, or keys lost): waiting would only
		// make minting fail, so the new key signs at once.
		return s.store.UpdateSigningKey(ctx, is.ID, next.KID, func(k *store.SigningKey) error {
			k.SignFrom = now
			return nil
		})
	}
	for _, k := range keys {
		if !k.SignUntil.IsZero() {
			continue
		}
		err := s.store.UpdateSigningKey(ctx, is.ID, k.KID, func(k *store.SigningKey) error {
			if k.SignUntil.IsZero() {
				k.SignUntil = start
				k.PublishEnd = start.Add(s.maxTTL + margin)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("retire key %s of issuer %q: %w", k.KID, is.ID, err)
		}
	}
	return nil
}

// Tick applies the key schedule to every issuer: it removes keys that are no
// longer published and rotates issuers whose signing key is older than
// RotationPeriod (unless a rotation is already pending). The server calls it
// periodically; calling it often is cheap.
func (s *Service) Tick(ctx context.Context) error {
	issuers, err := s.List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	live := map[string]bool{}
	for _, is := range issuers {
		kids, err := s.tick(ctx, is, s.now().UTC())
		if err != nil {
			errs = append(errs, err)
		}
		for _, kid := range kids {
			live[is.ID+"/"+kid] = true
		}
	}
	if len(errs) == 0 {
		s.mu.Lock()
		for k := range s.signers {
			if !live[k] {
				delete(s.signers, k)
			}
		}
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

// tick handles one issuer and returns the kids that remain.
func (s *Service) tick(ctx context.Context, is store.Issuer, now time.Time) ([]string, error) {
	defer s.keySets.clear()
	keys, err := s.store.ListSigningKeys(ctx, is.ID)
	if err != nil {
		return nil, fmt.Errorf("list keys of issuer %q: %w", is.ID, err)
	}
	var kept []string
	pending := false
	for _, k := range keys {
		if !published(k, now) {
			if err := s.store.DeleteSigningKey(ctx, is.ID, k.KID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("remove key %s of issuer %q: %w", k.KID, is.ID, err)
			}
			continue
		}
		kept = append(kept, k.KID)
		if now.Before(k.SignFrom) {
			pending = true
		}
	}
	cur, ok := signingKey(keys, now)
	if !ok && !pending {
		return kept, s.rotate(ctx, is, now)
	}
	if ok && !pending && !now.Before(cur.SignFrom.Add(s.rotPeriod)) {
		return kept, s.rotate(ctx, is, now)
	}
	return kept, nil
}

// KeySet returns the published public keys of the issuer hosted here whose
// URL is exactly issuerURL (a trailing slash is ignored); ok is false when no
// such issuer is hosted here. The STS uses it to verify tokens of hosted
// issuers without any network.
func (s *Service) KeySet(ctx context.Context, issuerURL string) (*jose.JSONWebKeySet, bool, error) {
	now := s.now()
	e, gen, hit := s.keySets.get(issuerURL, now)
	if hit {
		return e.set, e.ok, nil
	}
	set, ok, ends, err := s.loadKeySet(ctx, issuerURL, now)
	if err != nil {
		if e, found := s.keySets.stale(issuerURL, now); found && errors.Is(err, store.ErrUnavailable) {
			return e.set, e.ok, nil // the store is down: the last answer stands in, bounded
		}
		return nil, false, err
	}
	s.keySets.put(issuerURL, gen, newKeySetEntry(set, ok, now, ends))
	return set, ok, nil
}

// loadKeySet reads the KeySet answer of issuerURL from the store.
func (s *Service) loadKeySet(ctx context.Context, issuerURL string, now time.Time) (*jose.JSONWebKeySet, bool, []time.Time, error) {
	is, err := s.store.GetIssuerByURL(ctx, issuerURL)
	if errors.Is(err, store.ErrNotFound) && len(issuerURL) > 1 && issuerURL[len(issuerURL)-1] == '/' {
		is, err = s.store.GetIssuerByURL(ctx, issuerURL[:len(issuerURL)-1])
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil, nil
	}
	if err != nil {
		return nil, false, nil, fmt.Errorf("issuer by url %q: %w", issuerURL, err)
	}
	set, ends, err := s.publishedKeys(ctx, is.ID, now)
	if err != nil {
		return nil, false, nil, err
	}
	return set, true, ends, nil
}

// publicKeys returns the JWKS of an issuer at the current time.
func (s *Service) publicKeys(ctx context.Context, id string) (*jose.JSONWebKeySet, error) {
	set, _, err := s.publishedKeys(ctx, id, s.now())
	return set, err
}

// publishedKeys returns the keys of issuer id published at now, and the
// PublishEnd times of those that will stop being published.
func (s *Service) publishedKeys(ctx context.Context, id string, now time.Time) (*jose.JSONWebKeySet, []time.Time, error) {
	keys, err := s.store.ListSigningKeys(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("list keys of issuer %q: %w", id, err)
	}
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	var ends []time.Time
	for _, k := range keys {
		if !published(k, now) {
			continue
		}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(k.Public); err != nil {
			return nil, nil, fmt.Errorf("decode public key %s: %w", k.KID, err)
		}
		set.Keys = append(set.Keys, jwk)
		if !k.PublishEnd.IsZero() {
			ends = append(ends, k.PublishEnd)
		}
	}
	return set, ends, nil
}
