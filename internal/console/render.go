package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
)

// pageNames are the templates in web/templates, each rendered inside
// layout.html (login and error too).
var pageNames = []string{"login", "error", "overview", "issuers", "providers", "roles", "role", "decisions", "decision", "playground"}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"whenp": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"join":  strings.Join,
	"role":  shortRole,
	"path":  func(p string) string { return Prefix + p },
	"none":  func(vs []string) bool { return vs == nil },
	"ms":    func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) },
	"deref": func(p *int) int { return *p },
	"sub":   func(a, b int) int { return a - b },
	"inc":   func(a int) int { return a + 1 },
}

func parseTemplates() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "web/templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("console: parse layout: %w", err)
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "web/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// pageData is what layout.html gets: the visit and the page's own data.
type pageData struct {
	V    *visit
	Page any
}

// errorPage is error.html's data.
type errorPage struct{ Title, Message string }

// render writes a page; a template that fails is a bug, logged and
// answered with a bare 500.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, v *visit, page any) {
	var b bytes.Buffer
	if err := c.pages[name].Execute(&b, pageData{V: v, Page: page}); err != nil {
		c.cfg.Log.Error("console template failed", "page", name, "path", r.URL.Path, "error", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// fail answers a handler's or an authorization's error: the visitor's own
// (4xx, AccessDenied included) with its message, ours (5xx) with nothing
// but that it failed, the cause in the log.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	var pe *pageError
	if errors.As(err, &pe) {
		c.render(w, r, pe.status, "error", v, errorPage{Title: pe.title, Message: pe.msg})
		return
	}
	e := awserr.From(err)
	if e.Sender() {
		title := "Cannot do that"
		if e.Code == awserr.CodeAccessDenied {
			title = "Not allowed"
		}
		c.render(w, r, e.Status, "error", v, errorPage{Title: title, Message: e.Message})
		return
	}
	c.cfg.Log.Error("console request failed", "path", r.URL.Path, "error", err.Error())
	c.render(w, r, http.StatusInternalServerError, "error", v, errorPage{Title: "Something failed",
		Message: "The server could not answer this page. Its log says why; try again shortly."})
}
