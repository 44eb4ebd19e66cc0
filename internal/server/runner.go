package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/store"
)

// Runner credentials are what a CI system holds to mint job tokens from one
// hosted issuer without holding root credentials: sealed session
// credentials with no role, whose only permission is a policy allowing
// keyless:MintToken on that issuer (like AWS's GetFederationToken with the
// account as parent). They expire and cannot be revoked one by one: keep
// their lifetime short and rotate them.
const (
	runnerDefaultTTL = 30 * 24 * time.Hour
	runnerMaxTTL     = 365 * 24 * time.Hour
	runnerPrefix     = "runner-"
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

// runnerCredentials serves POST /_keyless/issuers/{id}/runner-credentials.
// The answer has credential_process's shape (Version 1), so it can be used
// as is.
func (s *Server) runnerCredentials(w http.ResponseWriter, r *http.Request, issuerID string, body []byte) {
	var req struct {
		TTL string `json:"ttl"`
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSONError(w, http.StatusBadRequest, "InvalidInput", "request body must be {\"ttl\": \"720h\"}")
			return
		}
	}
	ttl := runnerDefaultTTL
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil || d < 15*time.Minute || d > runnerMaxTTL {
			writeJSONError(w, http.StatusBadRequest, "InvalidInput", fmt.Sprintf("ttl must be a duration from 15m to %s", runnerMaxTTL))
			return
		}
		ttl = d
	}
	if _, err := s.issuers.Get(r.Context(), issuerID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeJSONError(w, http.StatusNotFound, "NoSuchEntity", "no issuer "+issuerID)
			return
		}
		s.log.Error("runner credentials: read issuer", "error", err.Error())
		writeJSONError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "the store is unavailable")
		return
	}
	now := s.cfg.Now()
	cr, err := s.sealer.Mint(creds.Session{Account: s.cfg.Account, SessionName: runnerSessionName(issuerID),
		SessionPolicy: runnerPolicy(s.cfg.Account, issuerID), Issued: now, Expiration: now.Add(ttl)})
	if err != nil {
		s.log.Error("runner credentials: mint", "error", err.Error())
		writeJSONError(w, http.StatusInternalServerError, "InternalFailure", "could not mint credentials")
		return
	}
	s.log.Info("runner credentials issued", "request_id", requestID(r.Context()), "issuer", issuerID,
		"access_key_id", cr.AccessKeyID, "expiration", cr.Expiration)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"Version": 1, "AccessKeyId": cr.AccessKeyID,
		"SecretAccessKey": cr.SecretAccessKey, "SessionToken": cr.SessionToken, "Expiration": cr.Expiration.UTC().Format(time.RFC3339)})
}
