package oidc

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"
	"time"
)

// benchClaims is a GitHub-Actions-like claim set of about 800 bytes.
func benchClaims() map[string]any {
	c := baseClaims()
	for k, v := range map[string]any{
		"jti": "8f3c6a1e-8c1a-4b4e-9d0e-3a3f1c2b7d11", "ref": "refs/heads/main", "sha": strings.Repeat("a1", 20),
		"repository": "keylessci/keyless", "repository_owner": "keylessci", "repository_owner_id": "1234567",
		"run_id": "9876543210", "run_number": "42", "run_attempt": "1", "repository_visibility": "private",
		"repository_id": "7654321", "actor_id": "1111", "actor": "octocat", "workflow": "ci",
		"head_ref": "", "base_ref": "", "event_name": "push", "ref_type": "branch", "ref_protected": "true",
		"workflow_ref": "keylessci/keyless/.github/workflows/ci.yml@refs/heads/main",
		"workflow_sha": strings.Repeat("b2", 20), "job_workflow_ref": "keylessci/keyless/.github/workflows/ci.yml@refs/heads/main",
		"runner_environment": "github-hosted", "environment": "prod",
	} {
		c[k] = v
	}
	return c
}

func benchParseVerify(b *testing.B, alg string, key any) {
	raw := signRaw(b, alg, key, `{"alg":"`+alg+`","kid":"k1","typ":"JWT"}`, mustJSON(b, benchClaims()))
	keys := keySet(jwk(key, "k1", alg), jwk(rsaOther, "k2", "RS256"))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	v, err := NewVerifier(VerifierConfig{Providers: testProviders(), Keys: staticKeys{set: keys}, Now: func() time.Time { return testNow }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseVerifyRS256(b *testing.B) {
	testKeys(b)
	benchParseVerify(b, "RS256", rsa2048)
}

func BenchmarkParseVerifyES256(b *testing.B) {
	testKeys(b)
	benchParseVerify(b, "ES256", ec256)
}

// BenchmarkRawRS256Verify is the floor: stdlib PKCS#1 v1.5 verification of
// the same token, without parsing.
func BenchmarkRawRS256Verify(b *testing.B) {
	testKeys(b)
	raw := signRaw(b, "RS256", rsa2048, `{"alg":"RS256","kid":"k1","typ":"JWT"}`, mustJSON(b, benchClaims()))
	tok, _, err := parseJWS(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256([]byte(tok.signingInput))
		if err := rsa.VerifyPKCS1v15(&rsa2048.PublicKey, crypto.SHA256, d[:], tok.sig); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse is parsing alone (no signature check).
func BenchmarkParse(b *testing.B) {
	testKeys(b)
	raw := signRaw(b, "RS256", rsa2048, `{"alg":"RS256","kid":"k1","typ":"JWT"}`, mustJSON(b, benchClaims()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
