package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/sts"
)

// The playground decides a web identity exchange without making it: the
// server's own decision (Data.Simulate), for a pasted token or one minted
// from a hosted issuer with composed claims. It is authorized as
// iam:GetRole on the role (it shows what the role's trust policy says);
// composing also needs keyless:MintToken on the issuer.

// playgroundPage is the playground's form and, after a run, its verdict.
type playgroundPage struct {
	Roles   []store.Role // nil when the caller may not list roles
	Issuers []issuer.IssuerView
	Form    playgroundInput
	Result  *decisionView
	Error   string
}

// playgroundInput is the form.
type playgroundInput struct {
	Role, Mode, Token, Issuer, Audience           string
	ProjectID, VCSOrigin, VCSRef, Repository, Ref string
	Environment, ProjectPath, Claims, SessionName string
}

func (c *Console) playground(r *http.Request, v *visit, in playgroundInput) (playgroundPage, error) {
	p := playgroundPage{Form: in}
	if p.Form.Mode == "" {
		p.Form.Mode = "token"
	}
	if c.may(r, v, "iam:ListRoles", "*") {
		rs, err := c.cfg.Data.Roles(r.Context())
		if err != nil {
			return p, err
		}
		p.Roles = rs
	}
	if c.may(r, v, "keyless:ListIssuers", arn.Issuer(c.cfg.Account, "*")) {
		is, err := c.cfg.Data.Issuers(r.Context())
		if err != nil {
			return p, err
		}
		p.Issuers = is
	}
	return p, nil
}

func playgroundForm(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error {
	p, err := c.playground(r, v, playgroundInput{Role: r.URL.Query().Get("role")})
	if err != nil {
		return err
	}
	v.Nav = "playground"
	c.render(w, r, http.StatusOK, "playground", v, p)
	return nil
}

// playgroundResource is the role the form names.
func playgroundResource(c *Console, r *http.Request) (string, error) {
	role := strings.TrimSpace(r.PostForm.Get("role"))
	if strings.HasPrefix(role, "arn:") {
		return role, nil
	}
	return c.roleARN(r, role)
}

func playgroundRun(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error {
	f := r.PostForm
	in := playgroundInput{Role: strings.TrimSpace(f.Get("role")), Mode: f.Get("mode"), Token: strings.TrimSpace(f.Get("token")),
		Issuer: f.Get("issuer"), Audience: strings.TrimSpace(f.Get("audience")), ProjectID: strings.TrimSpace(f.Get("project_id")),
		VCSOrigin: strings.TrimSpace(f.Get("vcs_origin")), VCSRef: strings.TrimSpace(f.Get("vcs_ref")),
		Repository: strings.TrimSpace(f.Get("repository")), Ref: strings.TrimSpace(f.Get("ref")),
		Environment: strings.TrimSpace(f.Get("environment")), ProjectPath: strings.TrimSpace(f.Get("project_path")),
		Claims: f.Get("claims"), SessionName: strings.TrimSpace(f.Get("session_name"))}
	p, err := c.playground(r, v, in)
	if err != nil {
		return err
	}
	v.Nav = "playground"
	if in.Role == "" {
		p.Error = "Pick the role to decide for."
		c.render(w, r, http.StatusBadRequest, "playground", v, p)
		return nil
	}
	roleARN, err := playgroundResource(c, r)
	if err != nil {
		return err
	}
	token := in.Token
	if in.Mode == "compose" {
		token, err = c.compose(r, v, in)
		var msg errorText
		if errors.As(err, &msg) {
			p.Error = string(msg)
			c.render(w, r, http.StatusBadRequest, "playground", v, p)
			return nil
		}
		if err != nil {
			return err
		}
	}
	rec, err := c.cfg.Data.Simulate(r.Context(), sts.SimulateInput{RoleARN: roleARN, Token: token, SessionName: in.SessionName, Caller: v.caller.ARN,
		SourceIP: clientIP(r), UserAgent: r.UserAgent(), Secure: r.TLS != nil})
	if err != nil {
		if msg, ok := senderMessage(err); ok {
			p.Error = msg
			c.render(w, r, http.StatusBadRequest, "playground", v, p)
			return nil
		}
		return err
	}
	dv := newDecisionView(rec)
	p.Result = &dv
	c.render(w, r, http.StatusOK, "playground", v, p)
	return nil
}

// compose mints a token of a hosted issuer from the form's claims, if the
// visitor may mint tokens of that issuer.
func (c *Console) compose(r *http.Request, v *visit, in playgroundInput) (string, error) {
	if in.Issuer == "" {
		return "", errorText("Pick the issuer whose token to compose.")
	}
	if !c.may(r, v, "keyless:MintToken", arn.Issuer(c.cfg.Account, in.Issuer)) {
		return "", errorText("You may not mint tokens of issuer " + in.Issuer + " (keyless:MintToken); paste a token instead.")
	}
	params := ciclaims.Params{ProjectID: in.ProjectID, VCSOrigin: in.VCSOrigin, VCSRef: in.VCSRef,
		Repository: in.Repository, Ref: in.Ref, Environment: in.Environment, ProjectPath: in.ProjectPath}
	if in.Audience != "" {
		params.Audience = []string{in.Audience}
	}
	for _, line := range strings.Split(in.Claims, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return "", errorText("Each extra claim is one line name=value; " + line + " is not.")
		}
		if params.Extra == nil {
			params.Extra = map[string]string{}
		}
		params.Extra[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	tok, err := c.cfg.Data.Mint(r.Context(), in.Issuer, params)
	if err != nil {
		if msg, ok := senderMessage(err); ok {
			return "", errorText("Cannot compose that token: " + msg)
		}
		return "", err
	}
	return tok, nil
}

type errorText string

func (e errorText) Error() string { return string(e) }
