package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
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
			"Resource": "arn:aws:keyless::" + account + ":issuer/" + issuerID}},
	})
	return string(b)
}

// isRunner reports whether caller holds runner credentials.
func isRunner(c *awsquery.Caller) bool { return c != nil && !c.Root && c.RoleName == "" }

// runnerCredentials serves POST /_keyless/issuers/{id}/runner-credentials
// for caller. The answer has credential_process's shape (Version 1), so it
// can be used as is.
func (s *Server) runnerCredentials(w http.ResponseWriter, r *http.Request, caller *awsquery.Caller, issuerID string, body []byte) {
	if isRunner(caller) {
		writeJSONError(w, http.StatusForbidden, awserr.CodeAccessDenied, "runner credentials cannot create runner credentials")
		return
	}
	var req struct {
		TTL string `json:"ttl"`
	}
	if !decodeAdminBody(w, body, &req, `{"ttl": "24h"}`) {
		return
	}
	maxTTL := s.cfg.RunnerMaxTTL
	ttl := maxTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d < runnerMinTTL || d > maxTTL {
			writeJSONError(w, http.StatusBadRequest, awserr.CodeInvalidInput, fmt.Sprintf("ttl must be a duration from %s to %s", runnerMinTTL, maxTTL))
			return
		}
		ttl = d
	}
	if !s.issuerExists(w, r, issuerID) {
		return
	}
	now := s.cfg.Now()
	sess := creds.Session{Account: s.cfg.Account, SessionName: runnerSessionName(issuerID), IssuerID: issuerID,
		SessionPolicy: runnerPolicy(s.cfg.Account, issuerID), Issued: now, Expiration: now.Add(ttl)}
	if !caller.Root {
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
		writeJSONError(w, http.StatusInternalServerError, awserr.CodeInternalFailure, "could not mint credentials")
		return
	}
	s.log.Info("runner credentials issued", "request_id", requestID(r.Context()), "issuer", issuerID, "caller", caller.ARN,
		"access_key_id", cr.AccessKeyID, "expiration", cr.Expiration)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"Version": 1, "AccessKeyId": cr.AccessKeyID,
		"SecretAccessKey": cr.SecretAccessKey, "SessionToken": cr.SessionToken, "Expiration": cr.Expiration.UTC().Format(time.RFC3339)})
}

// revokeRunnerCredentials serves POST
// /_keyless/issuers/{id}/runner-credentials/revoke: {"access_key_id": "ASIA…"}
// revokes one set of the issuer's runner credentials, {"all": true} every
// set issued until now. Revocations are kept as long as the credentials
// they cover could live (RunnerMaxTTL).
func (s *Server) revokeRunnerCredentials(w http.ResponseWriter, r *http.Request, caller *awsquery.Caller, issuerID string, body []byte) {
	var req struct {
		AccessKeyID string `json:"access_key_id"`
		All         bool   `json:"all"`
	}
	if !decodeAdminBody(w, body, &req, `{"access_key_id": "ASIA…"} or {"all": true}`) {
		return
	}
	if (req.AccessKeyID == "") == !req.All || (req.AccessKeyID != "" && !creds.IsTemporary(req.AccessKeyID)) {
		writeJSONError(w, http.StatusBadRequest, awserr.CodeInvalidInput, `give either "access_key_id" (an ASIA… key id) or "all": true`)
		return
	}
	if !s.issuerExists(w, r, issuerID) {
		return
	}
	if err := s.revokeRunners(r.Context(), issuerID, req.AccessKeyID); err != nil {
		s.log.Error("revoke runner credentials", "error", err.Error())
		awsquery.WriteJSONError(w, awsquery.FromStore(err, awsquery.StoreMessages{}))
		return
	}
	s.log.Info("runner credentials revoked", "request_id", requestID(r.Context()), "issuer", issuerID, "caller", caller.ARN,
		"access_key_id", req.AccessKeyID, "all", req.All)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuerID, "access_key_id": req.AccessKeyID, "all": req.All})
}

// revokeRunners revokes the runner credentials accessKeyID of issuerID, or
// all of them issued until now when accessKeyID is empty. Revocations are
// kept as long as the credentials they cover could live (RunnerMaxTTL).
// Deleting an issuer revokes all of its credentials this way (the issuer
// service's BeforeDelete).
func (s *Server) revokeRunners(ctx context.Context, issuerID, accessKeyID string) error {
	now := s.cfg.Now()
	rev := store.Revocation{IssuerID: issuerID, AccessKeyID: accessKeyID, Expires: now.Add(s.cfg.RunnerMaxTTL)}
	if accessKeyID == "" {
		// Credentials are minted with second precision: the next second on
		// is never revoked by this call.
		rev.IssuedBefore = now.Truncate(time.Second).Add(time.Second)
	}
	if err := s.store.PutRevocation(ctx, rev); err != nil {
		return fmt.Errorf("revoke runner credentials of issuer %s: %w", issuerID, err)
	}
	s.dir.Invalidate()
	return nil
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
		writeJSONError(w, http.StatusBadRequest, awserr.CodeInvalidInput, "request body must be "+shape)
		return false
	}
	return true
}

func (s *Server) issuerExists(w http.ResponseWriter, r *http.Request, issuerID string) bool {
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
