package sqlstore

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

// TestAnnounceCoversEveryWrite walks every method of store.Store through
// store.Announce over SQLite: a call that moved Version must have been
// announced (a cache over the store cannot miss it), a read must not be.
// A method of the contract missing from the table fails the test.
func TestAnnounceCoversEveryWrite(t *testing.T) {
	ctx := context.Background()
	raw := openSQLite(t, filepath.Join(t.TempDir(), "keyless.db"))
	announced := 0
	s := store.Announce(raw, func() { announced++ })
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pol := store.ManagedPolicy{ARN: "arn:aws:iam::000000000000:policy/p", Name: "p", Path: "/", ID: "ANPA00000000000000001",
		Document: `{"Version":"2012-10-17","Statement":[]}`, DefaultVersion: "v1", LastVersion: 1, CreateDate: now, UpdateDate: now,
		Versions: []store.PolicyVersion{{ID: "v1", Document: `{"Version":"2012-10-17","Statement":[]}`, CreateDate: now}}}
	calls := []struct {
		method string
		read   bool
		do     func() error
	}{
		{"CreateProvider", false, func() error { return s.CreateProvider(ctx, store.Provider{URL: "a.example", CreateDate: now}) }},
		{"GetProvider", true, func() error { _, err := s.GetProvider(ctx, "a.example"); return err }},
		{"ListProviders", true, func() error { _, err := s.ListProviders(ctx); return err }},
		{"UpdateProvider", false, func() error {
			return s.UpdateProvider(ctx, "a.example", func(p *store.Provider) error { p.ClientIDs = []string{"x"}; return nil })
		}},
		{"DeleteProvider", false, func() error { return s.DeleteProvider(ctx, "a.example") }},
		{"CreateRole", false, func() error {
			return s.CreateRole(ctx, store.Role{Name: "r", Path: "/", ID: "AROA00000000000000001", TrustPolicy: "{}", CreateDate: now})
		}},
		{"GetRole", true, func() error { _, err := s.GetRole(ctx, "r"); return err }},
		{"ListRoles", true, func() error { _, err := s.ListRoles(ctx); return err }},
		{"UpdateRole", false, func() error {
			return s.UpdateRole(ctx, "r", func(r *store.Role) error { r.Description = "d"; return nil })
		}},
		{"RecordRoleUse", true, func() error { return s.RecordRoleUse(ctx, "us-east-1", map[string]time.Time{"r": now}) }},
		{"PutRolePolicy", false, func() error { return s.PutRolePolicy(ctx, store.RolePolicy{RoleName: "r", Name: "p", Document: "{}"}) }},
		{"GetRolePolicy", true, func() error { _, err := s.GetRolePolicy(ctx, "r", "p"); return err }},
		{"ListRolePolicies", true, func() error { _, err := s.ListRolePolicies(ctx, "r"); return err }},
		{"DeleteRolePolicy", false, func() error { return s.DeleteRolePolicy(ctx, "r", "p") }},
		{"CreatePolicy", false, func() error { return s.CreatePolicy(ctx, pol) }},
		{"GetPolicy", true, func() error { _, err := s.GetPolicy(ctx, pol.ARN); return err }},
		{"ListPolicies", true, func() error { _, err := s.ListPolicies(ctx); return err }},
		{"UpdatePolicy", false, func() error {
			return s.UpdatePolicy(ctx, pol.ARN, func(p *store.ManagedPolicy) error { p.Description = "d"; return nil })
		}},
		{"AttachRolePolicy", false, func() error { return s.AttachRolePolicy(ctx, "r", pol.ARN) }},
		{"ListAttachedRolePolicies", true, func() error { _, err := s.ListAttachedRolePolicies(ctx, "r"); return err }},
		{"DetachRolePolicy", false, func() error { return s.DetachRolePolicy(ctx, "r", pol.ARN) }},
		{"DeletePolicy", false, func() error { return s.DeletePolicy(ctx, pol.ARN) }},
		{"DeleteRole", false, func() error { return s.DeleteRole(ctx, "r") }},
		{"CreateIssuer", false, func() error {
			return s.CreateIssuer(ctx, store.Issuer{ID: "org", Profile: "circleci", URL: "https://oidc.example/org", Alg: "ES256",
				Config: []byte("{}"), CreateDate: now})
		}},
		{"GetIssuer", true, func() error { _, err := s.GetIssuer(ctx, "org"); return err }},
		{"GetIssuerByURL", true, func() error { _, err := s.GetIssuerByURL(ctx, "https://oidc.example/org"); return err }},
		{"ListIssuers", true, func() error { _, err := s.ListIssuers(ctx); return err }},
		{"AddSigningKey", false, func() error {
			return s.AddSigningKey(ctx, store.SigningKey{IssuerID: "org", KID: "k", Alg: "ES256", Public: []byte("{}"),
				Sealed: []byte{1}, CreatedAt: now, SignFrom: now})
		}},
		{"ListSigningKeys", true, func() error { _, err := s.ListSigningKeys(ctx, "org"); return err }},
		{"UpdateSigningKey", false, func() error {
			return s.UpdateSigningKey(ctx, "org", "k", func(k *store.SigningKey) error { k.SignUntil = now; return nil })
		}},
		{"DeleteSigningKey", false, func() error { return s.DeleteSigningKey(ctx, "org", "k") }},
		{"PutRevocation", false, func() error {
			return s.PutRevocation(ctx, store.Revocation{IssuerID: "org", IssuedBefore: now, Expires: now.Add(time.Hour)})
		}},
		{"ListRevocations", true, func() error { _, err := s.ListRevocations(ctx, now); return err }},
		{"DeleteIssuer", false, func() error { return s.DeleteIssuer(ctx, "org") }},
		{"GetOrCreateSecret", false, func() error { _, err := s.GetOrCreateSecret(ctx, "seal", []byte("x")); return err }},
		{"GetSecret", true, func() error { _, err := s.GetSecret(ctx, "seal"); return err }},
		{"DeleteSecret", false, func() error { return s.DeleteSecret(ctx, "seal") }},
		{"InsertDecisions", true, func() error {
			return s.InsertDecisions(ctx, []store.Decision{{ID: "d1", Time: now, Action: "sts:AssumeRole", Decision: "deny"}})
		}},
		{"GetDecision", true, func() error { _, err := s.GetDecision(ctx, "d1"); return err }},
		{"ListDecisions", true, func() error { _, err := s.ListDecisions(ctx, store.DecisionFilter{}); return err }},
		{"PruneDecisions", true, func() error { _, err := s.PruneDecisions(ctx, now.Add(-time.Hour), 10); return err }},
		{"Version", true, func() error { _, err := s.Version(ctx); return err }},
		{"Ping", true, func() error { return s.Ping(ctx) }},
		{"Close", true, nil}, // last: closes raw too (openSQLite's cleanup closes again)
	}
	covered := map[string]bool{}
	for _, c := range calls {
		covered[c.method] = true
	}
	// Writes that fail are not announced: a cache must keep serving while
	// the store refuses writes.
	failing := []struct {
		name string
		do   func() error
	}{
		{"DeleteRole of a missing role", func() error { return s.DeleteRole(ctx, "nope") }},
		{"UpdateRole whose fn refuses", func() error {
			return s.UpdateRole(ctx, "r", func(*store.Role) error { return store.ErrConflict })
		}},
	}
	contract := reflect.TypeFor[store.Store]()
	for i := range contract.NumMethod() {
		if m := contract.Method(i).Name; !covered[m] {
			t.Errorf("store.Store.%s is not walked: add it to this table", m)
		}
	}
	for _, c := range calls {
		if c.do == nil {
			continue // Close: neither reads nor writes
		}
		before, err := raw.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := announced
		if err := c.do(); err != nil {
			t.Fatalf("%s: %v", c.method, err)
		}
		after, err := raw.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case after != before && announced == n:
			t.Errorf("%s moved Version from %d to %d unannounced", c.method, before, after)
		case c.read && announced != n:
			t.Errorf("read %s was announced as a write", c.method)
		case !c.read && announced == n:
			t.Errorf("write %s was not announced", c.method)
		}
		if c.method == "UpdateRole" { // the role exists: its failures can be tried
			for _, f := range failing {
				n := announced
				if err := f.do(); err == nil {
					t.Errorf("%s succeeded", f.name)
				}
				if announced != n {
					t.Errorf("failed %s was announced", f.name)
				}
			}
		}
	}
}
