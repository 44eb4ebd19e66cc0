package oidc

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// ErrSymmetricKeySet is returned by ParseKeySet for a key set that contains
// a symmetric (kty "oct") key: such a set is refused whole, since a shared
// secret has no place in a published key set.
var ErrSymmetricKeySet = errors.New("key set contains a symmetric key")

// ParseKeySet decodes a JWKS document strictly and keeps only the keys that
// can verify a web-identity token: RSA (≥ 2048 bits, sane exponent, not a
// ROCA-weak modulus) or EC on P-256/P-384/P-521, with use "sig" or unset,
// key_ops containing "verify" or unset, and alg unset or an allowed
// RS*/ES* algorithm matching the key. Other keys are skipped (a provider may publish
// encryption keys alongside). Private key material is reduced to its public
// half. Duplicate JSON member names and symmetric keys fail the whole set.
//
// go-jose drops key_ops, so key sets should come through here rather than
// straight from json.Unmarshal.
func ParseKeySet(data []byte) (*jose.JSONWebKeySet, error) {
	if err := checkJSON(data); err != nil {
		if errors.Is(err, errJSONSyntax) {
			return nil, fmt.Errorf("key set: not a JSON object: %w", err)
		}
		return nil, fmt.Errorf("key set: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("key set: not a JSON object: %w", err)
	}
	rawKeys, ok := doc["keys"]
	if !ok {
		return nil, errors.New("key set: no keys member")
	}
	var raws []map[string]json.RawMessage
	if err := json.Unmarshal(rawKeys, &raws); err != nil {
		return nil, fmt.Errorf("key set: keys is not an array of objects: %w", err)
	}
	set := &jose.JSONWebKeySet{}
	for _, m := range raws {
		var kty string
		if v, ok := m["kty"]; ok && (len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &kty) != nil) {
			continue
		}
		if kty == "oct" {
			return nil, ErrSymmetricKeySet
		}
		if kty != "RSA" && kty != "EC" {
			continue
		}
		if ops, ok := m["key_ops"]; ok {
			var list []string
			if json.Unmarshal(ops, &list) != nil || !slices.Contains(list, "verify") {
				continue
			}
		}
		raw, err := json.Marshal(m)
		if err != nil {
			continue
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		if !k.IsPublic() {
			k = k.Public()
		}
		if keyUsable(&k) != nil {
			continue
		}
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// keyUsable checks k for any allowed algorithm (its own alg when set).
func keyUsable(k *jose.JSONWebKey) error {
	if k.Use != "" && k.Use != "sig" {
		return fmt.Errorf("key use is %q", k.Use)
	}
	var algs []string
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		if err := checkRSA(key); err != nil {
			return err
		}
		if rocaWeak(key.N) {
			return errors.New("RSA modulus has the ROCA fingerprint")
		}
		algs = []string{"RS256", "RS384", "RS512"}
	case *ecdsa.PublicKey:
		for _, a := range []string{"ES256", "ES384", "ES512"} {
			if key.Curve != nil && key.Curve.Params().Name == curveFor(a) {
				algs = []string{a}
			}
		}
		if algs == nil {
			return errors.New("EC curve not allowed")
		}
	default:
		return fmt.Errorf("key type %T not allowed", k.Key)
	}
	if k.Algorithm != "" && !slices.Contains(algs, k.Algorithm) {
		return fmt.Errorf("key alg %q does not suit the key", k.Algorithm)
	}
	return nil
}

// rocaPrimes are the small primes whose residues fingerprint moduli made by
// the Infineon RSALib flaw (ROCA, CVE-2017-15361): such a modulus is, modulo
// each of them, a power of 65537.
var rocaPrimes = []int64{3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73,
	79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167}

// rocaWeak reports whether n carries the ROCA fingerprint. This is a
// key-quality screen on public data, not a cryptographic operation.
func rocaWeak(n *big.Int) bool {
	var r, p big.Int
	for _, prime := range rocaPrimes {
		p.SetInt64(prime)
		res := r.Mod(n, &p).Int64()
		inGroup := false
		g := int64(65537 % prime)
		x := int64(1)
		for range prime {
			if x == res {
				inGroup = true
				break
			}
			x = x * g % prime
		}
		if !inGroup {
			return false
		}
	}
	return true
}
