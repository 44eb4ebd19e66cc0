package sts

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	declog "github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/directory"
	"github.com/keylessci/keyless/internal/store"
)

// The playground decides through the action's own code: the verdicts, the
// reasons and the traces are those of AssumeRoleWithWebIdentity, no
// credentials are minted, and the log records a simulation, not an exchange.
func TestSimulateWebIdentity(t *testing.T) {
	roleARN := arn.Role(testAccount, "/", "deploy")
	claims := func(mod func(map[string]any)) string {
		c := map[string]any{"iss": testIssuer, "aud": "o", "sub": "org/o/project/p/user/u",
			"iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return signToken(t, c)
	}
	tests := []struct {
		name                 string
		in                   SimulateInput
		wantDecision, reason string
		wantCode             string // of the record
		wantTrace            bool
		wantErr              string // a ValidationError, not a decision
	}{
		{name: "allowed", in: SimulateInput{RoleARN: roleARN, Token: claims(nil)}, wantDecision: declog.Allow},
		{name: "trust policy denies", in: SimulateInput{RoleARN: roleARN, Token: claims(func(c map[string]any) { c["sub"] = "org/x/project/p/user/u" })},
			wantDecision: declog.Deny, reason: "policy denied sts:AssumeRoleWithWebIdentity", wantCode: awserr.CodeAccessDenied, wantTrace: true},
		{name: "audience rejected", in: SimulateInput{RoleARN: roleARN, Token: claims(func(c map[string]any) { c["aud"] = "other" })},
			wantDecision: declog.Deny, reason: "audience rejected", wantCode: awserr.CodeInvalidIdentityToken},
		{name: "expired token", in: SimulateInput{RoleARN: roleARN, Token: claims(func(c map[string]any) { c["exp"] = testNow.Add(-time.Hour).Unix() })},
			wantDecision: declog.Deny, reason: "token time rejected", wantCode: "ExpiredTokenException"},
		{name: "no such role", in: SimulateInput{RoleARN: arn.Role(testAccount, "/", "nope"), Token: claims(nil)},
			wantDecision: declog.Deny, reason: "no such role in this account", wantCode: awserr.CodeAccessDenied},
		{name: "garbage token", in: SimulateInput{RoleARN: roleARN, Token: "not.a.jwt"},
			wantDecision: declog.Deny, reason: "token rejected", wantCode: awserr.CodeInvalidIdentityToken},
		{name: "malformed role ARN", in: SimulateInput{RoleARN: "arn:aws:iam::role/nope-but-long", Token: claims(nil)}, wantErr: awserr.CodeValidation},
		{name: "bad session name", in: SimulateInput{RoleARN: roleARN, SessionName: "a b", Token: claims(nil)}, wantErr: awserr.CodeValidation},
		{name: "empty token", in: SimulateInput{RoleARN: roleARN}, wantErr: awserr.CodeValidation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logged []declog.Record
			dir := &fakeDir{
				roles:     map[string]*directory.Role{"deploy": testRole(t, "deploy", webTrust)},
				providers: map[string]*store.Provider{testProvider: {URL: testProvider, ClientIDs: []string{"o"}}},
			}
			h := newHarness(t, dir)
			h.svc.decisions = func(r declog.Record) { logged = append(logged, r) }
			tc.in.Caller = "arn:aws:iam::123456789012:root"
			rec, err := h.svc.SimulateWebIdentity(context.Background(), tc.in)
			if tc.wantErr != "" {
				wantErr(t, err, tc.wantErr, "")
				return
			}
			if err != nil {
				t.Fatalf("SimulateWebIdentity: %v", err)
			}
			if len(logged) != 1 || logged[0].Action != ActionSimulate || logged[0].Principal != tc.in.Caller || logged[0].Decision != rec.Decision {
				t.Errorf("decision log got %+v, want one %s record by the caller", logged, ActionSimulate)
			}
			if rec.Decision != tc.wantDecision || rec.Reason != tc.reason || rec.ErrorCode != tc.wantCode {
				t.Errorf("record = decision %q reason %q code %q, want %q %q %q", rec.Decision, rec.Reason, rec.ErrorCode, tc.wantDecision, tc.reason, tc.wantCode)
			}
			if (rec.Trace != nil) != tc.wantTrace {
				t.Errorf("trace = %v, want one: %v", rec.Trace, tc.wantTrace)
			}
			if rec.Decision == declog.Deny && rec.Fix == "" {
				t.Error("a denial without a fix")
			}
			if rec.Decision == declog.Allow && (rec.Subject != "org/o/project/p/user/u" || rec.Provider == "") {
				t.Errorf("allowed record lacks the token: subject %q provider %q", rec.Subject, rec.Provider)
			}
			if !strings.Contains(h.log.String(), "simulated decision") || strings.Contains(h.log.String(), "assume decision") {
				t.Errorf("log does not mark the simulation:\n%s", h.log)
			}
			if strings.Contains(h.log.String(), "access_key_id") {
				t.Errorf("the simulation minted credentials:\n%s", h.log)
			}
		})
	}
}
