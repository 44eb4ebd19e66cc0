package oidc

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
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
// roots) for host, or else when any certificate the server presented (AWS
// documents the top intermediate, i.e. the last one) has one of thumbprints
// and the leaf is valid for host.
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
	for i := len(certs) - 1; i >= 0; i-- {
		tp := Thumbprint(certs[i])
		for _, want := range thumbprints {
			if tp == want {
				if err := certs[0].VerifyHostname(host); err != nil {
					return fmt.Errorf("thumbprint matched but the certificate is not for %s: %w", host, err)
				}
				return nil
			}
		}
	}
	return fmt.Errorf("%w (%v)", errThumbprintMismatch, verr)
}
