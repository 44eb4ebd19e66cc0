package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

var errFn = errors.New("fn refused")

var providerTests = map[string]func(t *testing.T, s store.Store){
	"CreateGetRoundTrip": func(t *testing.T, s store.Store) {
		p := provider("token.actions.githubusercontent.com")
		must(t, s.CreateProvider(ctx(t), p))
		got, err := s.GetProvider(ctx(t), p.URL)
		must(t, err)
		diff(t, "provider", p, got)
		utc(t, "provider", got.CreateDate)
	},
	"URLKeptExactly": func(t *testing.T, s store.Store) {
		p := provider("Example.com:8443/CI/")
		must(t, s.CreateProvider(ctx(t), p))
		got, err := s.GetProvider(ctx(t), "Example.com:8443/CI/")
		must(t, err)
		if got.URL != p.URL {
			t.Errorf("URL = %q, want %q", got.URL, p.URL)
		}
		_, err = s.GetProvider(ctx(t), "Example.com:8443/CI")
		wantErr(t, "get without trailing slash", err, store.ErrNotFound)
	},
	"CreateDuplicate": func(t *testing.T, s store.Store) {
		must(t, s.CreateProvider(ctx(t), provider("a.example")))
		wantErr(t, "second create", s.CreateProvider(ctx(t), provider("a.example")), store.ErrAlreadyExists)
	},
	"GetMissing": func(t *testing.T, s store.Store) {
		_, err := s.GetProvider(ctx(t), "nope.example")
		wantErr(t, "get", err, store.ErrNotFound)
	},
	"List": func(t *testing.T, s store.Store) {
		got, err := s.ListProviders(ctx(t))
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("empty store lists %d providers", len(got))
		}
		want := map[string]store.Provider{}
		for _, u := range []string{"c.example", "a.example", "b.example/x"} {
			p := provider(u)
			want[u] = p
			must(t, s.CreateProvider(ctx(t), p))
		}
		got, err = s.ListProviders(ctx(t))
		must(t, err)
		gotByURL := map[string]store.Provider{}
		for _, p := range got {
			gotByURL[p.URL] = p
		}
		diff(t, "providers", want, gotByURL)
	},
	"Update": func(t *testing.T, s store.Store) {
		must(t, s.CreateProvider(ctx(t), provider("a.example")))
		must(t, s.UpdateProvider(ctx(t), "a.example", func(p *store.Provider) error {
			p.ClientIDs = append(p.ClientIDs, "new-client")
			p.Thumbprints = nil
			p.Tags = []store.Tag{{Key: "k", Value: "v"}}
			return nil
		}))
		got, err := s.GetProvider(ctx(t), "a.example")
		must(t, err)
		want := provider("a.example")
		want.ClientIDs = append(want.ClientIDs, "new-client")
		want.Thumbprints = nil
		want.Tags = []store.Tag{{Key: "k", Value: "v"}}
		diff(t, "updated provider", want, got)
	},
	"UpdateFnErrorWritesNothing": func(t *testing.T, s store.Store) {
		must(t, s.CreateProvider(ctx(t), provider("a.example")))
		err := s.UpdateProvider(ctx(t), "a.example", func(p *store.Provider) error {
			p.ClientIDs = nil
			return errFn
		})
		wantErr(t, "update", err, errFn)
		got, err := s.GetProvider(ctx(t), "a.example")
		must(t, err)
		diff(t, "provider after refused update", provider("a.example"), got)
	},
	"RecordRoleUse": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		must(t, s.CreateRole(ctx(t), role("build")))
		before, err := s.Version(ctx(t))
		must(t, err)
		used := base.Add(48 * time.Hour)
		must(t, s.RecordRoleUse(ctx(t), "eu-west-1", map[string]time.Time{"DEPLOY": used, "build": used, "gone": used}))
		must(t, s.RecordRoleUse(ctx(t), "us-east-1", map[string]time.Time{"deploy": used.Add(-time.Hour)})) // older: ignored
		got, err := s.GetRole(ctx(t), "deploy")
		must(t, err)
		want := role("deploy")
		want.LastUsed, want.LastUsedRegion = used, "eu-west-1"
		diff(t, "role after recorded use", want, got)
		build, err := s.GetRole(ctx(t), "build")
		must(t, err)
		if d := build.LastUsed.Sub(used); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("second role of the batch: LastUsed = %v, want %v", build.LastUsed, used)
		}
		after, err := s.Version(ctx(t))
		must(t, err)
		if after != before {
			t.Errorf("RecordRoleUse moved Version from %d to %d", before, after)
		}
		must(t, s.RecordRoleUse(ctx(t), "x", nil))
	},
	"UpdateMissing": func(t *testing.T, s store.Store) {
		called := false
		err := s.UpdateProvider(ctx(t), "nope.example", func(*store.Provider) error { called = true; return nil })
		wantErr(t, "update", err, store.ErrNotFound)
		if called {
			t.Error("fn called for a missing provider")
		}
	},
	"Delete": func(t *testing.T, s store.Store) {
		must(t, s.CreateProvider(ctx(t), provider("a.example")))
		must(t, s.DeleteProvider(ctx(t), "a.example"))
		_, err := s.GetProvider(ctx(t), "a.example")
		wantErr(t, "get after delete", err, store.ErrNotFound)
		wantErr(t, "second delete", s.DeleteProvider(ctx(t), "a.example"), store.ErrNotFound)
		must(t, s.CreateProvider(ctx(t), provider("a.example")))
	},
}

var roleTests = map[string]func(t *testing.T, s store.Store){
	"CreateGetRoundTrip": func(t *testing.T, s store.Store) {
		r := role("deploy")
		r.LastUsed = base.Add(2 * time.Hour)
		r.LastUsedRegion = "eu-west-1"
		must(t, s.CreateRole(ctx(t), r))
		got, err := s.GetRole(ctx(t), "deploy")
		must(t, err)
		diff(t, "role", r, got)
		utc(t, "role", got.CreateDate, got.LastUsed)
	},
	"ZeroLastUsedStaysZero": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		got, err := s.GetRole(ctx(t), "deploy")
		must(t, err)
		if !got.LastUsed.IsZero() {
			t.Errorf("LastUsed = %v, want zero", got.LastUsed)
		}
	},
	"NamesCaseInsensitive": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("Deploy")))
		wantErr(t, "create other case", s.CreateRole(ctx(t), role("deploy")), store.ErrAlreadyExists)
		got, err := s.GetRole(ctx(t), "DEPLOY")
		must(t, err)
		if got.Name != "Deploy" {
			t.Errorf("Name = %q, want the original %q", got.Name, "Deploy")
		}
		must(t, s.UpdateRole(ctx(t), "dEpLoY", func(r *store.Role) error { r.Description = "x"; return nil }))
		list, err := s.ListRoles(ctx(t))
		must(t, err)
		if len(list) != 1 || list[0].Name != "Deploy" || list[0].Description != "x" {
			t.Errorf("ListRoles = %+v, want one role Deploy with description x", list)
		}
		must(t, s.DeleteRole(ctx(t), "DEPLOY"))
		_, err = s.GetRole(ctx(t), "Deploy")
		wantErr(t, "get after delete", err, store.ErrNotFound)
	},
	"GetMissing": func(t *testing.T, s store.Store) {
		_, err := s.GetRole(ctx(t), "nope")
		wantErr(t, "get", err, store.ErrNotFound)
	},
	"ListOrderedByName": func(t *testing.T, s store.Store) {
		for _, n := range []string{"charlie", "alpha", "delta", "bravo"} {
			must(t, s.CreateRole(ctx(t), role(n)))
		}
		got, err := s.ListRoles(ctx(t))
		must(t, err)
		var names []string
		for _, r := range got {
			names = append(names, r.Name)
		}
		diff(t, "role names", []string{"alpha", "bravo", "charlie", "delta"}, names)
		diff(t, "first role", role("alpha"), got[0])
	},
	"Update": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		used := base.Add(36 * time.Hour)
		must(t, s.UpdateRole(ctx(t), "deploy", func(r *store.Role) error {
			r.TrustPolicy = `{"Version":"2012-10-17"}`
			r.MaxSessionDuration = 43200
			r.Tags = nil
			r.LastUsed = used
			r.LastUsedRegion = "us-east-1"
			return nil
		}))
		got, err := s.GetRole(ctx(t), "deploy")
		must(t, err)
		want := role("deploy")
		want.TrustPolicy = `{"Version":"2012-10-17"}`
		want.MaxSessionDuration = 43200
		want.Tags = nil
		want.LastUsed = used
		want.LastUsedRegion = "us-east-1"
		diff(t, "updated role", want, got)
	},
	"UpdateFnErrorWritesNothing": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		err := s.UpdateRole(ctx(t), "deploy", func(r *store.Role) error {
			r.Description = "changed"
			return errFn
		})
		wantErr(t, "update", err, errFn)
		got, err := s.GetRole(ctx(t), "deploy")
		must(t, err)
		diff(t, "role after refused update", role("deploy"), got)
	},
	"UpdateMissing": func(t *testing.T, s store.Store) {
		err := s.UpdateRole(ctx(t), "nope", func(*store.Role) error { return nil })
		wantErr(t, "update", err, store.ErrNotFound)
	},
	"Delete": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		must(t, s.DeleteRole(ctx(t), "deploy"))
		_, err := s.GetRole(ctx(t), "deploy")
		wantErr(t, "get after delete", err, store.ErrNotFound)
		wantErr(t, "second delete", s.DeleteRole(ctx(t), "deploy"), store.ErrNotFound)
	},
	"DeleteConflictInlinePolicy": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		must(t, s.PutRolePolicy(ctx(t), store.RolePolicy{RoleName: "deploy", Name: "p", Document: "{}"}))
		wantErr(t, "delete", s.DeleteRole(ctx(t), "deploy"), store.ErrConflict)
		if _, err := s.GetRole(ctx(t), "deploy"); err != nil {
			t.Errorf("role gone after refused delete: %v", err)
		}
		must(t, s.DeleteRolePolicy(ctx(t), "deploy", "p"))
		must(t, s.DeleteRole(ctx(t), "deploy"))
	},
	"DeleteConflictAttachedPolicy": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		mp := managed("ReadOnly")
		must(t, s.CreatePolicy(ctx(t), mp))
		must(t, s.AttachRolePolicy(ctx(t), "deploy", mp.ARN))
		wantErr(t, "delete", s.DeleteRole(ctx(t), "deploy"), store.ErrConflict)
		must(t, s.DetachRolePolicy(ctx(t), "deploy", mp.ARN))
		must(t, s.DeleteRole(ctx(t), "deploy"))
	},
}

var rolePolicyTests = map[string]func(t *testing.T, s store.Store){
	"PutGet": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("Deploy")))
		p := store.RolePolicy{RoleName: "Deploy", Name: "s3", Document: `{"Version":"2012-10-17"}`}
		must(t, s.PutRolePolicy(ctx(t), p))
		got, err := s.GetRolePolicy(ctx(t), "deploy", "s3")
		must(t, err)
		diff(t, "role policy", p, got)
	},
	"PutReplaces": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		must(t, s.PutRolePolicy(ctx(t), store.RolePolicy{RoleName: "deploy", Name: "s3", Document: "one"}))
		must(t, s.PutRolePolicy(ctx(t), store.RolePolicy{RoleName: "deploy", Name: "s3", Document: "two"}))
		got, err := s.GetRolePolicy(ctx(t), "deploy", "s3")
		must(t, err)
		if got.Document != "two" {
			t.Errorf("Document = %q, want %q", got.Document, "two")
		}
		list, err := s.ListRolePolicies(ctx(t), "deploy")
		must(t, err)
		if len(list) != 1 {
			t.Errorf("ListRolePolicies has %d entries, want 1", len(list))
		}
	},
	"PutMissingRole": func(t *testing.T, s store.Store) {
		err := s.PutRolePolicy(ctx(t), store.RolePolicy{RoleName: "nope", Name: "s3", Document: "{}"})
		wantErr(t, "put", err, store.ErrNotFound)
	},
	"GetMissing": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		_, err := s.GetRolePolicy(ctx(t), "deploy", "nope")
		wantErr(t, "missing policy", err, store.ErrNotFound)
		_, err = s.GetRolePolicy(ctx(t), "nope", "nope")
		wantErr(t, "missing role", err, store.ErrNotFound)
	},
	"ListOrderedByName": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		must(t, s.CreateRole(ctx(t), role("other")))
		must(t, s.PutRolePolicy(ctx(t), store.RolePolicy{RoleName: "other", Name: "a", Document: "{}"}))
		for _, n := range []string{"c", "a", "b"} {
			must(t, s.PutRolePolicy(ctx(t), store.RolePolicy{RoleName: "deploy", Name: n, Document: "doc " + n}))
		}
		got, err := s.ListRolePolicies(ctx(t), "DEPLOY")
		must(t, err)
		want := []store.RolePolicy{
			{RoleName: "deploy", Name: "a", Document: "doc a"},
			{RoleName: "deploy", Name: "b", Document: "doc b"},
			{RoleName: "deploy", Name: "c", Document: "doc c"},
		}
		diff(t, "role policies", want, got)
		_, err = s.ListRolePolicies(ctx(t), "nope")
		wantErr(t, "list for missing role", err, store.ErrNotFound)
	},
	"Delete": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		must(t, s.PutRolePolicy(ctx(t), store.RolePolicy{RoleName: "deploy", Name: "s3", Document: "{}"}))
		must(t, s.DeleteRolePolicy(ctx(t), "Deploy", "s3"))
		_, err := s.GetRolePolicy(ctx(t), "deploy", "s3")
		wantErr(t, "get after delete", err, store.ErrNotFound)
		wantErr(t, "second delete", s.DeleteRolePolicy(ctx(t), "deploy", "s3"), store.ErrNotFound)
		wantErr(t, "delete on missing role", s.DeleteRolePolicy(ctx(t), "nope", "s3"), store.ErrNotFound)
	},
}

var managedPolicyTests = map[string]func(t *testing.T, s store.Store){
	"CreateGetRoundTrip": func(t *testing.T, s store.Store) {
		p := managed("ReadOnly")
		must(t, s.CreatePolicy(ctx(t), p))
		got, err := s.GetPolicy(ctx(t), p.ARN)
		must(t, err)
		diff(t, "policy", p, got)
		utc(t, "policy", got.CreateDate, got.UpdateDate)
	},
	"CreateWithoutVersions": func(t *testing.T, s store.Store) {
		p := managed("Legacy")
		p.DefaultVersion, p.Versions, p.LastVersion = "", nil, 0
		must(t, s.CreatePolicy(ctx(t), p))
		got, err := s.GetPolicy(ctx(t), p.ARN)
		must(t, err)
		p.DefaultVersion, p.LastVersion = "v1", 1
		p.Versions = []store.PolicyVersion{{ID: "v1", Document: p.Document, CreateDate: p.CreateDate}}
		diff(t, "policy created without versions", p, got)
	},
	"Update": func(t *testing.T, s store.Store) {
		p := managed("ReadOnly")
		must(t, s.CreatePolicy(ctx(t), p))
		v0, err := s.Version(ctx(t))
		must(t, err)
		v3 := store.PolicyVersion{ID: "v4", Document: `{"Version":"2012-10-17","Statement":[]}`, CreateDate: base.Add(2 * time.Hour)}
		must(t, s.UpdatePolicy(ctx(t), p.ARN, func(mp *store.ManagedPolicy) error {
			mp.Versions = append(mp.Versions[1:], v3)
			mp.DefaultVersion, mp.Document, mp.LastVersion = "v4", v3.Document, 4
			mp.Tags = []store.Tag{{Key: "team", Value: "ci"}}
			mp.UpdateDate = v3.CreateDate
			return nil
		}))
		got, err := s.GetPolicy(ctx(t), p.ARN)
		must(t, err)
		want := p
		want.Versions = []store.PolicyVersion{p.Versions[1], v3}
		want.DefaultVersion, want.Document, want.LastVersion = "v4", v3.Document, 4
		want.Tags = []store.Tag{{Key: "team", Value: "ci"}}
		want.UpdateDate = v3.CreateDate
		diff(t, "updated policy", want, got)
		if v1, err := s.Version(ctx(t)); err != nil || v1 <= v0 {
			t.Errorf("Version after UpdatePolicy = %d (%v), want > %d", v1, err, v0)
		}

		err = s.UpdatePolicy(ctx(t), p.ARN, func(mp *store.ManagedPolicy) error {
			mp.Document = "changed"
			return errFn
		})
		if !errors.Is(err, errFn) {
			t.Errorf("UpdatePolicy with failing fn = %v, want errFn", err)
		}
		got, err = s.GetPolicy(ctx(t), p.ARN)
		must(t, err)
		diff(t, "policy after failed update", want, got)
		wantErr(t, "update missing", s.UpdatePolicy(ctx(t), p.ARN+"x", func(*store.ManagedPolicy) error { return nil }), store.ErrNotFound)
	},
	"CreateDuplicate": func(t *testing.T, s store.Store) {
		must(t, s.CreatePolicy(ctx(t), managed("ReadOnly")))
		wantErr(t, "second create", s.CreatePolicy(ctx(t), managed("ReadOnly")), store.ErrAlreadyExists)
	},
	"GetMissing": func(t *testing.T, s store.Store) {
		_, err := s.GetPolicy(ctx(t), "arn:aws:iam::000000000000:policy/nope")
		wantErr(t, "get", err, store.ErrNotFound)
	},
	"ListOrderedByName": func(t *testing.T, s store.Store) {
		for _, n := range []string{"gamma", "alpha", "beta"} {
			must(t, s.CreatePolicy(ctx(t), managed(n)))
		}
		got, err := s.ListPolicies(ctx(t))
		must(t, err)
		diff(t, "policies", []store.ManagedPolicy{managed("alpha"), managed("beta"), managed("gamma")}, got)
	},
	"AttachListCount": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("Deploy")))
		must(t, s.CreateRole(ctx(t), role("other")))
		for _, n := range []string{"zeta", "alpha", "unused"} {
			must(t, s.CreatePolicy(ctx(t), managed(n)))
		}
		zeta, alpha := managed("zeta").ARN, managed("alpha").ARN
		must(t, s.AttachRolePolicy(ctx(t), "deploy", zeta))
		must(t, s.AttachRolePolicy(ctx(t), "DEPLOY", alpha))
		must(t, s.AttachRolePolicy(ctx(t), "Deploy", alpha)) // idempotent
		must(t, s.AttachRolePolicy(ctx(t), "other", zeta))

		got, err := s.ListAttachedRolePolicies(ctx(t), "deploy")
		must(t, err)
		wantAlpha, wantZeta := managed("alpha"), managed("zeta")
		wantAlpha.AttachmentCount, wantZeta.AttachmentCount = 1, 2
		diff(t, "attached", []store.ManagedPolicy{wantAlpha, wantZeta}, got)

		p, err := s.GetPolicy(ctx(t), zeta)
		must(t, err)
		if p.AttachmentCount != 2 {
			t.Errorf("GetPolicy AttachmentCount = %d, want 2", p.AttachmentCount)
		}
		all, err := s.ListPolicies(ctx(t))
		must(t, err)
		counts := map[string]int{}
		for _, p := range all {
			counts[p.Name] = p.AttachmentCount
		}
		diff(t, "ListPolicies counts", map[string]int{"alpha": 1, "zeta": 2, "unused": 0}, counts)

		must(t, s.DetachRolePolicy(ctx(t), "other", zeta))
		p, err = s.GetPolicy(ctx(t), zeta)
		must(t, err)
		if p.AttachmentCount != 1 {
			t.Errorf("AttachmentCount after detach = %d, want 1", p.AttachmentCount)
		}
		none, err := s.ListAttachedRolePolicies(ctx(t), "other")
		must(t, err)
		if len(none) != 0 {
			t.Errorf("other still has %d attached policies", len(none))
		}
		_, err = s.ListAttachedRolePolicies(ctx(t), "nope")
		wantErr(t, "list for missing role", err, store.ErrNotFound)
	},
	"AttachMissing": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		mp := managed("ReadOnly")
		must(t, s.CreatePolicy(ctx(t), mp))
		wantErr(t, "missing role", s.AttachRolePolicy(ctx(t), "nope", mp.ARN), store.ErrNotFound)
		wantErr(t, "missing policy", s.AttachRolePolicy(ctx(t), "deploy", mp.ARN+"x"), store.ErrNotFound)
	},
	"DetachNotAttached": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		mp := managed("ReadOnly")
		must(t, s.CreatePolicy(ctx(t), mp))
		wantErr(t, "detach", s.DetachRolePolicy(ctx(t), "deploy", mp.ARN), store.ErrNotFound)
		wantErr(t, "detach missing role", s.DetachRolePolicy(ctx(t), "nope", mp.ARN), store.ErrNotFound)
	},
	"DeleteConflictWhileAttached": func(t *testing.T, s store.Store) {
		must(t, s.CreateRole(ctx(t), role("deploy")))
		mp := managed("ReadOnly")
		must(t, s.CreatePolicy(ctx(t), mp))
		must(t, s.AttachRolePolicy(ctx(t), "deploy", mp.ARN))
		wantErr(t, "delete attached", s.DeletePolicy(ctx(t), mp.ARN), store.ErrConflict)
		must(t, s.DetachRolePolicy(ctx(t), "deploy", mp.ARN))
		must(t, s.DeletePolicy(ctx(t), mp.ARN))
		_, err := s.GetPolicy(ctx(t), mp.ARN)
		wantErr(t, "get after delete", err, store.ErrNotFound)
		wantErr(t, "second delete", s.DeletePolicy(ctx(t), mp.ARN), store.ErrNotFound)
	},
}
