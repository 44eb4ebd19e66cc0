package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/store"
)

// maxBody caps admin request bodies.
const maxBody = 64 << 10

const (
	wellKnown     = "/.well-known/"
	discoveryName = "openid-configuration"
	adminPrefix   = "/_keyless/issuers/"
)

// IsWellKnownPath reports whether path is a public issuer document (discovery
// or JWKS) that Handler serves without authentication, including the
// /_keyless/issuers/<id>/.well-known/… aliases. The server uses it to route
// those paths past admin authentication.
func IsWellKnownPath(path string) bool {
	_, doc, ok := strings.Cut(path, wellKnown)
	return ok && (doc == discoveryName || doc == "jwks.json" || doc == "jwks-pub.json")
}

// discovery is the OpenID Provider metadata an issuer publishes.
type discovery struct {
	Issuer          string   `json:"issuer"`
	JWKSURI         string   `json:"jwks_uri"`
	SigningAlgs     []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypes   []string `json:"response_types_supported"`
	SubjectTypes    []string `json:"subject_types_supported"`
	Scopes          []string `json:"scopes_supported"`
	ClaimsSupported []string `json:"claims_supported"`
}

// discoveryDoc returns the discovery document of an issuer, as served.
func discoveryDoc(is store.Issuer) ([]byte, error) {
	return json.MarshalIndent(discovery{
		Issuer: is.URL, JWKSURI: JWKSURL(is), SigningAlgs: []string{is.Alg},
		ResponseTypes: []string{"id_token"}, SubjectTypes: []string{"public"}, Scopes: []string{"openid"},
		ClaimsSupported: ciclaims.ClaimsSupported(ciclaims.Profile(is.Profile)),
	}, "", "  ")
}

// JWKS returns the published JWKS document of issuer id at the current time,
// as served (for `issuer publish` to write to a static host).
func (s *Service) JWKS(ctx context.Context, id string) ([]byte, error) {
	set, err := s.publicKeys(ctx, id)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(set, "", "  ")
}

// Handler serves the discovery document and JWKS of every hosted issuer at
// <issuer URL path>/.well-known/openid-configuration and
// <path>/.well-known/jwks-pub.json (CircleCI's name) or jwks.json (both names
// work for every issuer), and at /_keyless/issuers/<id>/.well-known/….
// Issuers are matched by path, and by Host when several share a path.
// Unknown documents are a JSON 404.
func (s *Service) Handler() http.Handler { return http.HandlerFunc(s.serveWellKnown) }

func (s *Service) serveWellKnown(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		awsquery.WriteJSONError(w, awserr.New(awserr.CodeMethodNotAllowed, http.StatusMethodNotAllowed, "only GET and HEAD are allowed"))
		return
	}
	prefix, doc, ok := strings.Cut(r.URL.Path, wellKnown)
	if !ok || !IsWellKnownPath(r.URL.Path) {
		awsquery.WriteJSONError(w, awserr.New(awserr.CodeNotFound, http.StatusNotFound, "no such document"))
		return
	}
	is, err := s.findIssuer(r.Context(), prefix, r.Host)
	if err != nil {
		s.writeError(w, err)
		return
	}
	var body []byte
	if doc == discoveryName {
		body, err = discoveryDoc(is)
	} else {
		body, err = s.JWKS(r.Context(), is.ID)
	}
	if err != nil {
		s.writeError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.maxAge/time.Second)))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// findIssuer resolves the issuer whose documents live under prefix. Every
// miss (no such id, no issuer at the path, several at the path and none for
// this host) is the same error, so the answer tells nothing more than that.
func (s *Service) findIssuer(ctx context.Context, prefix, host string) (store.Issuer, error) {
	notFound := fmt.Errorf("no issuer at %q: %w", prefix, store.ErrNotFound)
	if id, ok := strings.CutPrefix(prefix, strings.TrimSuffix(adminPrefix, "/")+"/"); ok {
		if id == "" || strings.Contains(id, "/") {
			return store.Issuer{}, notFound
		}
		is, err := s.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return store.Issuer{}, notFound
		}
		return is, err
	}
	byPath, err := s.index.lookup(ctx, s.List, prefix)
	if err != nil {
		return store.Issuer{}, err
	}
	for _, is := range byPath {
		if u, err := url.Parse(is.URL); err == nil && strings.EqualFold(u.Host, host) {
			return is, nil
		}
	}
	if len(byPath) == 1 {
		return byPath[0], nil
	}
	return store.Issuer{}, notFound
}

// IssuerView is the admin API's JSON form of an issuer.
type IssuerView struct {
	ID         string    `json:"id"`
	Profile    string    `json:"profile"`
	URL        string    `json:"url"`
	Alg        string    `json:"alg"`
	Audience   []string  `json:"audience"`
	JWKSURI    string    `json:"jwks_uri"`
	CreateDate time.Time `json:"create_date"`
	Keys       []KeyView `json:"keys"`
}

// KeyView is one signing key in an IssuerView.
type KeyView struct {
	KID string `json:"kid"`
	Alg string `json:"alg"`
	// Status is "next" (published, not signing yet), "signing" or "retired"
	// (published until PublishEnd, signs no more).
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	SignFrom   time.Time  `json:"sign_from"`
	SignUntil  *time.Time `json:"sign_until,omitempty"`
	PublishEnd *time.Time `json:"publish_end,omitempty"`
}

// describe returns the admin view of issuer id with its keys.
func (s *Service) describe(ctx context.Context, id string) (IssuerView, error) {
	is, err := s.Get(ctx, id)
	if err != nil {
		return IssuerView{}, err
	}
	return s.view(ctx, is)
}

func (s *Service) view(ctx context.Context, is store.Issuer) (IssuerView, error) {
	keys, err := s.store.ListSigningKeys(ctx, is.ID)
	if err != nil {
		return IssuerView{}, fmt.Errorf("list keys of issuer %q: %w", is.ID, err)
	}
	now := s.now()
	cur, _ := signingKey(keys, now)
	v := IssuerView{ID: is.ID, Profile: is.Profile, URL: is.URL, Alg: is.Alg, Audience: Audience(is),
		JWKSURI: JWKSURL(is), CreateDate: is.CreateDate, Keys: []KeyView{}}
	for _, k := range keys {
		kv := KeyView{KID: k.KID, Alg: k.Alg, CreatedAt: k.CreatedAt, SignFrom: k.SignFrom, Status: "retired"}
		switch {
		case k.KID == cur.KID:
			kv.Status = "signing"
		case now.Before(k.SignFrom):
			kv.Status = "next"
		}
		if !k.SignUntil.IsZero() {
			t := k.SignUntil
			kv.SignUntil = &t
		}
		if !k.PublishEnd.IsZero() {
			t := k.PublishEnd
			kv.PublishEnd = &t
		}
		v.Keys = append(v.Keys, kv)
	}
	return v, nil
}

// AdminRoute is one operation of the issuer admin API: its Go 1.22
// ServeMux pattern ({id} names the issuer), the policy action it is
// authorized as (on arn:aws:keyless::ACCT:issuer/{id}, issuer/* without an
// id), and what serves it once the caller is authorized. The server routes,
// authenticates and authorizes; the handlers here only do the work.
type AdminRoute struct {
	Pattern string
	Action  string
	// Keys, when set, returns the action's own condition keys, read from
	// the request body (nil when it does not decode: the handler refuses it).
	Keys func(body []byte) map[string]string
	// Resource, when set, names the resource the action is authorized on
	// from the account and the path's {id} ("" when the path has none);
	// nil means the issuer the path names (issuer/* without an id).
	Resource func(account, id string) string
	Handler  http.HandlerFunc
}

// AdminRoutes returns the issuer admin API:
//
//	POST   /_keyless/issuers                 create (body: CreateRequest) → 201 IssuerView
//	GET    /_keyless/issuers                 list → {"issuers": [IssuerView…]}
//	GET    /_keyless/issuers/{id}            → IssuerView
//	DELETE /_keyless/issuers/{id}            → 204
//	POST   /_keyless/issuers/{id}/rotate     → IssuerView
//	POST   /_keyless/issuers/{id}/token      mint (body: MintRequest) → {"token": "…"}
//
// Errors are JSON {"code", "message"}: bad input 400, unknown issuer 404,
// duplicate 409, body over 64 KiB 413.
func (s *Service) AdminRoutes() []AdminRoute {
	return []AdminRoute{
		{Pattern: "POST /_keyless/issuers", Action: "keyless:CreateIssuer", Keys: createKeys, Handler: s.serveCreate},
		{Pattern: "GET /_keyless/issuers", Action: "keyless:ListIssuers", Handler: s.serveList},
		{Pattern: "GET /_keyless/issuers/{id}", Action: "keyless:GetIssuer", Handler: s.serveDescribe},
		{Pattern: "DELETE /_keyless/issuers/{id}", Action: "keyless:DeleteIssuer", Handler: s.serveDelete},
		{Pattern: "POST /_keyless/issuers/{id}/rotate", Action: "keyless:RotateIssuer", Handler: s.serveRotate},
		{Pattern: "POST /_keyless/issuers/{id}/token", Action: "keyless:MintToken", Handler: s.serveMint},
	}
}

// AdminMux is where an admin API path is parsed, once: it routes each
// route's pattern to wrap(route), and answers everything else itself,
// before wrap runs (so nothing is authenticated or authorized for it): a
// path no route has is 404 NotFound, a method no route of the path takes
// 405 MethodNotAllowed, both JSON. Trailing slashes are ignored; an {id}
// holding a slash (%2F) names no issuer.
func AdminMux(routes []AdminRoute, wrap func(AdminRoute) http.Handler) http.Handler {
	mux := http.NewServeMux()
	var paths []string
	allow := map[string][]string{}
	for _, rt := range routes {
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok || rt.Action == "" {
			panic("issuer: admin route " + rt.Pattern + " lacks a method or an action") // a bug: fail closed at start-up
		}
		if allow[path] == nil {
			paths = append(paths, path)
		}
		allow[path] = append(allow[path], method)
		h := wrap(rt)
		mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.PathValue("id"), "/") {
				notFound(w, r)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	for _, path := range paths {
		methods := strings.Join(allow[path], ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", methods)
			awsquery.WriteJSONError(w, awserr.New(awserr.CodeMethodNotAllowed, http.StatusMethodNotAllowed, "method not allowed; use "+methods))
		})
	}
	mux.HandleFunc("/", notFound)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := strings.TrimRight(r.URL.Path, "/"); p != r.URL.Path && p != "" {
			r2 := r.Clone(r.Context())
			r2.URL.Path, r2.URL.RawPath = p, strings.TrimRight(r.URL.RawPath, "/")
			r = r2
		}
		mux.ServeHTTP(w, r)
	})
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	awsquery.WriteJSONError(w, awserr.New(awserr.CodeNotFound, http.StatusNotFound, "no such admin resource"))
}

// createKeys returns keyless:IssuerUrl, the URL a new issuer would claim,
// so a grant of keyless:CreateIssuer can be scoped to URLs (StringLike
// "https://ci.example.com/*").
func createKeys(body []byte) map[string]string {
	var req CreateRequest
	if json.Unmarshal(body, &req) != nil {
		return nil
	}
	if u := ClaimedURL(req); u != "" {
		return map[string]string{"keyless:IssuerUrl": u}
	}
	return nil
}

func (s *Service) serveCreate(w http.ResponseWriter, r *http.Request) {
	var req CreateRequest
	if !s.decode(w, r, &req, true) {
		return
	}
	is, err := s.Create(r.Context(), req)
	if err != nil {
		s.writeError(w, err)
		return
	}
	s.respondView(r.Context(), w, is, http.StatusCreated)
}

func (s *Service) serveList(w http.ResponseWriter, r *http.Request) {
	views, err := s.Views(r.Context())
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"issuers": views})
}

func (s *Service) serveDescribe(w http.ResponseWriter, r *http.Request) {
	v, err := s.describe(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Service) serveDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.Delete(r.Context(), r.PathValue("id")); err != nil {
		s.writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) serveRotate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.Rotate(r.Context(), id); err != nil {
		s.writeError(w, err)
		return
	}
	v, err := s.describe(r.Context(), id)
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Service) serveMint(w http.ResponseWriter, r *http.Request) {
	var req MintRequest
	if !s.decode(w, r, &req, false) {
		return
	}
	tok, err := s.Mint(r.Context(), r.PathValue("id"), req)
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

func (s *Service) respondView(ctx context.Context, w http.ResponseWriter, is store.Issuer, status int) {
	v, err := s.view(ctx, is)
	if err != nil {
		s.writeError(w, err)
		return
	}
	writeJSON(w, status, v)
}

// decode reads a strict JSON body (unknown fields and trailing data are
// errors) into v, answering the error itself when it fails. An empty body
// is an error only when required.
func (s *Service) decode(w http.ResponseWriter, r *http.Request, v any, required bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			awsquery.WriteJSONError(w, awserr.New(awserr.CodeRequestEntityTooLarge, http.StatusRequestEntityTooLarge, "request body exceeds 64 KiB"))
		} else {
			awsquery.WriteJSONError(w, awserr.New(awserr.CodeInvalidInput, http.StatusBadRequest, "cannot read request body"))
		}
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if required {
			awsquery.WriteJSONError(w, awserr.New(awserr.CodeInvalidInput, http.StatusBadRequest, "a JSON request body is required"))
			return false
		}
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		awsquery.WriteJSONError(w, awserr.New(awserr.CodeInvalidInput, http.StatusBadRequest, "invalid JSON body: "+err.Error()))
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		awsquery.WriteJSONError(w, awserr.New(awserr.CodeInvalidInput, http.StatusBadRequest, "invalid JSON body: trailing data"))
		return false
	}
	return true
}

// writeError renders err: caller errors with their code, store outcomes
// mapped (awsquery.FromStore), anything else an opaque 500.
func (s *Service) writeError(w http.ResponseWriter, err error) {
	err = awsquery.FromStore(err, awsquery.StoreMessages{NotFound: "the issuer cannot be found",
		AlreadyExists: "an issuer with this id or url already exists"})
	if awserr.As(err) == nil {
		s.log.Error("issuer admin request failed", "err", err)
	}
	awsquery.WriteJSONError(w, err)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		awsquery.WriteJSONError(w, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Views returns every hosted issuer as the admin API shows it, keys and
// their schedule included (the console's issuers page).
func (s *Service) Views(ctx context.Context) ([]IssuerView, error) {
	l, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]IssuerView, 0, len(l))
	for _, is := range l {
		v, err := s.view(ctx, is)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
