package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/sts"
)

// Prefix is where the console is served.
const Prefix = "/_keyless/console/"

// ActionLogin is the action a caller must be allowed, on
// arn:aws:keyless::ACCT:console, to sign in to the console.
const ActionLogin = "keyless:ConsoleLogin"

// Auth is the server's authenticator and authorizer, as the console uses it.
type Auth interface {
	// Login checks the credentials typed into the login form r carried
	// (the session token only for temporary credentials) and returns their
	// caller; a refusal has been recorded in the decision log.
	Login(r *http.Request, accessKeyID, secret, sessionToken string) (*identity.Caller, error)
	// Resume returns the caller of a session's credentials again; it fails
	// once they expired or were revoked.
	Resume(ctx context.Context, accessKeyID, sessionToken string) (*identity.Caller, error)
	// Authorize decides whether caller may perform action on resource; nil
	// means allowed. A refusal is the error AWS would answer (AccessDenied)
	// and has been recorded in the decision log.
	Authorize(r *http.Request, caller *identity.Caller, action, resource string) error
	// Allowed is Authorize for the optional parts of a page (a panel the
	// caller may not read is left out): a refusal is not recorded.
	Allowed(r *http.Request, caller *identity.Caller, action, resource string) bool
}

// Data is what the pages read, and the playground's two operations.
type Data interface {
	Issuers(ctx context.Context) ([]issuer.IssuerView, error)
	Providers(ctx context.Context) ([]store.Provider, error)
	Roles(ctx context.Context) ([]store.Role, error)
	// Role returns a role and the names of its permission policies
	// (store.ErrNotFound when there is none).
	Role(ctx context.Context, name string) (store.Role, []string, error)
	Decisions(ctx context.Context, f store.DecisionFilter) ([]decision.Record, error)
	Decision(ctx context.Context, id string) (decision.Record, error)
	// Simulate decides an AssumeRoleWithWebIdentity call without making it.
	Simulate(ctx context.Context, in sts.SimulateInput) (decision.Record, error)
	// Mint signs a job token of a hosted issuer.
	Mint(ctx context.Context, issuerID string, p ciclaims.Params) (string, error)
}

// Config configures the console.
type Config struct {
	Account string
	Auth    Auth
	Data    Data
	Now     func() time.Time
	Log     *slog.Logger
	// IdleTimeout ends a session unused for this long (default 15m);
	// MaxAge ends every session this long after sign-in (default 12h).
	IdleTimeout, MaxAge time.Duration
	// MaxSessions caps the sessions held (default 10,000); at the cap, the
	// least recently used session ends.
	MaxSessions int
}

// Console serves the web console.
type Console struct {
	cfg      Config
	sessions *sessions
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

//go:embed web/templates/*.html
var templateFS embed.FS

//go:embed web/static
var staticFS embed.FS

// New builds the console.
func New(cfg Config) (*Console, error) {
	if cfg.Auth == nil || cfg.Data == nil || cfg.Account == "" {
		return nil, errors.New("console: Auth, Data and Account are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 15 * time.Minute
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 12 * time.Hour
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 10000
	}
	pages, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, pages: pages,
		sessions: newSessions(cfg.Now, cfg.IdleTimeout, cfg.MaxAge, cfg.MaxSessions)}
	c.mux = http.NewServeMux()
	for _, rt := range c.routes() {
		c.mux.Handle(rt.pattern, c.serve(rt))
	}
	static, err := fs.Sub(staticFS, "web/static")
	if err != nil {
		return nil, err
	}
	assets := http.StripPrefix(Prefix+"static/", http.FileServer(http.FS(static)))
	c.mux.Handle("GET "+Prefix+"static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w, r)
		w.Header().Set("Cache-Control", "no-cache")
		assets.ServeHTTP(w, r)
	}))
	c.mux.Handle(Prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w, r)
		c.render(w, r, http.StatusNotFound, "error", &visit{}, errorPage{Title: "Not found", Message: "There is no such page."})
	}))
	return c, nil
}

// ServeHTTP serves everything under Prefix (and Prefix without its slash).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == Prefix[:len(Prefix)-1] {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// Access is how a route is admitted.
type access int

const (
	// public routes need no session (the login form, its submission).
	public access = iota
	// session routes need a session but no action beyond signing in (logout).
	session
	// authorized routes need a session and the route's action.
	authorized
)

// route is one page of the console: its ServeMux pattern, how it is
// admitted, the action and resource it is authorized as, and its handler.
// serve runs the admission before the handler, so a handler never runs
// for a caller the route's action was not decided for.
type route struct {
	pattern string
	access  access
	action  string
	// resource names what action is authorized on; it may read the
	// request (the form's role) and the store (a role's path).
	resource func(c *Console, r *http.Request) (string, error)
	handle   func(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error
	// passive routes (the live feed) do not count as activity for the
	// idle timeout.
	passive bool
}

// visit is one admitted request: its session and caller (nil on public
// routes) and what every page template shows.
type visit struct {
	sess   *sessionState
	caller *identity.Caller
	Nav    string // the active menu entry
	CSRF   string
	Who    string // the caller's ARN
}

// serve admits a request for rt (session, CSRF, authorization) and runs
// its handler.
func (c *Console) serve(rt route) http.Handler {
	if rt.access == authorized && (rt.action == "" || rt.resource == nil) {
		panic("console: route " + rt.pattern + " lacks an action or a resource") // a bug: fail closed at start-up
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w, r)
		v := &visit{}
		if rt.access != public {
			sess, caller, ok := c.admit(w, r, rt.passive)
			if !ok {
				return
			}
			v.sess, v.caller, v.CSRF, v.Who = sess, caller, sess.csrf, caller.ARN
		}
		if r.Method == http.MethodPost {
			if err := c.checkPost(r, v); err != nil {
				c.cfg.Log.Info("console request refused", "path", r.URL.Path, "reason", err.Error())
				c.render(w, r, http.StatusForbidden, "error", v, errorPage{Title: "Request refused",
					Message: "This form was not sent from this console session. Reload the page and try again."})
				return
			}
		}
		if rt.access == authorized {
			res, err := rt.resource(c, r)
			if err == nil {
				err = c.cfg.Auth.Authorize(r, v.caller, rt.action, res)
			}
			if err != nil {
				c.fail(w, r, v, err)
				return
			}
		}
		if err := rt.handle(c, w, r, v); err != nil {
			c.fail(w, r, v, err)
		}
	})
}

// may reports whether the visitor may perform action on resource: the
// parts of a page (the overview's panels, a role's decisions) that need
// more than the page's own action.
func (c *Console) may(r *http.Request, v *visit, action, resource string) bool {
	return v.caller != nil && c.cfg.Auth.Allowed(r, v.caller, action, resource)
}

// securityHeaders are set on every console response: no inline script or
// style, no framing, no caching of pages that show claims.
func securityHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

func (c *Console) url(path string) string { return Prefix + path }

// errorf is a handler's error with the status and message a visitor sees.
type pageError struct {
	status int
	title  string
	msg    string
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.title, e.msg) }

func notFound(msg string) error {
	return &pageError{status: http.StatusNotFound, title: "Not found", msg: msg}
}

func badRequest(msg string) error {
	return &pageError{status: http.StatusBadRequest, title: "Cannot do that", msg: msg}
}
