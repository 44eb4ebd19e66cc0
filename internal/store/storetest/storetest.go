// Package storetest is the conformance suite of the storage contract: every
// store.Store backend runs Run from its own tests and must pass it unchanged.
//
// It owns the executable meaning of the contract in internal/store (which
// error where, ordering, round-trips, atomicity, concurrency, Version). It
// owns no backend and starts no database: the caller's newStore does that.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keylessci/keyless/internal/store"
)

// Run runs the whole conformance suite. newStore must return a new, empty
// store for every call; it registers its own cleanup with t.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests map[string]func(t *testing.T, s store.Store)
	}{
		{"Providers", providerTests},
		{"Roles", roleTests},
		{"RolePolicies", rolePolicyTests},
		{"ManagedPolicies", managedPolicyTests},
		{"Issuers", issuerTests},
		{"SigningKeys", signingKeyTests},
		{"Secrets", secretTests},
		{"Revocations", revocationTests},
		{"Decisions", decisionTests},
		{"Version", versionTests},
		{"Concurrency", concurrencyTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, name := range slices.Sorted(maps.Keys(g.tests)) {
				t.Run(name, func(t *testing.T) {
					g.tests[name](t, newStore(t))
				})
			}
		})
	}
}

// ctx returns a context bounded so that a hanging backend fails the test
// instead of the whole test binary.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// base is a fixed instant with sub-millisecond digits, in a non-UTC zone, so
// that round-trips prove both precision and normalization to UTC.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+2", 2*3600))

// opts compares entities as the contract promises them: times equal to the
// millisecond, nil and empty slices alike.
var opts = cmp.Options{
	cmpopts.EquateEmpty(),
	cmp.Comparer(func(a, b time.Time) bool {
		return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
	}),
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, opts); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// must fails the test now if err is not nil.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr checks that err wraps want (nil means success).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: error = %v, want %v", what, err, want)
	}
}

// utc checks that every time the backend returned is in UTC.
func utc(t *testing.T, what string, ts ...time.Time) {
	t.Helper()
	for i, ts := range ts {
		if !ts.IsZero() && ts.Location() != time.UTC {
			t.Errorf("%s: time %d has location %v, want UTC", what, i, ts.Location())
		}
	}
}

// Fixtures: complete entities with every field set, so round-trips cover all
// columns. Tags are deliberately out of alphabetical order.

func provider(url string) store.Provider {
	return store.Provider{
		URL:         url,
		ClientIDs:   []string{"sts.amazonaws.com", "b-client", "a-client"},
		Thumbprints: []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"},
		Tags:        []store.Tag{{Key: "team", Value: "ci"}, {Key: "env", Value: "prod"}},
		CreateDate:  base,
	}
}

func role(name string) store.Role {
	return store.Role{
		Name:                name,
		Path:                "/ci/",
		ID:                  "AROA" + fmt.Sprintf("%017d", len(name)),
		TrustPolicy:         `{"Version":"2012-10-17","Statement":[]}`,
		Description:         "role " + name,
		MaxSessionDuration:  3600,
		PermissionsBoundary: "arn:aws:iam::000000000000:policy/boundary",
		Tags:                []store.Tag{{Key: "z", Value: "1"}, {Key: "a", Value: ""}},
		CreateDate:          base,
	}
}

func managed(name string) store.ManagedPolicy {
	return store.ManagedPolicy{
		ARN:            "arn:aws:iam::000000000000:policy/" + name,
		Name:           name,
		Path:           "/",
		ID:             "ANPA" + fmt.Sprintf("%017d", len(name)),
		Document:       `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`,
		Description:    "policy " + name,
		Tags:           []store.Tag{{Key: "owner", Value: "me"}},
		CreateDate:     base,
		UpdateDate:     base.Add(time.Hour),
		DefaultVersion: "v2",
		Versions: []store.PolicyVersion{
			{ID: "v1", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`, CreateDate: base},
			{ID: "v2", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`, CreateDate: base.Add(time.Hour)},
		},
		LastVersion: 3, // v3 was created and deleted
	}
}

func issuer(id string) store.Issuer {
	return store.Issuer{
		ID:         id,
		Profile:    "circleci",
		URL:        "https://oidc.circleci.com/org/" + id,
		Alg:        "RS256",
		Config:     []byte(`{"aud":"` + id + `","ttl":"1h"}`),
		CreateDate: base,
	}
}

func signingKey(issuerID, kid string, created time.Time) store.SigningKey {
	return store.SigningKey{
		IssuerID:  issuerID,
		KID:       kid,
		Alg:       "RS256",
		Public:    []byte(`{"kty":"RSA","kid":"` + kid + `"}`),
		Sealed:    []byte{0x00, 0xff, 0x10, 0x80, 0x7f},
		CreatedAt: created,
		SignFrom:  created.Add(time.Minute),
	}
}
