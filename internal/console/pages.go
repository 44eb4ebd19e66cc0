package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/audit"
	"github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/store"
)

// routes is the console's route table: every page, how it is admitted and
// what it is authorized as.
func (c *Console) routes() []route {
	console := func(c *Console, _ *http.Request) (string, error) { return arn.Console(c.cfg.Account), nil }
	all := func(c *Console, _ *http.Request) (string, error) { return "*", nil }
	issuers := func(c *Console, _ *http.Request) (string, error) { return arn.Issuer(c.cfg.Account, "*"), nil }
	decisions := func(c *Console, _ *http.Request) (string, error) { return arn.Decision(c.cfg.Account, "*"), nil }
	oneDecision := func(c *Console, r *http.Request) (string, error) {
		return arn.Decision(c.cfg.Account, r.PathValue("id")), nil
	}
	return []route{
		{pattern: "GET " + Prefix + "login", access: public, handle: showLogin},
		{pattern: "POST " + Prefix + "login", access: public, handle: login},
		{pattern: "POST " + Prefix + "logout", access: session, handle: logout},
		{pattern: "GET " + Prefix + "{$}", access: authorized, action: ActionLogin, resource: console, handle: overview},
		{pattern: "GET " + Prefix + "issuers", access: authorized, action: "keyless:ListIssuers", resource: issuers, handle: issuersPage},
		{pattern: "GET " + Prefix + "providers", access: authorized, action: "iam:ListOpenIDConnectProviders", resource: all, handle: providersPage},
		{pattern: "GET " + Prefix + "roles", access: authorized, action: "iam:ListRoles", resource: all, handle: rolesPage},
		{pattern: "GET " + Prefix + "roles/{name}", access: authorized, action: "iam:GetRole", resource: roleResource, handle: rolePage},
		{pattern: "GET " + Prefix + "decisions", access: authorized, action: "keyless:ListDecisions", resource: decisions, handle: decisionsPage},
		{pattern: "GET " + Prefix + "feed", access: authorized, action: "keyless:ListDecisions", resource: decisions, handle: feed, passive: true},
		{pattern: "GET " + Prefix + "decisions/{id}", access: authorized, action: "keyless:GetDecision", resource: oneDecision, handle: decisionPage},
		{pattern: "GET " + Prefix + "playground", access: authorized, action: ActionLogin, resource: console, handle: playgroundForm},
		{pattern: "POST " + Prefix + "playground", access: authorized, action: "iam:GetRole", resource: playgroundResource, handle: playgroundRun},
	}
}

// roleResource is the ARN of the role the path names (with its path when
// the role exists).
func roleResource(c *Console, r *http.Request) (string, error) {
	return c.roleARN(r, r.PathValue("name"))
}

func (c *Console) roleARN(r *http.Request, name string) (string, error) {
	role, _, err := c.cfg.Data.Role(r.Context(), name)
	switch {
	case err == nil:
		return arn.Role(c.cfg.Account, role.Path, role.Name), nil
	case errors.Is(err, store.ErrNotFound):
		return arn.Role(c.cfg.Account, "/", name), nil
	default:
		return "", err
	}
}

// overviewPage is the overview's data; a nil count is a panel the caller
// may not read.
type overviewPage struct {
	Issuers, Providers, Roles *int
	Decisions                 *decisionStats
}

type decisionStats struct {
	Total, Denied int
	// Capped is true when the hour held more decisions than were read:
	// the counts are then lower bounds.
	Capped bool
	// Minutes are the last 60 minutes' decisions, oldest first.
	Minutes []minute
	Recent  []decision.Record
	Max     int
}

type minute struct {
	At          time.Time
	Allow, Deny int
	// Y and DenyY place the bar and its denied part in a 60-high chart
	// (bars grow from the bottom), X the bar.
	X, Y, DenyY int
}

func overview(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error {
	ctx := r.Context()
	p := overviewPage{}
	count := func(n int) *int { return &n }
	if c.may(r, v, "keyless:ListIssuers", arn.Issuer(c.cfg.Account, "*")) {
		is, err := c.cfg.Data.Issuers(ctx)
		if err != nil {
			return err
		}
		p.Issuers = count(len(is))
	}
	if c.may(r, v, "iam:ListOpenIDConnectProviders", "*") {
		ps, err := c.cfg.Data.Providers(ctx)
		if err != nil {
			return err
		}
		p.Providers = count(len(ps))
	}
	if c.may(r, v, "iam:ListRoles", "*") {
		rs, err := c.cfg.Data.Roles(ctx)
		if err != nil {
			return err
		}
		p.Roles = count(len(rs))
	}
	if c.may(r, v, "keyless:ListDecisions", arn.Decision(c.cfg.Account, "*")) {
		now := c.cfg.Now()
		ds, err := c.cfg.Data.Decisions(ctx, store.DecisionFilter{Since: now.Add(-time.Hour), Limit: overviewLimit})
		if err != nil {
			return err
		}
		p.Decisions = minuteStats(ds, now)
		p.Decisions.Capped = len(ds) == overviewLimit
	}
	v.Nav = "overview"
	c.render(w, r, http.StatusOK, "overview", v, p)
	return nil
}

// overviewLimit is how many of the last hour's decisions the overview reads.
const overviewLimit = 1000

// minuteStats counts decisions per minute over the hour before now.
func minuteStats(ds []decision.Record, now time.Time) *decisionStats {
	st := &decisionStats{Total: len(ds), Minutes: make([]minute, 60)}
	start := now.Truncate(time.Minute).Add(-59 * time.Minute)
	for i := range st.Minutes {
		st.Minutes[i].At, st.Minutes[i].X = start.Add(time.Duration(i)*time.Minute), i*10
	}
	for _, d := range ds {
		i := int(d.Time.Sub(start) / time.Minute)
		if i < 0 || i >= 60 {
			continue
		}
		if d.Decision == decision.Deny {
			st.Minutes[i].Deny++
			st.Denied++
		} else {
			st.Minutes[i].Allow++
		}
	}
	for _, m := range st.Minutes {
		st.Max = max(st.Max, m.Allow+m.Deny)
	}
	for i := range st.Minutes {
		m := &st.Minutes[i]
		m.Y, m.DenyY = 60, 60
		if st.Max > 0 {
			m.Y = 60 - (m.Allow+m.Deny)*56/st.Max
			m.DenyY = 60 - m.Deny*56/st.Max
		}
	}
	if len(ds) > 10 {
		ds = ds[:10]
	}
	st.Recent = ds
	return st
}

func issuersPage(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error {
	is, err := c.cfg.Data.Issuers(r.Context())
	if err != nil {
		return err
	}
	type row struct {
		issuer.IssuerView
		Discovery    string
		NextRotation *time.Time
	}
	rows := make([]row, 0, len(is))
	for _, i := range is {
		rw := row{IssuerView: i, Discovery: strings.TrimRight(i.URL, "/") + "/.well-known/openid-configuration"}
		for _, k := range i.Keys {
			if k.Status == "next" {
				t := k.SignFrom
				rw.NextRotation = &t
			}
		}
		rows = append(rows, rw)
	}
	v.Nav = "issuers"
	c.render(w, r, http.StatusOK, "issuers", v, rows)
	return nil
}

func providersPage(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error {
	ps, err := c.cfg.Data.Providers(r.Context())
	if err != nil {
		return err
	}
	type row struct {
		store.Provider
		ARN string
	}
	rows := make([]row, 0, len(ps))
	for _, p := range ps {
		rows = append(rows, row{Provider: p, ARN: arn.OIDCProvider(c.cfg.Account, p.URL)})
	}
	v.Nav = "providers"
	c.render(w, r, http.StatusOK, "providers", v, rows)
	return nil
}

func rolesPage(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error {
	rs, err := c.cfg.Data.Roles(r.Context())
	if err != nil {
		return err
	}
	v.Nav = "roles"
	c.render(w, r, http.StatusOK, "roles", v, rs)
	return nil
}

// roleView is a role's page.
type roleView struct {
	Role      store.Role
	ARN       string
	Trust     []statementView
	TrustJSON string
	Decisions []decision.Record
	// MayList is false when the caller may not list decisions.
	MayList  bool
	Findings []audit.Finding
	AuditErr string
}

func rolePage(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error {
	role, perms, err := c.cfg.Data.Role(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("There is no role named " + strconv.Quote(r.PathValue("name")) + ".")
	}
	if err != nil {
		return err
	}
	roleARN := arn.Role(c.cfg.Account, role.Path, role.Name)
	p := roleView{Role: role, ARN: roleARN, TrustJSON: prettyJSON(role.TrustPolicy)}
	p.Trust, _ = readablePolicy(role.TrustPolicy)
	res, err := audit.Analyze(audit.Role{Name: role.Name, ARN: roleARN, Source: roleARN, TrustPolicy: role.TrustPolicy,
		Permissions: perms}, audit.Config{})
	if err != nil {
		p.AuditErr = err.Error()
	}
	p.Findings = res.Findings
	if c.may(r, v, "keyless:ListDecisions", arn.Decision(c.cfg.Account, "*")) {
		ds, err := c.cfg.Data.Decisions(r.Context(), store.DecisionFilter{RoleARN: roleARN, Limit: 20})
		if err != nil {
			return err
		}
		p.Decisions, p.MayList = ds, true
	}
	v.Nav = "roles"
	c.render(w, r, http.StatusOK, "role", v, p)
	return nil
}

// streamPage is the decision stream's data.
type streamPage struct {
	Filter     streamFilter
	Decisions  []decision.Record
	NextCursor string
	// Feed is the live feed's URL for this filter.
	Feed string
}

type streamFilter struct {
	Role, Provider, Decision, Subject, Since string
}

// filter reads the stream's filter from the query (decision.ParseFilter);
// bad values are the visitor's to fix. A page holds 50 decisions.
func (c *Console) filter(r *http.Request) (streamFilter, store.DecisionFilter, error) {
	q := r.URL.Query()
	sf := streamFilter{Role: q.Get("role"), Provider: q.Get("provider"), Decision: q.Get("decision"),
		Subject: q.Get("subject"), Since: q.Get("since")}
	f, err := decision.ParseFilter(q, c.cfg.Account, c.cfg.Now())
	if err != nil {
		return sf, f, badRequest(err.Error() + ".")
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	return sf, f, nil
}

func decisionsPage(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error {
	sf, f, err := c.filter(r)
	if err != nil {
		return err
	}
	ds, err := c.cfg.Data.Decisions(r.Context(), f)
	if err != nil {
		return err
	}
	p := streamPage{Filter: sf, Decisions: ds}
	if len(ds) == f.Limit {
		p.NextCursor = decision.Cursor(ds[len(ds)-1])
	}
	q := r.URL.Query()
	q.Del("cursor")
	p.Feed = c.url("feed?" + q.Encode())
	v.Nav = "decisions"
	c.render(w, r, http.StatusOK, "decisions", v, p)
	return nil
}

// feedRecord is a decision as the live stream shows it.
type feedRecord struct {
	ID, Time, Decision, Action, Role, Subject, Code, Reason, Link string
}

// feed answers the live stream's poll: the filter's decisions, newest
// first, as JSON the page's script renders as text.
func feed(c *Console, w http.ResponseWriter, r *http.Request, _ *visit) error {
	_, f, err := c.filter(r)
	if err != nil {
		return err
	}
	ds, err := c.cfg.Data.Decisions(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]feedRecord, 0, len(ds))
	for _, d := range ds {
		out = append(out, feedRecord{ID: d.ID, Time: d.Time.UTC().Format(time.RFC3339Nano), Decision: d.Decision,
			Action: d.Action, Role: shortRole(d.RoleARN), Subject: d.Subject, Code: d.ErrorCode, Reason: d.Reason,
			Link: c.url("decisions/" + d.ID)})
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]any{"decisions": out})
}

func decisionPage(c *Console, w http.ResponseWriter, r *http.Request, v *visit) error {
	d, err := c.cfg.Data.Decision(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("There is no decision " + strconv.Quote(r.PathValue("id")) + " (it may have been pruned).")
	}
	if err != nil {
		return err
	}
	v.Nav = "decisions"
	c.render(w, r, http.StatusOK, "decision", v, newDecisionView(d))
	return nil
}
