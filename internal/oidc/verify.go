package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/awserr"
)

// MinRSABits is the smallest RSA modulus accepted for token signatures.
const MinRSABits = 2048

// verify checks the token's signature with a key from keys, the key set of
// the provider registered for the token's issuer (never a process-wide
// set). The key is chosen by kid; a token without kid is accepted only when
// the set holds exactly one key usable for its alg. The key must suit the
// alg (RSA ≥ 2048 bits for RS*, the alg's curve for ES*), its use must be
// "sig" when set and its alg must equal the token's when set.
//
// An unknown kid gives InvalidIdentityToken "Couldn't retrieve verification
// key…" with ErrUnknownKID in the chain, so the caller may refetch once.
func (t *Token) verify(keys *jose.JSONWebKeySet) error {
	if t == nil || t.signingInput == "" {
		return invalid(errors.New("token was not parsed"))
	}
	pub, err := selectKey(keys, t.KID, t.Alg)
	if err != nil {
		return err
	}
	if err := verifySignature(t.Alg, pub, t.signingInput, t.sig); err != nil {
		return invalid(err)
	}
	return nil
}

func selectKey(keys *jose.JSONWebKeySet, kid, alg string) (crypto.PublicKey, error) {
	if keys == nil || len(keys.Keys) == 0 {
		return nil, errKeyRetrieval.Wrap(fmt.Errorf("empty key set: %w", ErrUnknownKID))
	}
	for i := range keys.Keys {
		if _, sym := keys.Keys[i].Key.([]byte); sym {
			return nil, invalid(errors.New("key set contains a symmetric key"))
		}
	}
	if kid == "" {
		var found crypto.PublicKey
		n := 0
		for i := range keys.Keys {
			if pub, err := usableKey(&keys.Keys[i], alg); err == nil {
				found = pub
				n++
			}
		}
		switch n {
		case 0:
			return nil, errKeyRetrieval.Wrap(fmt.Errorf("token has no kid and no key suits %s: %w", alg, ErrUnknownKID))
		case 1:
			return found, nil
		default:
			return nil, invalid(fmt.Errorf("token has no kid and %d keys suit %s", n, alg))
		}
	}
	var match *jose.JSONWebKey
	for i := range keys.Keys {
		if keys.Keys[i].KeyID != kid {
			continue
		}
		if match != nil {
			return nil, invalid(fmt.Errorf("kid %q is ambiguous in the key set", kid))
		}
		match = &keys.Keys[i]
	}
	if match == nil {
		return nil, errKeyRetrieval.Wrap(fmt.Errorf("kid %q: %w", kid, ErrUnknownKID))
	}
	pub, err := usableKey(match, alg)
	if err != nil {
		return nil, invalid(fmt.Errorf("kid %q: %w", kid, err))
	}
	return pub, nil
}

// usableKey returns k's public key when k may verify a signature made with
// alg, else why not.
func usableKey(k *jose.JSONWebKey, alg string) (crypto.PublicKey, error) {
	if k.Use != "" && k.Use != "sig" {
		return nil, fmt.Errorf("key use is %q, not sig", k.Use)
	}
	if k.Algorithm != "" && k.Algorithm != alg {
		return nil, fmt.Errorf("key alg %s does not match token alg %s", k.Algorithm, alg)
	}
	switch alg[:2] {
	case "RS":
		var pub *rsa.PublicKey
		switch key := k.Key.(type) {
		case *rsa.PublicKey:
			pub = key
		case *rsa.PrivateKey:
			pub = &key.PublicKey
		default:
			return nil, fmt.Errorf("%s needs an RSA key, the key is %T", alg, k.Key)
		}
		if err := checkRSA(pub); err != nil {
			return nil, err
		}
		return pub, nil
	case "ES":
		var pub *ecdsa.PublicKey
		switch key := k.Key.(type) {
		case *ecdsa.PublicKey:
			pub = key
		case *ecdsa.PrivateKey:
			pub = &key.PublicKey
		default:
			return nil, fmt.Errorf("%s needs an EC key, the key is %T", alg, k.Key)
		}
		if pub.Curve == nil || pub.Curve.Params().Name != curveFor(alg) {
			return nil, fmt.Errorf("%s needs curve %s", alg, curveFor(alg))
		}
		return pub, nil
	}
	return nil, fmt.Errorf("alg %q is not allowed", alg)
}

func checkRSA(pub *rsa.PublicKey) error {
	if pub.N == nil || pub.N.BitLen() < MinRSABits {
		return fmt.Errorf("RSA key is smaller than %d bits", MinRSABits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return fmt.Errorf("RSA public exponent %d is invalid", pub.E)
	}
	return nil
}

func curveFor(alg string) string {
	switch alg {
	case "ES256":
		return "P-256"
	case "ES384":
		return "P-384"
	case "ES512":
		return "P-521"
	}
	return ""
}

// verifySignature checks sig over input with stdlib crypto only.
func verifySignature(alg string, pub crypto.PublicKey, input string, sig []byte) error {
	var h crypto.Hash
	var digest []byte
	switch alg {
	case "RS256", "ES256":
		d := sum256(input)
		h, digest = crypto.SHA256, d[:]
	case "RS384", "ES384":
		d := sha512.Sum384([]byte(input))
		h, digest = crypto.SHA384, d[:]
	case "RS512", "ES512":
		d := sha512.Sum512([]byte(input))
		h, digest = crypto.SHA512, d[:]
	default:
		return fmt.Errorf("alg %q is not allowed", alg)
	}
	switch key := pub.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPKCS1v15(key, h, digest, sig); err != nil {
			return fmt.Errorf("signature: %w", err)
		}
		return nil
	case *ecdsa.PublicKey:
		size := (key.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return fmt.Errorf("signature: ES signature is %d bytes, want %d", len(sig), 2*size)
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(key, digest, r, s) {
			return errors.New("signature: ECDSA verification failed")
		}
		return nil
	}
	return fmt.Errorf("unsupported key type %T", pub)
}

// sum256 is sha256.Sum256 of s without copying s into a new slice first:
// the hash is written a stack buffer at a time (its calls devirtualized,
// so the buffer stays on the stack). Nearly every CI token is RS256 or
// ES256, and its signing input is a kilobyte or more.
func sum256(s string) (d [32]byte) {
	h := sha256.New()
	var buf [512]byte
	for len(s) > 0 {
		n := copy(buf[:], s)
		h.Write(buf[:n])
		s = s[n:]
	}
	h.Sum(d[:0])
	return d
}

// checkTime applies the time claims at now with the given clock skew:
// exp ≤ now−skew gives ExpiredTokenException with AWS's message; nbf or iat
// later than now+skew gives InvalidIdentityToken.
func (t *Token) checkTime(now time.Time, skew time.Duration) error {
	n := now.Unix()
	s := int64(skew / time.Second)
	if t.Expiry <= n-s {
		return awserr.Newf(awserr.CodeExpiredTokenException, http.StatusBadRequest,
			"Token expired: current date/time %d must be before the expiration date/time%d", n, t.Expiry)
	}
	if t.HasNotBefore && t.NotBefore > n+s {
		return invalid(fmt.Errorf("token not valid before %d (now %d)", t.NotBefore, n))
	}
	if t.HasIssuedAt && t.IssuedAt > n+s {
		return invalid(fmt.Errorf("token issued in the future at %d (now %d)", t.IssuedAt, n))
	}
	return nil
}
