package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/identity"
)

// Cookie names. The session cookie holds only a random session id; the
// credentials stay on the server.
const (
	sessionCookie = "keyless_console"
	// loginCookie carries the login form's CSRF token (double submit):
	// there is no session to hold it yet.
	loginCookie = "keyless_console_login"
)

// maxForm caps a console form (the playground's token is the largest).
const maxForm = 64 << 10

// sessionState is one signed-in browser. It keeps the access key id and
// session token it signed in with (never the secret), so every request
// re-derives the caller: credentials that expire or are revoked end the
// session.
type sessionState struct {
	id           string
	accessKeyID  string
	sessionToken string
	csrf         string
	created      time.Time
	lastSeen     time.Time
}

// sessions is the table of live sessions, in this process's memory: a
// restart signs everybody out, and each replica has its own.
type sessions struct {
	mu      sync.Mutex
	byID    map[string]*sessionState
	now     func() time.Time
	idle    time.Duration
	maxAge  time.Duration
	maxSize int
}

func newSessions(now func() time.Time, idle, maxAge time.Duration, maxSize int) *sessions {
	return &sessions{byID: map[string]*sessionState{}, now: now, idle: idle, maxAge: maxAge, maxSize: maxSize}
}

// randomToken returns 256 random bits, base64url.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("console: crypto/rand failed: " + err.Error()) // cannot happen on a supported platform
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// start opens a session; expired ones are dropped first and, at the cap,
// the least recently used.
func (s *sessions) start(accessKeyID, sessionToken string) *sessionState {
	now := s.now()
	st := &sessionState{id: randomToken(), csrf: randomToken(), accessKeyID: accessKeyID, sessionToken: sessionToken,
		created: now, lastSeen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, o := range s.byID {
		if s.expired(o, now) {
			delete(s.byID, id)
		}
	}
	for len(s.byID) >= s.maxSize {
		var oldest *sessionState
		for _, o := range s.byID {
			if oldest == nil || o.lastSeen.Before(oldest.lastSeen) {
				oldest = o
			}
		}
		delete(s.byID, oldest.id)
	}
	s.byID[st.id] = st
	return st
}

func (s *sessions) expired(st *sessionState, now time.Time) bool {
	return now.Sub(st.lastSeen) >= s.idle || now.Sub(st.created) >= s.maxAge
}

// get returns the live session id names and, unless passive, marks it used.
func (s *sessions) get(id string, passive bool) (*sessionState, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	if s.expired(st, now) {
		delete(s.byID, id)
		return nil, false
	}
	if !passive {
		st.lastSeen = now
	}
	cp := *st
	return &cp, true
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// admit finds the request's session and its caller. Without one it
// answers itself (a page redirects to the login form, the feed says 401)
// and returns false.
func (c *Console) admit(w http.ResponseWriter, r *http.Request, passive bool) (*sessionState, *identity.Caller, bool) {
	var sess *sessionState
	ck, err := r.Cookie(sessionCookie)
	if err == nil {
		sess, _ = c.sessions.get(ck.Value, passive)
	}
	var caller *identity.Caller
	if sess != nil {
		var err error
		caller, err = c.cfg.Auth.Resume(r.Context(), sess.accessKeyID, sess.sessionToken)
		if err != nil {
			c.cfg.Log.Info("console session ended: credentials no longer valid", "error", err.Error())
			c.sessions.end(sess.id)
			sess = nil
		}
	}
	if sess != nil {
		return sess, caller, true
	}
	// Only a cookie that came with the request is cleared: a request from
	// another site arrives without it (SameSite=Strict), and clearing it
	// then would sign the visitor out from that site.
	if ck != nil {
		clearCookie(w, r, sessionCookie)
	}
	if r.Method == http.MethodGet && !passive {
		http.Redirect(w, r, c.url("login?next="+url.QueryEscape(r.URL.RequestURI())), http.StatusSeeOther)
	} else {
		c.render(w, r, http.StatusUnauthorized, "error", &visit{}, errorPage{Title: "Signed out",
			Message: "Your console session has ended. Sign in again."})
	}
	return nil, nil, false
}

// errCrossSite and errCSRF are the reasons a POST is refused.
var (
	errCrossSite = errors.New("cross-site request")
	errCSRF      = errors.New("missing or wrong CSRF token")
)

// checkPost refuses a state-changing request that did not come from a
// page of this console: the browser's Sec-Fetch-Site and Origin must not
// name another site, and the form's csrf field must be the session's token
// (on the login form, the login cookie's).
func (c *Console) checkPost(r *http.Request, v *visit) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "same-origin", "none":
	case "":
		// An older browser: the Origin header, when sent, must be ours
		// ("null", an opaque origin, is not).
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || u.Host != r.Host {
				return errCrossSite
			}
		}
	default:
		return errCrossSite
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return errCSRF
	}
	want := v.CSRF
	if v.sess == nil {
		ck, err := r.Cookie(loginCookie)
		if err != nil {
			return errCSRF
		}
		want = ck.Value
	}
	got := r.PostForm.Get("csrf")
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errCSRF
	}
	return nil
}

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Prefix, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// loginPage is the login form's data.
type loginPage struct {
	Next, Error, Notice, AccessKeyID string
}

// showLogin serves the login form with a fresh login CSRF token.
func showLogin(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error {
	return c.loginForm(w, r, http.StatusOK, loginPage{Next: safeNext(r.URL.Query().Get("next")),
		Notice: map[string]string{"1": "You are signed out."}[r.URL.Query().Get("out")]})
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request, status int, p loginPage) error {
	token := randomToken()
	c.setCookie(w, r, loginCookie, token)
	c.render(w, r, status, "login", &visit{CSRF: token}, p)
	return nil
}

// login checks the typed credentials and keyless:ConsoleLogin, then opens
// a session. Every refusal says the same thing; the log says why.
func login(c *Console, w http.ResponseWriter, r *http.Request, _ *visit) error {
	f := r.PostForm
	akid, secret, token := strings.TrimSpace(f.Get("access_key_id")), strings.TrimSpace(f.Get("secret_access_key")),
		strings.TrimSpace(f.Get("session_token"))
	next := safeNext(f.Get("next"))
	caller, err := c.cfg.Auth.Login(r, akid, secret, token)
	if err == nil {
		err = c.cfg.Auth.Authorize(r, caller, ActionLogin, arn.Console(c.cfg.Account))
	}
	if err != nil {
		c.cfg.Log.Info("console sign-in refused", "access_key_id", akid, "error", err.Error())
		return c.loginForm(w, r, http.StatusForbidden, loginPage{Next: next, AccessKeyID: akid,
			Error: "Sign-in failed: these credentials are not valid, or may not use the console."})
	}
	sess := c.sessions.start(akid, token)
	c.cfg.Log.Info("console sign-in", "caller", caller.ARN)
	clearCookie(w, r, loginCookie)
	c.setCookie(w, r, sessionCookie, sess.id)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// logout ends the session.
func logout(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error {
	c.sessions.end(v.sess.id)
	clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, c.url("login?out=1"), http.StatusSeeOther)
	return nil
}

// safeNext keeps a post-login redirect inside the console: anything else
// (another host, a scheme, //evil) goes to the overview.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.ContainsAny(next, "\\\r\n") || strings.Contains(next, "..") ||
		strings.HasPrefix(next, Prefix+"login") {
		return Prefix
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return Prefix
	}
	return next
}
