package oidc

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// errThumbprintMismatch marks a TLS chain that is neither trusted by the
// roots nor carries a configured thumbprint.
var errThumbprintMismatch = errors.New("certificate chain is not trusted and matches no configured thumbprint")

// Thumbprint returns the SHA-1 thumbprint of cert as IAM stores it: 40
// lowercase hex digits of the hash of the DER certificate. (SHA-1 is what
// the AWS API defines here; it identifies a certificate, it does not sign.)
func Thumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// normalizeThumbprints lowercases and drops malformed entries.
func normalizeThumbprints(tps []string) []string {
	out := make([]string, 0, len(tps))
	for _, tp := range tps {
		tp = strings.ToLower(strings.TrimSpace(tp))
		if len(tp) == 40 {
			out = append(out, tp)
		}
	}
	return out
}

// tlsConfig returns the client TLS configuration for fetching from host:
// the chain is accepted when it verifies against roots (nil: the system
// roots) for host, or else when it verifies for host against a certificate
// the server presented whose thumbprint is configured (AWS documents the top
// intermediate, i.e. the last one), taken as the only trust anchor.
func tlsConfig(host string, roots *x509.CertPool, thumbprints []string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: host,
		// Standard verification would stop before the thumbprint rule can
		// apply; VerifyConnection below performs it in full instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyChain(cs.PeerCertificates, host, roots, thumbprints)
		},
	}
}

// verifyChain is the one place a provider's TLS chain is trusted. A
// thumbprint never stands in for a signature: every certificate of a real
// chain is public, so an interceptor can present a copy of the thumbprinted
// certificate next to its own leaf. The thumbprinted certificate is only
// ever a trust anchor: the leaf must chain to it by signature (or be it),
// be valid now for server authentication, and be valid for host.
func verifyChain(certs []*x509.Certificate, host string, roots *x509.CertPool, thumbprints []string) error {
	if len(certs) == 0 {
		return errors.New("server presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, verr := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host})
	if verr == nil {
		return nil
	}
	var anchorErr error
	for i := len(certs) - 1; i >= 0; i-- {
		if !slices.Contains(thumbprints, Thumbprint(certs[i])) {
			continue
		}
		anchor := x509.NewCertPool()
		anchor.AddCert(certs[i])
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: anchor, Intermediates: inter, DNSName: host})
		if err == nil {
			return nil
		}
		if herr := (x509.HostnameError{}); errors.As(err, &herr) {
			return fmt.Errorf("thumbprint matched but the certificate is not for %s: %w", host, err)
		}
		anchorErr = err
	}
	if anchorErr != nil {
		return fmt.Errorf("%w: a presented certificate matches a thumbprint but the leaf does not chain to it for %s (%v)", errThumbprintMismatch, host, anchorErr)
	}
	return fmt.Errorf("%w (%v)", errThumbprintMismatch, verr)
}
