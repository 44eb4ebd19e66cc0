package storetest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/store"
)

var issuerTests = map[string]func(t *testing.T, s store.Store){
	"CreateGetRoundTrip": func(t *testing.T, s store.Store) {
		is := issuer("org-1")
		must(t, s.CreateIssuer(ctx(t), is))
		got, err := s.GetIssuer(ctx(t), "org-1")
		must(t, err)
		diff(t, "issuer", is, got)
		utc(t, "issuer", got.CreateDate)
		got, err = s.GetIssuerByURL(ctx(t), is.URL)
		must(t, err)
		diff(t, "issuer by URL", is, got)
	},
	"CreateDuplicate": func(t *testing.T, s store.Store) {
		must(t, s.CreateIssuer(ctx(t), issuer("org-1")))
		sameID := issuer("org-1")
		sameID.URL = "https://elsewhere.example/ci"
		wantErr(t, "same ID", s.CreateIssuer(ctx(t), sameID), store.ErrAlreadyExists)
		sameURL := issuer("org-2")
		sameURL.URL = issuer("org-1").URL
		wantErr(t, "same URL", s.CreateIssuer(ctx(t), sameURL), store.ErrAlreadyExists)
	},
	"GetMissing": func(t *testing.T, s store.Store) {
		_, err := s.GetIssuer(ctx(t), "nope")
		wantErr(t, "by id", err, store.ErrNotFound)
		_, err = s.GetIssuerByURL(ctx(t), "https://nope.example")
		wantErr(t, "by url", err, store.ErrNotFound)
	},
	"List": func(t *testing.T, s store.Store) {
		want := map[string]store.Issuer{}
		for _, id := range []string{"org-b", "org-a", "org-c"} {
			want[id] = issuer(id)
			must(t, s.CreateIssuer(ctx(t), issuer(id)))
		}
		list, err := s.ListIssuers(ctx(t))
		must(t, err)
		got := map[string]store.Issuer{}
		for _, is := range list {
			got[is.ID] = is
		}
		diff(t, "issuers", want, got)
	},
	"DeleteRemovesKeys": func(t *testing.T, s store.Store) {
		must(t, s.CreateIssuer(ctx(t), issuer("org-1")))
		must(t, s.CreateIssuer(ctx(t), issuer("org-2")))
		must(t, s.AddSigningKey(ctx(t), signingKey("org-1", "k1", base)))
		must(t, s.AddSigningKey(ctx(t), signingKey("org-2", "k1", base)))
		must(t, s.DeleteIssuer(ctx(t), "org-1"))
		_, err := s.GetIssuer(ctx(t), "org-1")
		wantErr(t, "get after delete", err, store.ErrNotFound)
		wantErr(t, "second delete", s.DeleteIssuer(ctx(t), "org-1"), store.ErrNotFound)

		must(t, s.CreateIssuer(ctx(t), issuer("org-1")))
		keys, err := s.ListSigningKeys(ctx(t), "org-1")
		must(t, err)
		if len(keys) != 0 {
			t.Errorf("recreated issuer inherited %d keys", len(keys))
		}
		keys, err = s.ListSigningKeys(ctx(t), "org-2")
		must(t, err)
		if len(keys) != 1 {
			t.Errorf("other issuer has %d keys, want 1", len(keys))
		}
	},
}

var signingKeyTests = map[string]func(t *testing.T, s store.Store){
	"AddListOrderedByCreatedAt": func(t *testing.T, s store.Store) {
		must(t, s.CreateIssuer(ctx(t), issuer("org-1")))
		k3 := signingKey("org-1", "a-newest", base.Add(2*time.Hour))
		k1 := signingKey("org-1", "c-oldest", base)
		k2 := signingKey("org-1", "b-middle", base.Add(time.Hour))
		k1.SignUntil = base.Add(time.Hour)
		k1.PublishEnd = base.Add(3 * time.Hour)
		for _, k := range []store.SigningKey{k3, k1, k2} {
			must(t, s.AddSigningKey(ctx(t), k))
		}
		got, err := s.ListSigningKeys(ctx(t), "org-1")
		must(t, err)
		diff(t, "keys", []store.SigningKey{k1, k2, k3}, got)
		for _, k := range got {
			utc(t, k.KID, k.CreatedAt, k.SignFrom, k.SignUntil, k.PublishEnd)
		}
		if len(got) == 3 && !(got[1].SignUntil.IsZero() && got[1].PublishEnd.IsZero()) {
			t.Errorf("zero times came back non-zero: %v %v", got[1].SignUntil, got[1].PublishEnd)
		}
	},
	"AddDuplicateKID": func(t *testing.T, s store.Store) {
		must(t, s.CreateIssuer(ctx(t), issuer("org-1")))
		must(t, s.AddSigningKey(ctx(t), signingKey("org-1", "k1", base)))
		wantErr(t, "second add", s.AddSigningKey(ctx(t), signingKey("org-1", "k1", base)), store.ErrAlreadyExists)
	},
	"AddMissingIssuer": func(t *testing.T, s store.Store) {
		wantErr(t, "add", s.AddSigningKey(ctx(t), signingKey("nope", "k1", base)), store.ErrNotFound)
	},
	"Update": func(t *testing.T, s store.Store) {
		must(t, s.CreateIssuer(ctx(t), issuer("org-1")))
		must(t, s.AddSigningKey(ctx(t), signingKey("org-1", "k1", base)))
		retire := base.Add(24 * time.Hour)
		must(t, s.UpdateSigningKey(ctx(t), "org-1", "k1", func(k *store.SigningKey) error {
			k.SignUntil = retire
			k.PublishEnd = retire.Add(time.Hour)
			return nil
		}))
		got, err := s.ListSigningKeys(ctx(t), "org-1")
		must(t, err)
		want := signingKey("org-1", "k1", base)
		want.SignUntil = retire
		want.PublishEnd = retire.Add(time.Hour)
		diff(t, "updated key", []store.SigningKey{want}, got)
	},
	"UpdateFnErrorWritesNothing": func(t *testing.T, s store.Store) {
		must(t, s.CreateIssuer(ctx(t), issuer("org-1")))
		must(t, s.AddSigningKey(ctx(t), signingKey("org-1", "k1", base)))
		err := s.UpdateSigningKey(ctx(t), "org-1", "k1", func(k *store.SigningKey) error {
			k.SignUntil = base
			return errFn
		})
		wantErr(t, "update", err, errFn)
		got, err := s.ListSigningKeys(ctx(t), "org-1")
		must(t, err)
		diff(t, "key after refused update", []store.SigningKey{signingKey("org-1", "k1", base)}, got)
	},
	"UpdateMissing": func(t *testing.T, s store.Store) {
		must(t, s.CreateIssuer(ctx(t), issuer("org-1")))
		noop := func(*store.SigningKey) error { return nil }
		wantErr(t, "missing key", s.UpdateSigningKey(ctx(t), "org-1", "nope", noop), store.ErrNotFound)
		wantErr(t, "missing issuer", s.UpdateSigningKey(ctx(t), "nope", "k1", noop), store.ErrNotFound)
	},
	"Delete": func(t *testing.T, s store.Store) {
		must(t, s.CreateIssuer(ctx(t), issuer("org-1")))
		must(t, s.AddSigningKey(ctx(t), signingKey("org-1", "k1", base)))
		must(t, s.AddSigningKey(ctx(t), signingKey("org-1", "k2", base.Add(time.Second))))
		must(t, s.DeleteSigningKey(ctx(t), "org-1", "k1"))
		got, err := s.ListSigningKeys(ctx(t), "org-1")
		must(t, err)
		diff(t, "keys after delete", []store.SigningKey{signingKey("org-1", "k2", base.Add(time.Second))}, got)
		wantErr(t, "second delete", s.DeleteSigningKey(ctx(t), "org-1", "k1"), store.ErrNotFound)
	},
}

var secretTests = map[string]func(t *testing.T, s store.Store){
	"DeleteThenCreateAgain": func(t *testing.T, s store.Store) {
		_, err := s.GetOrCreateSecret(ctx(t), "gone", []byte("old"))
		must(t, err)
		must(t, s.DeleteSecret(ctx(t), "gone"))
		_, err = s.GetSecret(ctx(t), "gone")
		wantErr(t, "get deleted", err, store.ErrNotFound)
		must(t, s.DeleteSecret(ctx(t), "gone")) // none left: still no error
		v, err := s.GetOrCreateSecret(ctx(t), "gone", []byte("new"))
		must(t, err)
		if string(v) != "new" {
			t.Errorf("after delete = %q, want %q", v, "new")
		}
	},
	"FirstWriterWins": func(t *testing.T, s store.Store) {
		v, err := s.GetOrCreateSecret(ctx(t), "seal", []byte("first"))
		must(t, err)
		if string(v) != "first" {
			t.Errorf("first call = %q, want %q", v, "first")
		}
		v, err = s.GetOrCreateSecret(ctx(t), "seal", []byte("second"))
		must(t, err)
		if string(v) != "first" {
			t.Errorf("second call = %q, want the first value", v)
		}
		other, err := s.GetOrCreateSecret(ctx(t), "other", []byte{0, 1, 2, 0xff})
		must(t, err)
		if !bytes.Equal(other, []byte{0, 1, 2, 0xff}) {
			t.Errorf("binary secret = %x", other)
		}
	},
	"ConcurrentCallersAgree": func(t *testing.T, s store.Store) {
		const n = 8
		got := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				got[i], errs[i] = s.GetOrCreateSecret(ctx(t), "seal", []byte{byte('a' + i)})
			})
		}
		wg.Wait()
		for i := range n {
			must(t, errs[i])
			if !bytes.Equal(got[i], got[0]) {
				t.Errorf("caller %d got %q, caller 0 got %q", i, got[i], got[0])
			}
		}
		again, err := s.GetOrCreateSecret(ctx(t), "seal", []byte("late"))
		must(t, err)
		if !bytes.Equal(again, got[0]) {
			t.Errorf("later call got %q, want %q", again, got[0])
		}
	},
}

var versionTests = map[string]func(t *testing.T, s store.Store){
	"IncreasesOnEveryWriteNotOnReads": func(t *testing.T, s store.Store) {
		mp := managed("ReadOnly")
		writes := []struct {
			name string
			do   func(context.Context) error
		}{
			{"CreateProvider", func(c context.Context) error { return s.CreateProvider(c, provider("a.example")) }},
			{"UpdateProvider", func(c context.Context) error {
				return s.UpdateProvider(c, "a.example", func(p *store.Provider) error { p.ClientIDs = nil; return nil })
			}},
			{"DeleteProvider", func(c context.Context) error { return s.DeleteProvider(c, "a.example") }},
			{"CreateRole", func(c context.Context) error { return s.CreateRole(c, role("deploy")) }},
			{"UpdateRole", func(c context.Context) error {
				return s.UpdateRole(c, "deploy", func(r *store.Role) error { r.Description = "d"; return nil })
			}},
			{"PutRolePolicy", func(c context.Context) error {
				return s.PutRolePolicy(c, store.RolePolicy{RoleName: "deploy", Name: "p", Document: "{}"})
			}},
			{"PutRolePolicyAgain", func(c context.Context) error {
				return s.PutRolePolicy(c, store.RolePolicy{RoleName: "deploy", Name: "p", Document: "{ }"})
			}},
			{"DeleteRolePolicy", func(c context.Context) error { return s.DeleteRolePolicy(c, "deploy", "p") }},
			{"CreatePolicy", func(c context.Context) error { return s.CreatePolicy(c, mp) }},
			{"AttachRolePolicy", func(c context.Context) error { return s.AttachRolePolicy(c, "deploy", mp.ARN) }},
			{"DetachRolePolicy", func(c context.Context) error { return s.DetachRolePolicy(c, "deploy", mp.ARN) }},
			{"DeletePolicy", func(c context.Context) error { return s.DeletePolicy(c, mp.ARN) }},
			{"DeleteRole", func(c context.Context) error { return s.DeleteRole(c, "deploy") }},
			{"CreateIssuer", func(c context.Context) error { return s.CreateIssuer(c, issuer("org-1")) }},
			{"AddSigningKey", func(c context.Context) error { return s.AddSigningKey(c, signingKey("org-1", "k1", base)) }},
			{"UpdateSigningKey", func(c context.Context) error {
				return s.UpdateSigningKey(c, "org-1", "k1", func(k *store.SigningKey) error { k.SignUntil = base; return nil })
			}},
			{"DeleteSigningKey", func(c context.Context) error { return s.DeleteSigningKey(c, "org-1", "k1") }},
			{"DeleteIssuer", func(c context.Context) error { return s.DeleteIssuer(c, "org-1") }},
			{"GetOrCreateSecret", func(c context.Context) error {
				_, err := s.GetOrCreateSecret(c, "seal", []byte("x"))
				return err
			}},
		}
		last, err := s.Version(ctx(t))
		must(t, err)
		for _, w := range writes {
			must(t, w.do(ctx(t)))
			v, err := s.Version(ctx(t))
			must(t, err)
			if v <= last {
				t.Errorf("after %s: Version = %d, want > %d", w.name, v, last)
			}
			last = v
		}

		// Leave something to read, then read everything.
		must(t, s.CreateRole(ctx(t), role("deploy")))
		must(t, s.CreateIssuer(ctx(t), issuer("org-1")))
		before, err := s.Version(ctx(t))
		must(t, err)
		c := ctx(t)
		_, _ = s.GetRole(c, "deploy")
		_, _ = s.ListRoles(c)
		_, _ = s.ListRolePolicies(c, "deploy")
		_, _ = s.ListAttachedRolePolicies(c, "deploy")
		_, _ = s.ListProviders(c)
		_, _ = s.ListPolicies(c)
		_, _ = s.GetIssuer(c, "org-1")
		_, _ = s.ListIssuers(c)
		_, _ = s.ListSigningKeys(c, "org-1")
		must(t, s.Ping(c))
		after, err := s.Version(ctx(t))
		must(t, err)
		if after != before {
			t.Errorf("reads moved Version from %d to %d", before, after)
		}
	},
}

var concurrencyTests = map[string]func(t *testing.T, s store.Store){
	"CreateRoleSameNameOneWins": func(t *testing.T, s store.Store) {
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := role("Deploy")
				r.Description = string(rune('a' + i))
				errs[i] = s.CreateRole(ctx(t), r)
			})
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Errorf("goroutine %d: error %v, want nil or ErrAlreadyExists", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d creates succeeded, want exactly 1", won)
		}
	},
	"UpdateRoleIsAtomic": func(t *testing.T, s store.Store) {
		r := role("counter")
		r.MaxSessionDuration = 0
		must(t, s.CreateRole(ctx(t), r))
		const n = 8
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				err := s.UpdateRole(ctx(t), "counter", func(r *store.Role) error {
					r.MaxSessionDuration++
					return nil
				})
				if err != nil {
					t.Errorf("update: %v", err)
				}
			})
		}
		wg.Wait()
		got, err := s.GetRole(ctx(t), "counter")
		must(t, err)
		if got.MaxSessionDuration != n {
			t.Errorf("after %d concurrent increments the counter is %d: lost updates", n, got.MaxSessionDuration)
		}
	},
}
