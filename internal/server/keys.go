package server

import (
	"context"
	"net"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/awsquery"
)

// DialFunc dials a network connection (tests replace the JWKS fetcher's).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

type hostedKeys interface {
	KeySet(ctx context.Context, issuerURL string) (*jose.JSONWebKeySet, bool, error)
}

type remoteKeys interface {
	Keys(ctx context.Context, issuer string, thumbprints []string, kid string) (*jose.JSONWebKeySet, error)
}

// keySource resolves issuers this server hosts in process, without any
// network, and every other issuer over HTTPS.
type keySource struct {
	hosted hostedKeys
	remote remoteKeys
}

func (k keySource) Keys(ctx context.Context, issuer string, thumbprints []string, kid string) (*jose.JSONWebKeySet, error) {
	ks, ok, err := k.hosted.KeySet(ctx, issuer)
	if err != nil {
		return nil, awsquery.FromStoreOutage(err)
	}
	if ok {
		return ks, nil
	}
	return k.remote.Keys(ctx, issuer, thumbprints, kid)
}
