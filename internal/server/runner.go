package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/identity"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/store"
)

// Runner credentials are what a CI system holds to mint job tokens from one
// hosted issuer without holding root credentials: sealed session
// credentials with no role, whose only permission is a policy allowing
// keyless:MintToken on that issuer (like AWS's GetFederationToken with the
// account as parent).
//
// They last at most Config.RunnerMaxTTL, and never beyond the session of
// their creator: credentials created with a role session expire with it,
// and die when that role is deleted (or replaced by one of the same name).
// They can be revoked one by one or all of one issuer at once
// (POST /_keyless/issuers/{id}/runner-credentials/revoke).
const (
	runnerDefaultMaxTTL = 30 * 24 * time.Hour
	runnerMinTTL        = 15 * time.Minute
	runnerPrefix        = "runner-"
)

var sessionNameUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

// runnerSessionName names the runner session after its issuer.
func runnerSessionName(issuerID string) string {
	n := runnerPrefix + sessionNameUnsafe.ReplaceAllString(issuerID, "-")
	if len(n) > 64 {
		n = n[:64]
	}
	return n
}

// runnerPolicy is the session policy of an issuer's runner credentials.
func runnerPolicy(account, issuerID string) string {
	b, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]string{{"Effect": "Allow", "Action": "keyless:MintToken",
			"Resource": arn.Issuer(account, issuerID)}},
	})
	return string(b)
}

// runnerAPI serves the runner-credential routes of the admin API and
// revokes runner credentials when their issuer goes.
type runnerAPI struct {
	account string
	maxTTL  time.Duration
	now     func() time.Time
	log     *slog.Logger
	sealer  interface {
		Mint(sess creds.Session) (creds.Credentials, error)
	}
	issuers interface {
		Get(ctx context.Context, id string) (store.Issuer, error)
	}
	revocations interface {
		PutRevocation(ctx context.Context, r store.Revocation) error
	}
}

// routes are the runner-credential routes of the admin API.
func (s *runnerAPI) routes() []issuer.AdminRoute {
	return []issuer.AdminRoute{
		{Pattern: "POST /_keyless/issuers/{id}/runner-credentials", Action: "keyless:CreateRunnerCredentials", Handler: s.create},
		{Pattern: "POST /_keyless/issuers/{id}/runner-credentials/revoke", Action: "keyless:RevokeRunnerCredentials", Handler: s.revoke},
	}
}

// create serves POST /_keyless/issuers/{id}/runner-credentials for an
// authorized caller. The answer has credential_process's shape (Version
// 1), so it can be used as is.
func (s *runnerAPI) create(w http.ResponseWriter, r *http.Request) {
	caller, issuerID, body := callerFrom(r.Context()), r.PathValue("id"), readAdminBody(r)
	if caller.Is(identity.Runner) {
		awsquery.WriteJSONError(w, awserr.New(awserr.CodeAccessDenied, http.StatusForbidden, "runner credentials cannot create runner credentials"))
		return
	}
	var req struct {
		TTL string `json:"ttl"`
	}
	if !decodeAdminBody(w, body, &req, `{"ttl": "24h"}`) {
		return
	}
	maxTTL := s.maxTTL
	ttl := maxTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d < runnerMinTTL || d > maxTTL {
			awsquery.WriteJSONError(w, awserr.New(awserr.CodeInvalidInput, http.StatusBadRequest, fmt.Sprintf("ttl must be a duration from %s to %s", runnerMinTTL, maxTTL)))
			return
		}
		ttl = d
	}
	if !s.issuerExists(w, r, issuerID) {
		return
	}
	now := s.now()
	sess := creds.Session{Account: s.account, SessionName: runnerSessionName(issuerID), IssuerID: issuerID,
		SessionPolicy: runnerPolicy(s.account, issuerID), Issued: now, Expiration: now.Add(ttl)}
	if caller.Is(identity.RoleSession) {
		// Never beyond what the creator holds: its own session's expiry and
		// its role (runner credentials cannot create runner credentials).
		if caller.Expiration.Before(sess.Expiration) {
			sess.Expiration = caller.Expiration
		}
		sess.CreatorRoleName, sess.CreatorRoleID = caller.RoleName, caller.RoleID
	}
	cr, err := s.sealer.Mint(sess)
	if err != nil {
		s.log.Error("runner credentials: mint", "error", err.Error())
		awsquery.WriteJSONError(w, awserr.New(awserr.CodeInternalFailure, http.StatusInternalServerError, "could not mint credentials"))
		return
	}
	s.log.Info("runner credentials issued", "request_id", requestID(r.Context()), "issuer", issuerID, "caller", caller.ARN,
		"access_key_id", cr.AccessKeyID, "expiration", cr.Expiration)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"Version": 1, "AccessKeyId": cr.AccessKeyID,
		"SecretAccessKey": cr.SecretAccessKey, "SessionToken": cr.SessionToken, "Expiration": cr.Expiration.UTC().Format(time.RFC3339)})
}

// revoke serves POST /_keyless/issuers/{id}/runner-credentials/revoke:
// {"access_key_id": "ASIA…"} revokes one set of the issuer's runner
// credentials, {"all": true} every set issued until now. Revocations are
// kept as long as the credentials they cover could live (RunnerMaxTTL).
func (s *runnerAPI) revoke(w http.ResponseWriter, r *http.Request) {
	caller, issuerID, body := callerFrom(r.Context()), r.PathValue("id"), readAdminBody(r)
	var req struct {
		AccessKeyID string `json:"access_key_id"`
		All         bool   `json:"all"`
	}
	if !decodeAdminBody(w, body, &req, `{"access_key_id": "ASIA…"} or {"all": true}`) {
		return
	}
	if (req.AccessKeyID == "") == !req.All || (req.AccessKeyID != "" && !creds.IsTemporary(req.AccessKeyID)) {
		awsquery.WriteJSONError(w, awserr.New(awserr.CodeInvalidInput, http.StatusBadRequest, `give either "access_key_id" (an ASIA… key id) or "all": true`))
		return
	}
	if !s.issuerExists(w, r, issuerID) {
		return
	}
	if err := s.revokeIssued(r.Context(), issuerID, req.AccessKeyID); err != nil {
		s.log.Error("revoke runner credentials", "error", err.Error())
		awsquery.WriteJSONError(w, awsquery.FromStore(err, awsquery.StoreMessages{}))
		return
	}
	s.log.Info("runner credentials revoked", "request_id", requestID(r.Context()), "issuer", issuerID, "caller", caller.ARN,
		"access_key_id", req.AccessKeyID, "all", req.All)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuerID, "access_key_id": req.AccessKeyID, "all": req.All})
}

// revokeIssued revokes the runner credentials accessKeyID of issuerID, or
// all of them issued until now when accessKeyID is empty. Revocations are
// kept as long as the credentials they cover could live (RunnerMaxTTL).
// Deleting an issuer revokes all of its credentials this way (the issuer
// service's BeforeDelete). The store announces the write to the directory,
// whose cache of revocations it drops.
func (s *runnerAPI) revokeIssued(ctx context.Context, issuerID, accessKeyID string) error {
	now := s.now()
	rev := store.Revocation{IssuerID: issuerID, AccessKeyID: accessKeyID, Expires: now.Add(s.maxTTL)}
	if accessKeyID == "" {
		// Credentials are minted with second precision: the next second on
		// is never revoked by this call.
		rev.IssuedBefore = now.Truncate(time.Second).Add(time.Second)
	}
	if err := s.revocations.PutRevocation(ctx, rev); err != nil {
		return fmt.Errorf("revoke runner credentials of issuer %s: %w", issuerID, err)
	}
	return nil
}

// readAdminBody returns the body of an admin call, which the admin API
// has read (and capped) already.
func readAdminBody(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	return b
}

// decodeAdminBody decodes an optional JSON body strictly into v, answering
// 400 with the expected shape when it does not fit.
func decodeAdminBody(w http.ResponseWriter, body []byte, v any, shape string) bool {
	if len(strings.TrimSpace(string(body))) == 0 {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		awsquery.WriteJSONError(w, awserr.New(awserr.CodeInvalidInput, http.StatusBadRequest, "request body must be "+shape))
		return false
	}
	return true
}

func (s *runnerAPI) issuerExists(w http.ResponseWriter, r *http.Request, issuerID string) bool {
	_, err := s.issuers.Get(r.Context(), issuerID)
	if err == nil {
		return true
	}
	if !errors.Is(err, store.ErrNotFound) {
		s.log.Error("runner credentials: read issuer", "error", err.Error())
	}
	awsquery.WriteJSONError(w, awsquery.FromStore(err, awsquery.StoreMessages{NotFound: "no issuer " + issuerID}))
	return false
}
