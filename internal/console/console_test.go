package console

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/sts"
	"github.com/keylessci/keyless/internal/testkit"
)

const account = "123456789012"

// fakeAuth knows one access key (root) and one session (key "ASIA…" with
// token "tok"); allow lists the actions a session may perform.
type fakeAuth struct {
	allow      map[string]bool
	revoked    bool
	authorized []string // "action resource", in order
}

var errDenied = awserr.New(awserr.CodeAccessDenied, http.StatusForbidden, "User: x is not authorized to perform: y")

func (a *fakeAuth) caller(id, token string) (*identity.Caller, error) {
	switch {
	case id == "AKIAROOT" && token == "":
		return &identity.Caller{Kind: identity.Root, ARN: arn.Root(account)}, nil
	case id == "ASIASESSION" && token == "tok" && !a.revoked:
		return &identity.Caller{Kind: identity.RoleSession, ARN: "arn:aws:sts::123456789012:assumed-role/r/s"}, nil
	}
	return nil, awserr.New(awserr.CodeInvalidClientTokenID, http.StatusForbidden, "The security token included in the request is invalid.")
}

func (a *fakeAuth) Login(_ *http.Request, id, secret, token string) (*identity.Caller, error) {
	c, err := a.caller(id, token)
	if err != nil || secret != "secret" {
		return nil, errors.Join(err, errors.New("bad secret"))
	}
	return c, nil
}

func (a *fakeAuth) Resume(_ context.Context, id, token string) (*identity.Caller, error) {
	return a.caller(id, token)
}

func (a *fakeAuth) Authorize(_ *http.Request, c *identity.Caller, action, resource string) error {
	a.authorized = append(a.authorized, action+" "+resource)
	if c.Is(identity.Root) || a.allow[action] {
		return nil
	}
	return errDenied
}

func (a *fakeAuth) Allowed(r *http.Request, c *identity.Caller, action, resource string) bool {
	return c.Is(identity.Root) || a.allow[action]
}

// fakeData serves fixed records; the decision's subject is a script.
type fakeData struct{ simulated []sts.SimulateInput }

const xss = `<img src=x onerror=alert(1)><script>alert(2)</script>`

var trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/ci.example.com"},` +
	`"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"ci.example.com:sub":"<b>repo</b>"}}}]}`

func (fakeData) Issuers(context.Context) ([]issuer.IssuerView, error) {
	return []issuer.IssuerView{{ID: "org-1", Profile: "circleci", URL: "https://oidc.circleci.com/org/org-1"}}, nil
}
func (fakeData) Providers(context.Context) ([]store.Provider, error) {
	return []store.Provider{{URL: "ci.example.com", ClientIDs: []string{"sts.amazonaws.com"}}}, nil
}
func (fakeData) Roles(context.Context) ([]store.Role, error) {
	return []store.Role{{Name: "deploy", Path: "/", TrustPolicy: trust}}, nil
}
func (fakeData) Role(_ context.Context, name string) (store.Role, []string, error) {
	if name != "deploy" {
		return store.Role{}, nil, store.ErrNotFound
	}
	return store.Role{Name: "deploy", Path: "/", TrustPolicy: trust}, nil, nil
}
func (fakeData) record() decision.Record {
	tr := policy.Trace{Decision: policy.ImplicitDeny, ClosestMiss: "sub is " + xss, ClosestStatement: "trust policy, statement 1",
		Policies: []policy.PolicyTrace{{Name: "trust policy", Decision: policy.ImplicitDeny, Statements: []policy.StatementTrace{{
			Index: 1, Effect: "Allow", Principal: policy.Matched, Action: policy.Matched, Resource: policy.NotApplicable,
			Conditions: []policy.ConditionTrace{{Operator: "StringEquals", Key: "ci.example.com:sub", PolicyValues: []string{"repo"}, RequestValues: []string{xss}}}}}}}}
	return decision.Record{ID: "d1", Time: time.Unix(1700000000, 0), Action: "sts:AssumeRoleWithWebIdentity",
		RoleARN: "arn:aws:iam::123456789012:role/deploy", Subject: xss, Decision: decision.Deny, ErrorCode: "AccessDenied",
		Reason: "policy denied sts:AssumeRoleWithWebIdentity", Claims: map[string]any{"sub": xss, "aud": []any{"a"}}, Trace: &tr}
}
func (d fakeData) Decisions(context.Context, store.DecisionFilter) ([]decision.Record, error) {
	return []decision.Record{d.record()}, nil
}
func (d fakeData) Decision(_ context.Context, id string) (decision.Record, error) {
	if id != "d1" {
		return decision.Record{}, store.ErrNotFound
	}
	return d.record(), nil
}
func (d *fakeData) Simulate(_ context.Context, in sts.SimulateInput) (decision.Record, error) {
	d.simulated = append(d.simulated, in)
	return decision.Record{Decision: decision.Allow, Action: "sts:AssumeRoleWithWebIdentity", RoleARN: in.RoleARN}, nil
}
func (fakeData) Mint(context.Context, string, ciclaims.Params) (string, error) { return "minted", nil }

type harness struct {
	t     *testing.T
	c     *Console
	auth  *fakeAuth
	data  *fakeData
	clock *testkit.Clock
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, auth: &fakeAuth{allow: map[string]bool{}}, data: &fakeData{}, clock: testkit.NewClock(time.Time{})}
	c, err := New(Config{Account: account, Auth: h.auth, Data: h.data, Now: h.clock.Now, MaxSessions: 3})
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	return h
}

// do serves one request; cookies are sent as given.
func (h *harness) do(method, path string, form url.Values, cookies ...*http.Cookie) *http.Response {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.c.ServeHTTP(w, r)
	return w.Result()
}

func cookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func bodyOf(res *http.Response) string {
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login signs in and returns the session cookie and the page's CSRF token.
func (h *harness) login(id, token string) (*http.Cookie, string) {
	h.t.Helper()
	form := h.do("GET", Prefix+"login", nil)
	lc := cookie(form, loginCookie)
	res := h.do("POST", Prefix+"login", url.Values{"csrf": {lc.Value}, "access_key_id": {id}, "secret_access_key": {"secret"},
		"session_token": {token}, "next": {Prefix + "roles"}}, lc)
	sc := cookie(res, sessionCookie)
	if res.StatusCode != http.StatusSeeOther || sc == nil {
		h.t.Fatalf("login: %d %s", res.StatusCode, bodyOf(res))
	}
	page := h.do("GET", Prefix, nil, sc)
	m := csrfField.FindStringSubmatch(bodyOf(page))
	if m == nil {
		h.t.Fatal("no CSRF token on the overview")
	}
	return sc, m[1]
}

func TestLogin(t *testing.T) {
	h := newHarness(t)
	form := h.do("GET", Prefix+"login", nil)
	lc := cookie(form, loginCookie)
	if lc == nil || !lc.HttpOnly || lc.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login cookie = %+v", lc)
	}
	tests := []struct {
		name    string
		form    url.Values
		cookies []*http.Cookie
		status  int
	}{
		{"no login cookie", url.Values{"csrf": {lc.Value}, "access_key_id": {"AKIAROOT"}, "secret_access_key": {"secret"}}, nil, http.StatusForbidden},
		{"wrong CSRF token", url.Values{"csrf": {"x"}, "access_key_id": {"AKIAROOT"}, "secret_access_key": {"secret"}}, []*http.Cookie{lc}, http.StatusForbidden},
		{"wrong secret", url.Values{"csrf": {lc.Value}, "access_key_id": {"AKIAROOT"}, "secret_access_key": {"nope"}}, []*http.Cookie{lc}, http.StatusForbidden},
		{"unknown key", url.Values{"csrf": {lc.Value}, "access_key_id": {"AKIAX"}, "secret_access_key": {"secret"}}, []*http.Cookie{lc}, http.StatusForbidden},
		{"session without ConsoleLogin", url.Values{"csrf": {lc.Value}, "access_key_id": {"ASIASESSION"}, "secret_access_key": {"secret"}, "session_token": {"tok"}}, []*http.Cookie{lc}, http.StatusForbidden},
		{"root", url.Values{"csrf": {lc.Value}, "access_key_id": {"AKIAROOT"}, "secret_access_key": {"secret"}, "next": {"//evil.example/x"}}, []*http.Cookie{lc}, http.StatusSeeOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := h.do("POST", Prefix+"login", tc.form, tc.cookies...)
			body := bodyOf(res)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			sc := cookie(res, sessionCookie)
			if tc.status != http.StatusSeeOther {
				if sc != nil {
					t.Error("a refused login set a session cookie")
				}
				if strings.Contains(body, "bad secret") || strings.Contains(body, "InvalidClientTokenId") {
					t.Errorf("the refusal says why: %s", body)
				}
				return
			}
			if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Path != Prefix || sc.Secure {
				t.Errorf("session cookie = %+v", sc)
			}
			if loc := res.Header.Get("Location"); loc != Prefix {
				t.Errorf("redirect to %q: an off-site next must go to the overview", loc)
			}
		})
	}
}

func TestSecureCookieUnderTLS(t *testing.T) {
	h := newHarness(t)
	r := httptest.NewRequest("GET", Prefix+"login", nil)
	r.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	h.c.ServeHTTP(w, r)
	res := w.Result()
	if c := cookie(res, loginCookie); c == nil || !c.Secure {
		t.Errorf("login cookie under TLS = %+v, want Secure", c)
	}
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS under TLS")
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	sc, _ := h.login("AKIAROOT", "")
	for _, p := range []string{"login", "", "roles/deploy", "decisions/d1", "static/console.js", "nope"} {
		res := h.do("GET", Prefix+p, nil, sc)
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", p, res.Header)
		}
		if body := bodyOf(res); strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "onclick") {
			t.Errorf("%s: inline script or style in the page", p)
		}
	}
}

// Every value from a token is text: the subject is a script in the fake
// decision, its claims, the closest miss and the condition values.
func TestClaimsAreEscaped(t *testing.T) {
	h := newHarness(t)
	sc, _ := h.login("AKIAROOT", "")
	for _, p := range []string{"", "decisions", "decisions/d1", "roles/deploy"} {
		body := bodyOf(h.do("GET", Prefix+p, nil, sc))
		if strings.Contains(body, "<img") || strings.Contains(body, "<script>alert") || strings.Contains(body, "<b>repo") {
			t.Errorf("%s renders markup from data:\n%s", p, body)
		}
		if p != "roles/deploy" && !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("%s does not show the subject as text", p)
		}
	}
	feed := bodyOf(h.do("GET", Prefix+"feed", nil, sc))
	if strings.Contains(feed, "<img") {
		t.Errorf("feed JSON carries raw markup (it must be escaped): %s", feed)
	}
}

func TestSignedOut(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", Prefix, http.StatusSeeOther},
		{"GET", Prefix + "decisions/d1", http.StatusSeeOther},
		{"GET", Prefix + "feed", http.StatusUnauthorized},
		{"POST", Prefix + "logout", http.StatusUnauthorized},
		{"POST", Prefix + "playground", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			res := h.do(tc.method, tc.path, url.Values{}, &http.Cookie{Name: sessionCookie, Value: "forged"})
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status == http.StatusSeeOther && !strings.HasPrefix(res.Header.Get("Location"), Prefix+"login?next=") {
				t.Errorf("Location %q", res.Header.Get("Location"))
			}
			if c := cookie(res, sessionCookie); c == nil || c.MaxAge >= 0 {
				t.Errorf("an unknown session cookie was not cleared: %+v", c)
			}
		})
	}
	// Without a cookie there is nothing to clear: a cross-site request
	// (which carries none) must not clear the visitor's cookie.
	if c := cookie(h.do("POST", Prefix+"logout", url.Values{}), sessionCookie); c != nil {
		t.Errorf("a request without a session cookie cleared it: %+v", c)
	}
}

func TestCSRF(t *testing.T) {
	h := newHarness(t)
	sc, csrf := h.login("AKIAROOT", "")
	tests := []struct {
		name    string
		form    url.Values
		headers map[string]string
		status  int
	}{
		{"no token", url.Values{}, nil, http.StatusForbidden},
		{"wrong token", url.Values{"csrf": {"x" + csrf}}, nil, http.StatusForbidden},
		{"cross-site fetch metadata", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site but another origin", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"foreign Origin", url.Values{"csrf": {csrf}}, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"opaque Origin", url.Values{"csrf": {csrf}}, map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"the session's token", url.Values{"csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}, http.StatusSeeOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", Prefix+"logout", strings.NewReader(tc.form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			r.AddCookie(sc)
			w := httptest.NewRecorder()
			h.c.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
		})
	}
	// The last case signed out: the cookie opens nothing any more.
	if res := h.do("GET", Prefix, nil, sc); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout the session still opens the overview: %d", res.StatusCode)
	}
}

func TestSessionLifetime(t *testing.T) {
	tests := []struct {
		name string
		// visits: times requests of path, every apart; then idle, then the
		// final request of path, which must answer want.
		every       time.Duration
		times       int
		path        string
		idle        time.Duration
		revoke      bool
		want        int
		wantVisits  int // each visit's status (0: not checked)
		sessionCred bool
	}{
		{name: "used within the idle timeout", every: 14 * time.Minute, times: 2, path: "", wantVisits: http.StatusOK, want: http.StatusOK},
		{name: "idle timeout", every: 14 * time.Minute, times: 2, path: "", idle: 15 * time.Minute, want: http.StatusSeeOther},
		{name: "the live feed does not keep a session alive", every: time.Minute, times: 20, path: "feed", want: http.StatusUnauthorized},
		{name: "maximum age", every: 10 * time.Minute, times: 12 * 6, path: "", want: http.StatusSeeOther},
		{name: "revoked credentials end the session", sessionCred: true, revoke: true, path: "", want: http.StatusSeeOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			id, token := "AKIAROOT", ""
			if tc.sessionCred {
				h.auth.allow[ActionLogin] = true
				id, token = "ASIASESSION", "tok"
			}
			sc, _ := h.login(id, token)
			for i := range tc.times {
				h.clock.Advance(tc.every)
				res := h.do("GET", Prefix+tc.path, nil, sc)
				if tc.wantVisits != 0 && res.StatusCode != tc.wantVisits {
					t.Fatalf("visit %d: status %d, want %d", i+1, res.StatusCode, tc.wantVisits)
				}
			}
			h.clock.Advance(tc.idle)
			h.auth.revoked = tc.revoke
			if res := h.do("GET", Prefix+tc.path, nil, sc); res.StatusCode != tc.want {
				t.Errorf("final request: status %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
	t.Run("the table is capped", func(t *testing.T) {
		h := newHarness(t)
		first, _ := h.login("AKIAROOT", "")
		for range 3 {
			h.clock.Advance(time.Second)
			h.login("AKIAROOT", "")
		}
		if res := h.do("GET", Prefix, nil, first); res.StatusCode != http.StatusSeeOther {
			t.Errorf("the least recently used session survived the cap: %d", res.StatusCode)
		}
	})
}

// Every page is authorized as its route says, before its handler runs;
// the optional parts of a page need their own action.
func TestAuthorization(t *testing.T) {
	h := newHarness(t)
	h.auth.allow[ActionLogin] = true
	sc, csrf := h.login("ASIASESSION", "tok")
	tests := []struct {
		method, path string
		form         url.Values
		action       string
		resource     string
	}{
		{"GET", Prefix, nil, ActionLogin, "arn:aws:keyless::123456789012:console"},
		{"GET", Prefix + "issuers", nil, "keyless:ListIssuers", "arn:aws:keyless::123456789012:issuer/*"},
		{"GET", Prefix + "providers", nil, "iam:ListOpenIDConnectProviders", "*"},
		{"GET", Prefix + "roles", nil, "iam:ListRoles", "*"},
		{"GET", Prefix + "roles/deploy", nil, "iam:GetRole", "arn:aws:iam::123456789012:role/deploy"},
		{"GET", Prefix + "decisions", nil, "keyless:ListDecisions", "arn:aws:keyless::123456789012:decision/*"},
		{"GET", Prefix + "feed", nil, "keyless:ListDecisions", "arn:aws:keyless::123456789012:decision/*"},
		{"GET", Prefix + "decisions/d1", nil, "keyless:GetDecision", "arn:aws:keyless::123456789012:decision/d1"},
		{"POST", Prefix + "playground", url.Values{"csrf": {csrf}, "role": {"deploy"}, "token": {"t.t.t"}}, "iam:GetRole", "arn:aws:iam::123456789012:role/deploy"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			h.auth.authorized = nil
			delete(h.auth.allow, tc.action)
			if tc.action == ActionLogin {
				h.auth.allow[ActionLogin] = true
			} else {
				res := h.do(tc.method, tc.path, tc.form, sc)
				if res.StatusCode != http.StatusForbidden || !strings.Contains(bodyOf(res), "Not allowed") {
					t.Fatalf("without %s: status %d", tc.action, res.StatusCode)
				}
				if len(h.data.simulated) != 0 {
					t.Fatal("the playground ran for a visitor who may not read the role")
				}
				h.auth.allow[tc.action] = true
			}
			h.auth.authorized = nil
			res := h.do(tc.method, tc.path, tc.form, sc)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("with %s: status %d: %s", tc.action, res.StatusCode, bodyOf(res))
			}
			if len(h.auth.authorized) == 0 || h.auth.authorized[0] != tc.action+" "+tc.resource {
				t.Errorf("authorized %v, want %s %s first", h.auth.authorized, tc.action, tc.resource)
			}
		})
	}
	if len(h.data.simulated) != 1 || h.data.simulated[0].RoleARN != "arn:aws:iam::123456789012:role/deploy" {
		t.Errorf("simulated %+v", h.data.simulated)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                             Prefix,
		Prefix + "roles?x=1":           Prefix + "roles?x=1",
		"https://evil.example/":        Prefix,
		"//evil.example" + Prefix:      Prefix,
		Prefix + "\\evil":              Prefix,
		Prefix + "login":               Prefix,
		"/_keyless/console/../../x":    Prefix,
		"/elsewhere":                   Prefix,
		"javascript:alert(1)" + Prefix: Prefix,
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadablePolicy(t *testing.T) {
	st, err := readablePolicy(`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["a","b"]},"NotAction":"sts:*",
		"Condition":{"Bool":{"aws:SecureTransport":false},"StringLike":{"k":["x*","y"]}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || !st[0].NotPrinc || !st[0].NotAction || strings.Join(st[0].Principal, ",") != "AWS: a,AWS: b" ||
		len(st[0].Conditions) != 2 || st[0].Conditions[0].Values[0] != "false" || st[0].Conditions[1].Key != "k" {
		t.Errorf("readable = %+v", st)
	}
	if _, err := readablePolicy("not json"); err == nil {
		t.Error("a broken document laid out")
	}
}

func TestMinuteStats(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 30, 30, 0, time.UTC)
	rec := func(ago time.Duration, verdict string) decision.Record {
		return decision.Record{Time: now.Add(-ago), Decision: verdict}
	}
	st := minuteStats([]decision.Record{rec(0, decision.Allow), rec(10*time.Second, decision.Deny), rec(10*time.Second, decision.Allow),
		rec(59*time.Minute, decision.Deny), rec(61*time.Minute, decision.Allow)}, now)
	last, first := st.Minutes[59], st.Minutes[0]
	if st.Total != 5 || st.Denied != 2 || last.Allow != 2 || last.Deny != 1 || first.Deny != 1 || st.Max != 3 {
		t.Fatalf("stats = total %d denied %d, last minute %+v, first %+v, max %d", st.Total, st.Denied, last, first, st.Max)
	}
	if last.Y != 60-56 || last.DenyY != 60-56/3 || st.Minutes[30].Y != 60 {
		t.Errorf("bars: last %+v, an empty minute %+v", last, st.Minutes[30])
	}
}

func TestPlaygroundNeedsARole(t *testing.T) {
	h := newHarness(t)
	sc, csrf := h.login("AKIAROOT", "")
	res := h.do("POST", Prefix+"playground", url.Values{"csrf": {csrf}, "role": {""}, "token": {"a.b.c"}}, sc)
	if body := bodyOf(res); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Pick the role") {
		t.Errorf("status %d: %s", res.StatusCode, body)
	}
	if len(h.data.simulated) != 0 {
		t.Error("simulated without a role")
	}
}
