package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/sts"
)

// adminService is the service the SigV4 credential scope of an admin call
// must name; its region must be the server's (Config.Region).
const adminService = "keyless"

// maxAdminBody caps admin request bodies (the issuer handler caps again).
const maxAdminBody = 64 << 10

// adminAPI serves the admin API under /_keyless/issuers. Its routes are a
// table (issuer.AdminRoute: pattern, action, handler): the issuer service's
// and the runner credentials'. issuer.AdminMux parses the path once and
// refuses what no route has; every routed call is authenticated with SigV4
// and authorized as the route's keyless:<Operation> on
// arn:aws:keyless::ACCT:issuer/<id> before its handler runs, so a CI
// system can hold role credentials that may only mint tokens of one issuer.
type adminAPI struct {
	auth    *authenticator
	log     *slog.Logger
	account string
	region  string
	now     func() time.Time
	// denied records a refused call in the decision log.
	denied func(c *awsquery.Call, action string, err error)
}

// handler routes routes, each wrapped by serve.
func (a *adminAPI) handler(routes []issuer.AdminRoute) http.Handler {
	return issuer.AdminMux(routes, a.serve)
}

// adminResource is the resource a route is authorized on: the issuer its
// path names, every issuer when it names none.
func adminResource(account, id string) string {
	if id == "" {
		id = "*"
	}
	return arn.Issuer(account, id)
}

// serve authenticates and authorizes a call of rt, then hands it to rt's
// handler with the caller in its context (callerFrom).
func (a *adminAPI) serve(rt issuer.AdminRoute) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := requestID(r.Context())
		start := a.now()
		body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
		if err != nil || len(body) > maxAdminBody {
			awsquery.WriteJSONError(w, awserr.New(awserr.CodeRequestEntityTooLarge, http.StatusRequestEntityTooLarge, "request body too large"))
			return
		}
		caller, signed, err := a.auth.authenticate(r, body, adminService, a.region)
		if err != nil {
			a.denied(adminCall(r, start, nil), rt.Action, err)
			e := awserr.From(err)
			a.log.Info("admin request rejected", "request_id", rid, "path", r.URL.Path, "code", e.Code, "error", e.Error())
			awsquery.WriteJSONError(w, e)
			return
		}
		resource := adminResource(a.account, r.PathValue("id"))
		if rt.Resource != nil {
			resource = rt.Resource(a.account, r.PathValue("id"))
		}
		ri := sts.RequestInfo{SourceIP: sourceIP(r), Secure: r.TLS != nil, Region: signed.Region, UserAgent: r.UserAgent()}
		if rt.Keys != nil {
			ri.Keys = rt.Keys(body)
		}
		if err := a.auth.authorize(r.Context(), caller, ri, rt.Action, resource); err != nil {
			a.denied(adminCall(r, start, caller), rt.Action, err)
			e := awserr.From(err)
			a.log.Info("admin request denied", "request_id", rid, "caller", caller.ARN, "action", rt.Action, "reason", e.Error())
			awsquery.WriteJSONError(w, e)
			return
		}
		a.log.Info("admin request", "request_id", rid, "caller", caller.ARN, "action", rt.Action, "resource", resource)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rt.Handler.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, caller)))
	})
}

type callerKey struct{}

// callerFrom returns the authenticated caller of an admin call.
func callerFrom(ctx context.Context) *identity.Caller {
	c, _ := ctx.Value(callerKey{}).(*identity.Caller)
	return c
}
