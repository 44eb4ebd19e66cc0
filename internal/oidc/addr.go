package oidc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// addrClass is the kind of network address a fetch connects to.
type addrClass string

const (
	classPublic    addrClass = "public"
	classLoopback  addrClass = "loopback" // 127/8, ::1, and the unspecified 0.0.0.0 and ::
	classLinkLocal addrClass = "link-local"
	classPrivate   addrClass = "private" // RFC 1918, RFC 4193, shared (RFC 6598)
	classOther     addrClass = "non-public"
)

// errAddressRefused marks a JWKS target refused by the address policy.
var errAddressRefused = errors.New("address refused")

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

func classify(ip netip.Addr) addrClass {
	ip = ip.Unmap()
	switch {
	case ip.IsLoopback() || ip.IsUnspecified():
		return classLoopback
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return classLinkLocal
	case ip.IsPrivate() || sharedSpace.Contains(ip):
		return classPrivate
	case ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || !ip.IsGlobalUnicast():
		return classOther
	}
	return classPublic
}

// guardedDial returns a dialer that resolves the host itself, refuses every
// address whose class allowed rejects (nil allows all), connects to the
// first acceptable address and stores its class in seen (when not nil). The
// check is on the resolved address the connection is made to, so a name
// that resolves differently from one lookup to the next gains nothing.
func (f *Fetcher) guardedDial(allowed func(addrClass) bool, seen *addrClass) dialFunc {
	base := f.cfg.DialContext
	if base == nil {
		base = (&net.Dialer{Timeout: f.cfg.Timeout}).DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		var lastErr error
		for _, ip := range ips {
			c := classify(ip)
			if allowed != nil && !allowed(c) {
				lastErr = fmt.Errorf("%w: %s resolves to %s, a %s address", errAddressRefused, host, ip, c)
				continue
			}
			conn, err := base(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
			if err != nil {
				lastErr = err
				continue
			}
			if seen != nil {
				*seen = c
			}
			return conn, nil
		}
		if lastErr == nil {
			lastErr = fmt.Errorf("no address for %s", host)
		}
		return nil, lastErr
	}
}
