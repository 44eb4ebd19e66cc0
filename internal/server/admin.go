package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/sts"
)

// adminService is the service the SigV4 credential scope of an admin call
// must name; its region must be the server's (Config.Region).
const adminService = "keyless"

// maxAdminBody caps admin request bodies (the issuer handler caps again).
const maxAdminBody = 64 << 10

// adminHandler authenticates admin API calls with SigV4 and authorizes them
// as keyless:<Operation> on arn:aws:keyless::ACCT:issuer/<id>, so a CI
// system can hold role credentials that may only mint tokens of one issuer.
type adminHandler struct {
	srv  *Server
	next http.Handler
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := requestID(r.Context())
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAdminBody+1))
	if err != nil || len(body) > maxAdminBody {
		writeJSONError(w, http.StatusRequestEntityTooLarge, awserr.CodeRequestEntityTooLarge, "request body too large")
		return
	}
	caller, signed, err := h.srv.auth.authenticate(r, body, adminService, h.srv.cfg.Region)
	if err != nil {
		e := awserr.From(err)
		h.srv.log.Info("admin request rejected", "request_id", rid, "path", r.URL.Path, "code", e.Code, "error", e.Error())
		writeJSONError(w, e.Status, e.Code, e.Message)
		return
	}
	action, resource := adminAction(r.Method, r.URL.Path, h.srv.cfg.Account)
	ri := sts.RequestInfo{SourceIP: sourceIP(r), Secure: r.TLS != nil, Region: signed.Region, UserAgent: r.UserAgent()}
	if action == "keyless:CreateIssuer" {
		// keyless:IssuerUrl: the URL the new issuer would claim, so a grant
		// can be scoped to URLs (StringLike "https://ci.example.com/*"). A
		// body that does not decode is refused by the issuer handler.
		var req issuer.CreateRequest
		if json.Unmarshal(body, &req) == nil {
			if u := issuer.ClaimedURL(req); u != "" {
				ri.Keys = map[string]string{"keyless:IssuerUrl": u}
			}
		}
	}
	if err := h.srv.auth.authorize(r.Context(), caller, ri, action, resource); err != nil {
		e := awserr.From(err)
		h.srv.log.Info("admin request denied", "request_id", rid, "caller", caller.ARN, "action", action, "reason", e.Error())
		writeJSONError(w, e.Status, e.Code, e.Message)
		return
	}
	h.srv.log.Info("admin request", "request_id", rid, "caller", caller.ARN, "action", action, "resource", resource)
	if id, revoke, ok := runnerCredentialsPath(r); ok {
		if revoke {
			h.srv.revokeRunnerCredentials(w, r, caller, id, body)
		} else {
			h.srv.runnerCredentials(w, r, caller, id, body)
		}
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h.next.ServeHTTP(w, r)
}

// adminAction names the operation a path and method stand for.
func adminAction(method, path, account string) (action, resource string) {
	rest := strings.Trim(strings.TrimPrefix(path, "/_keyless/issuers"), "/")
	parts := strings.Split(rest, "/")
	res := "arn:aws:keyless::" + account + ":issuer/"
	switch {
	case rest == "" && method == http.MethodPost:
		return "keyless:CreateIssuer", res + "*"
	case rest == "":
		return "keyless:ListIssuers", res + "*"
	case len(parts) == 2 && parts[1] == "token":
		return "keyless:MintToken", res + parts[0]
	case len(parts) == 2 && parts[1] == "runner-credentials":
		return "keyless:CreateRunnerCredentials", res + parts[0]
	case len(parts) == 3 && parts[1] == "runner-credentials" && parts[2] == "revoke":
		return "keyless:RevokeRunnerCredentials", res + parts[0]
	case len(parts) == 2 && parts[1] == "rotate":
		return "keyless:RotateIssuer", res + parts[0]
	case method == http.MethodDelete:
		return "keyless:DeleteIssuer", res + parts[0]
	}
	return "keyless:GetIssuer", res + parts[0]
}

// runnerCredentialsPath matches POST /_keyless/issuers/{id}/runner-credentials
// and .../runner-credentials/revoke.
func runnerCredentialsPath(r *http.Request) (id string, revoke, ok bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/_keyless/issuers/")
	if !ok || r.Method != http.MethodPost {
		return "", false, false
	}
	if id, ok = strings.CutSuffix(rest, "/runner-credentials/revoke"); ok {
		revoke = true
	} else {
		id, ok = strings.CutSuffix(rest, "/runner-credentials")
	}
	return id, revoke, ok && id != "" && !strings.Contains(id, "/")
}

// writeJSONError answers an admin API error through the one JSON error
// writer, awsquery.WriteJSONError.
func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	awsquery.WriteJSONError(w, awserr.New(code, status, msg))
}
