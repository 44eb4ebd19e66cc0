package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keylessci/keyless/internal/store"
)

var revocationTests = map[string]func(t *testing.T, s store.Store){
	"RoundTripOrderAndReplace": func(t *testing.T, s store.Store) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		later := now.Add(time.Hour)
		puts := []store.Revocation{
			{IssuerID: "b", AccessKeyID: "ASIAB", Expires: later},
			{IssuerID: "a", IssuedBefore: now, Expires: later},
			{IssuerID: "a", AccessKeyID: "ASIAA", Expires: later},
			{IssuerID: "a", IssuedBefore: now.Add(time.Minute), Expires: later.Add(time.Minute)}, // replaces the first "a"
		}
		for _, r := range puts {
			must(t, s.PutRevocation(ctx(t), r))
		}
		got, err := s.ListRevocations(ctx(t), now)
		must(t, err)
		want := []store.Revocation{
			{IssuerID: "a", IssuedBefore: now.Add(time.Minute), Expires: later.Add(time.Minute)},
			{IssuerID: "a", AccessKeyID: "ASIAA", Expires: later},
			{IssuerID: "b", AccessKeyID: "ASIAB", Expires: later},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ListRevocations (-want +got):\n%s", d)
		}
	},
	"ExpiredAreNotListed": func(t *testing.T, s store.Store) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		must(t, s.PutRevocation(ctx(t), store.Revocation{IssuerID: "a", AccessKeyID: "ASIAA", Expires: now.Add(time.Minute)}))
		got, err := s.ListRevocations(ctx(t), now.Add(2*time.Minute))
		must(t, err)
		if len(got) != 0 {
			t.Errorf("expired revocations listed: %v", got)
		}
	},
	"RaisesVersion": func(t *testing.T, s store.Store) {
		v0, err := s.Version(ctx(t))
		must(t, err)
		must(t, s.PutRevocation(ctx(t), store.Revocation{IssuerID: "a", IssuedBefore: time.Now(), Expires: time.Now().Add(time.Hour)}))
		v1, err := s.Version(ctx(t))
		must(t, err)
		if v1 <= v0 {
			t.Errorf("Version %d after PutRevocation, was %d", v1, v0)
		}
	},
}
