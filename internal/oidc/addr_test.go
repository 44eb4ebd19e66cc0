package oidc

import (
	"net/netip"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want addrClass
	}{
		{"127.0.0.1", classLoopback},
		{"127.8.9.10", classLoopback},
		{"::1", classLoopback},
		{"0.0.0.0", classLoopback},
		{"::", classLoopback},
		{"::ffff:127.0.0.1", classLoopback},
		{"169.254.169.254", classLinkLocal},
		{"fe80::1", classLinkLocal},
		{"10.1.2.3", classPrivate},
		{"172.16.0.1", classPrivate},
		{"192.168.1.1", classPrivate},
		{"::ffff:10.0.0.1", classPrivate},
		{"fd00::1", classPrivate},
		{"100.64.0.1", classPrivate},
		{"224.0.0.251", classLinkLocal},
		{"239.1.1.1", classOther},
		{"255.255.255.255", classOther},
		{"8.8.8.8", classPublic},
		{"2606:4700::1111", classPublic},
		{"172.32.0.1", classPublic},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if got := classify(netip.MustParseAddr(tc.addr)); got != tc.want {
				t.Errorf("classify(%s) = %s, want %s", tc.addr, got, tc.want)
			}
		})
	}
}
