package server_test

// The decision log end to end: what an exchange and a denied signed call
// leave in it, what the caller is (not) told, who may read it, that it
// survives a restart on SQLite and that replicas on one PostgreSQL share it.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/decision"
	"github.com/keylessci/keyless/internal/server"
	"github.com/keylessci/keyless/internal/server/servertest"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/store/sqlstore"
	"github.com/keylessci/keyless/internal/store/sqlstore/pgtest"
)

// fastDecisions writes partial batches every 20ms, so tests wait little.
func fastDecisions(c *server.Config) { c.DecisionsFlush = 20 * time.Millisecond }

// listDecisions calls GET /_keyless/decisions?query signed with cr.
func listDecisions(t *testing.T, endpoint, query string, cr aws.Credentials) (int, server.DecisionList, string) {
	t.Helper()
	status, body := do(t, signedRequest(t, http.MethodGet, endpoint, "/_keyless/decisions?"+query, "", cr, "keyless", time.Now()))
	var out server.DecisionList
	if status == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("list answer is not a decision list: %v: %s", err, body)
		}
	}
	return status, out, body
}

// awaitDecision waits (bounded) until a decision of request rid is listed
// by endpoint, and returns it.
func awaitDecision(t *testing.T, endpoint, rid string) decision.Record {
	t.Helper()
	return awaitLogged(t, endpoint, "a decision of request "+rid, func(d decision.Record) bool { return d.RequestID == rid })
}

// awaitLogged waits (bounded) until the decision log listed by endpoint
// holds a record match accepts, and returns it.
func awaitLogged(t *testing.T, endpoint, what string, match func(decision.Record) bool) decision.Record {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, out, _ := listDecisions(t, endpoint, "limit=1000", rootCreds)
		for _, d := range out.Decisions {
			if match(d) {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the decision log lacks %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requestIDOf is the request id of an SDK call's error.
func requestIDOf(t *testing.T, err error) string {
	t.Helper()
	var re interface{ ServiceRequestID() string }
	if !errors.As(err, &re) || re.ServiceRequestID() == "" {
		t.Fatalf("error %v carries no request id", err)
	}
	return re.ServiceRequestID()
}

// rawQuery posts an AWS query form and returns status, body and request id.
func rawQuery(t *testing.T, endpoint string, form url.Values) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("x-amzn-RequestId")
}

// unregisteredToken is a well-formed token of an issuer nobody registered.
func unregisteredToken(t *testing.T) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signToken(t, jwtSpec{iss: "https://unregistered.example.com", kid: "k1", key: k, sub: "<script>alert(1)</script>"})
}

func exchangeForm(roleARN, token string) url.Values {
	return url.Values{"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"}, "RoleArn": {roleARN},
		"RoleSessionName": {"decisions"}, "WebIdentityToken": {token}}
}

func TestDecisionLogExchanges(t *testing.T) {
	f := newFixture(t, fastDecisions)
	ctx := context.Background()

	// Allowed, with an attacker-chosen claim.
	const xss = `<script>alert(1)</script>`
	okToken := f.mint(t, ciclaims.Params{Extra: map[string]string{"x_note": xss}})
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/", strings.NewReader(exchangeForm(f.roleARN, okToken).Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "decision-test/1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("allowed exchange: status %d", resp.StatusCode)
	}
	allowed := awaitDecision(t, f.srv.URL, resp.Header.Get("x-amzn-RequestId"))

	// Denied by the trust policy: another project.
	otherProject := "cccccccc-0000-4000-8000-00000000000c"
	badToken := f.mint(t, ciclaims.Params{ProjectID: otherProject})
	status, body, rid := rawQuery(t, f.srv.URL, exchangeForm(f.roleARN, badToken))
	if status != http.StatusForbidden {
		t.Fatalf("denied exchange: status %d: %s", status, body)
	}
	denied := awaitDecision(t, f.srv.URL, rid)

	t.Run("allowed", func(t *testing.T) {
		if allowed.Decision != decision.Allow || allowed.Action != "sts:AssumeRoleWithWebIdentity" ||
			allowed.RoleARN != f.roleARN || allowed.Provider != f.providerARN || allowed.UserAgent != "decision-test/1" ||
			allowed.SourceIP != "127.0.0.1" || allowed.ErrorCode != "" || allowed.ID == "" {
			t.Errorf("allowed record: %+v", allowed)
		}
		if got := allowed.Claims["x_note"]; got != xss {
			t.Errorf("claim x_note = %q, want %q verbatim", got, xss)
		}
		if allowed.Subject == "" || allowed.Claims["sub"] != allowed.Subject {
			t.Errorf("subject %q, claims sub %v", allowed.Subject, allowed.Claims["sub"])
		}
	})
	t.Run("denied with its trace, the caller told nothing", func(t *testing.T) {
		if denied.Decision != decision.Deny || denied.ErrorCode != "AccessDenied" || denied.Trace == nil {
			t.Fatalf("denied record: %+v", denied)
		}
		if !strings.Contains(denied.ClosestMiss, otherProject) || denied.Fix == "" {
			t.Errorf("closest miss %q, fix %q", denied.ClosestMiss, denied.Fix)
		}
		var cond bool
		for _, p := range denied.Trace.Policies {
			for _, st := range p.Statements {
				for _, c := range st.Conditions {
					if strings.HasSuffix(c.Key, ":sub") && !c.Result && len(c.RequestValues) == 1 && strings.Contains(c.RequestValues[0], otherProject) {
						cond = true
					}
				}
			}
		}
		if !cond {
			t.Errorf("trace does not show the failed sub condition: %+v", denied.Trace)
		}
		if !strings.Contains(body, "<Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>") {
			t.Errorf("caller's answer: %s", body)
		}
		for _, leak := range []string{otherProject, f.project, "closest", "condition", "StringLike", denied.ID} {
			if strings.Contains(body, leak) {
				t.Errorf("caller's answer mentions %q: %s", leak, body)
			}
		}
	})
	t.Run("get by id", func(t *testing.T) {
		status, body := do(t, signedRequest(t, http.MethodGet, f.srv.URL, "/_keyless/decisions/"+denied.ID, "", rootCreds, "keyless", time.Now()))
		var got decision.Record
		if status != 200 || json.Unmarshal([]byte(body), &got) != nil || got.ID != denied.ID || got.Trace == nil {
			t.Errorf("GET decision: %d %s", status, body)
		}
		if status, _ := do(t, signedRequest(t, http.MethodGet, f.srv.URL, "/_keyless/decisions/nope", "", rootCreds, "keyless", time.Now())); status != 404 {
			t.Errorf("GET missing decision: %d, want 404", status)
		}
	})
	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			name, query string
			want        []string // ids, newest first
		}{
			{"decision", "decision=deny", []string{denied.ID}},
			{"role name and decision", "role=circleci-deploy&decision=allow", []string{allowed.ID}},
			{"role arn", "role=" + url.QueryEscape(f.roleARN), []string{denied.ID, allowed.ID}},
			{"provider url", "provider=" + url.QueryEscape("https://"+f.providerURL), []string{denied.ID, allowed.ID}},
			{"subject", "subject=" + url.QueryEscape(denied.Subject), []string{denied.ID}},
			{"until", "until=" + url.QueryEscape(allowed.Time.Add(-time.Hour).Format(time.RFC3339Nano)), nil},
			{"since", "since=1h&decision=deny", []string{denied.ID}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				status, out, body := listDecisions(t, f.srv.URL, tc.query, rootCreds)
				if status != 200 {
					t.Fatalf("status %d: %s", status, body)
				}
				var got []string
				for _, d := range out.Decisions {
					if d.Action == "sts:AssumeRoleWithWebIdentity" {
						got = append(got, d.ID)
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("ids %v, want %v", got, tc.want)
				}
			})
		}
		for _, bad := range []string{"decision=maybe", "limit=0", "limit=x", "since=yesterday", "cursor=%21%21", "colour=red"} {
			t.Run("bad "+bad, func(t *testing.T) {
				status, _, body := listDecisions(t, f.srv.URL, bad, rootCreds)
				if status != 400 || !strings.Contains(body, "ValidationError") {
					t.Errorf("status %d: %s", status, body)
				}
			})
		}
	})
	t.Run("cursor pages", func(t *testing.T) {
		_, first, _ := listDecisions(t, f.srv.URL, "limit=1&role=circleci-deploy", rootCreds)
		if len(first.Decisions) != 1 || first.NextCursor == "" {
			t.Fatalf("first page: %+v", first)
		}
		_, second, _ := listDecisions(t, f.srv.URL, "limit=1&role=circleci-deploy&cursor="+first.NextCursor, rootCreds)
		if len(second.Decisions) != 1 || second.Decisions[0].ID == first.Decisions[0].ID {
			t.Errorf("second page: %+v", second)
		}
	})
	t.Run("no raw token or signature in the stored decisions", func(t *testing.T) {
		// Stored batches are compressed, so the check reads them back
		// through the store, as every reader does.
		st, err := sqlstore.Open(ctx, sqlstore.Config{URL: "sqlite://" + filepath.Join(f.srv.DataDir, "keyless.db")})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stored, err := st.ListDecisions(ctx, store.DecisionFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range stored {
			row := fmt.Sprintf("%+v %s %s", d, d.Claims, d.Trace)
			for _, tok := range []string{okToken, badToken} {
				parts := strings.Split(tok, ".")
				for what, secret := range map[string]string{"token": tok, "signature": parts[2], "payload": parts[1]} {
					if strings.Contains(row, secret) {
						t.Errorf("stored decision %s holds the raw %s", d.ID, what)
					}
				}
			}
			if strings.Contains(row, servertest.RootSecretKey) {
				t.Errorf("stored decision %s holds the root secret", d.ID)
			}
		}
		if len(stored) < 2 {
			t.Errorf("%d decisions stored, want at least 2", len(stored))
		}
	})

	// Signed calls: a session of the role (no permission policy) is denied
	// IAM, AssumeRole and the decision log itself; each denial is recorded.
	sess := f.sessionCreds(t)
	t.Run("denied signed calls", func(t *testing.T) {
		_, err := iamClient(f.srv.URL, sess.AccessKeyID, sess.SecretAccessKey, sess.SessionToken).ListRoles(ctx, &iam.ListRolesInput{})
		wantCode(t, err, "AccessDenied")
		d := awaitDecision(t, f.srv.URL, requestIDOf(t, err))
		if d.Action != "iam:ListRoles" || d.Decision != decision.Deny || d.Trace == nil || !strings.Contains(d.Principal, "assumed-role/circleci-deploy") {
			t.Errorf("IAM denial record: %+v", d)
		}
		_, err = stsClient(f.srv.URL, sess.AccessKeyID, sess.SecretAccessKey, sess.SessionToken).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String(f.roleARN), RoleSessionName: aws.String("chain")})
		wantCode(t, err, "AccessDenied")
		d = awaitDecision(t, f.srv.URL, requestIDOf(t, err))
		if d.Action != "sts:AssumeRole" || d.Decision != decision.Deny || d.Trace == nil || d.RoleARN != f.roleARN {
			t.Errorf("AssumeRole denial record: %+v", d)
		}
		bad := aws.Credentials{AccessKeyID: servertest.RootAccessKeyID, SecretAccessKey: strings.Repeat("x", 40)}
		_, err = iamClient(f.srv.URL, bad.AccessKeyID, bad.SecretAccessKey, "").ListRoles(ctx, &iam.ListRolesInput{})
		wantCode(t, err, "SignatureDoesNotMatch")
		d = awaitDecision(t, f.srv.URL, requestIDOf(t, err))
		if d.Reason != "bad signature" || d.Decision != decision.Deny || d.Fix == "" {
			t.Errorf("bad signature record: %+v", d)
		}
	})
	t.Run("allowed AssumeRole", func(t *testing.T) {
		chain, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("chained"), AssumeRolePolicyDocument: aws.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + f.roleARN + `"},"Action":"sts:AssumeRole"}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		cl := stsClient(f.srv.URL, sess.AccessKeyID, sess.SecretAccessKey, sess.SessionToken)
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, err = cl.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: chain.Role.Arn, RoleSessionName: aws.String("chain")})
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond) // the new role reaches the cache
		}
		if err != nil {
			t.Fatal(err)
		}
		status, out, body := listDecisions(t, f.srv.URL, "role=chained&decision=allow", rootCreds)
		for deadline := time.Now().Add(60 * time.Second); status == 200 && len(out.Decisions) == 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			status, out, body = listDecisions(t, f.srv.URL, "role=chained&decision=allow", rootCreds)
		}
		if len(out.Decisions) != 1 || out.Decisions[0].Action != "sts:AssumeRole" || !strings.Contains(out.Decisions[0].Principal, "assumed-role/circleci-deploy") {
			t.Errorf("allowed AssumeRole: %d %s", status, body)
		}
	})
	t.Run("metrics count what was written", func(t *testing.T) {
		status, body := do(t, mustRequest(t, http.MethodGet, f.srv.URL+"/metrics"))
		if status != 200 || !strings.Contains(body, "keyless_decisions_written_total") || !strings.Contains(body, "keyless_decisions_dropped_total 0") {
			t.Errorf("metrics: %d, decision counters missing or dropped nonzero", status)
		}
	})
	t.Run("reading the log is authorized by policy", func(t *testing.T) {
		status, _, body := listDecisions(t, f.srv.URL, "", sess)
		if status != http.StatusForbidden || !strings.Contains(body, "AccessDenied") {
			t.Fatalf("session without keyless:ListDecisions: %d %s", status, body)
		}
		_, err := f.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("circleci-deploy"), PolicyName: aws.String("read-log"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"keyless:ListDecisions","Resource":"*"}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			status, out, body := listDecisions(t, f.srv.URL, "decision=deny&limit=1000", sess)
			var sawOwnDenial bool
			for _, d := range out.Decisions {
				sawOwnDenial = sawOwnDenial || d.Action == "keyless:ListDecisions"
			}
			if status == 200 && sawOwnDenial {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("granted session: %d, its own earlier denial listed: %v: %s", status, sawOwnDenial, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
		status, body = do(t, signedRequest(t, http.MethodGet, f.srv.URL, "/_keyless/decisions/"+denied.ID, "", sess, "keyless", time.Now()))
		if status != http.StatusForbidden {
			t.Errorf("GetDecision without keyless:GetDecision: %d %s", status, body)
		}
		status, body = do(t, signedRequest(t, http.MethodGet, f.srv.URL, "/_keyless/issuers", "", sess, "keyless", time.Now()))
		if status != http.StatusForbidden {
			t.Fatalf("ListIssuers without keyless:ListIssuers: %d %s", status, body)
		}
		for deadline := time.Now().Add(60 * time.Second); ; {
			_, out, _ := listDecisions(t, f.srv.URL, "decision=deny&limit=1000", rootCreds)
			var get, issuers bool
			for _, d := range out.Decisions {
				get = get || d.Action == "keyless:GetDecision"
				issuers = issuers || (d.Action == "keyless:ListIssuers" && d.Trace != nil)
			}
			if get && issuers {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("refused admin calls recorded: GetDecision %v, ListIssuers %v", get, issuers)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// runServer runs a server on cfg until stop, which shuts it down gracefully.
func runServer(t *testing.T, cfg server.Config) (endpoint string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("server did not shut down")
		}
		_ = srv.Close()
	}
	t.Cleanup(stop)
	endpoint = "http://" + ln.Addr().String()
	waitUp(t, endpoint)
	return endpoint, stop
}

func waitUp(t *testing.T, endpoint string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for mnHealth(endpoint) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("%s never became healthy", endpoint)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Decisions recorded before a graceful shutdown are there after a restart
// on the same data dir. The flush interval is longer than the test, so only
// the shutdown's flush can have written them.
func TestDecisionLogSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := server.Config{DataDir: dir, Account: servertest.Account, RootAccessKeyID: servertest.RootAccessKeyID,
		RootSecretKey: servertest.RootSecretKey, Log: slog.New(slog.DiscardHandler), DecisionsFlush: time.Hour}
	ep, stop := runServer(t, cfg)
	status, _, rid1 := rawQuery(t, ep, exchangeForm("arn:aws:iam::"+servertest.Account+":role/r", unregisteredToken(t)))
	if status != http.StatusBadRequest {
		t.Fatalf("exchange with an unregistered issuer: %d", status)
	}
	_, err := iamClient(ep, servertest.RootAccessKeyID, strings.Repeat("y", 40), "").ListRoles(context.Background(), &iam.ListRolesInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("bad signature: %v", err)
	}
	rid2 := requestIDOf(t, err)
	stop()

	cfg.DecisionsFlush = 0
	ep, _ = runServer(t, cfg)
	_, out, body := listDecisions(t, ep, "decision=deny", rootCreds)
	got := map[string]decision.Record{}
	for _, d := range out.Decisions {
		got[d.RequestID] = d
	}
	if d, ok := got[rid1]; !ok || d.ErrorCode != "InvalidIdentityToken" || d.Reason != "issuer not registered" ||
		d.Claims["sub"] != "<script>alert(1)</script>" {
		t.Errorf("exchange decision after restart: %+v (list: %s)", d, body)
	}
	if d, ok := got[rid2]; !ok || d.ErrorCode != "SignatureDoesNotMatch" || d.Action != "iam:ListRoles" {
		t.Errorf("bad-signature decision after restart: %+v (list: %s)", d, body)
	}
}

// Two replicas on one PostgreSQL database: each one's decisions are in the
// one log, read from either.
func TestDecisionLogReplicasShareOneLog(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs PostgreSQL")
	}
	dbURL := pgtest.StartServer(t).NewDatabase(t)
	onPG := func(c *server.Config) {
		c.StoreURL, c.MasterKey = dbURL, testMasterKey(t)
		fastDecisions(c)
	}
	a := servertest.Start(t, onPG)
	b := servertest.Start(t, onPG)
	role := "arn:aws:iam::" + servertest.Account + ":role/r"
	var rids []string
	for _, r := range []*servertest.Server{a, b, a, b} {
		_, _, rid := rawQuery(t, r.URL, exchangeForm(role, unregisteredToken(t)))
		rids = append(rids, rid)
	}
	for _, reader := range []*servertest.Server{a, b} {
		for _, rid := range rids {
			if d := awaitDecision(t, reader.URL, rid); d.Reason != "issuer not registered" {
				t.Errorf("decision %s: %+v", rid, d)
			}
		}
	}
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// A SIGKILLed server leaves a store that opens, holds every decision written
// before the kill, and no half-written one.
func TestDecisionLogAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and kills the real binary")
	}
	dir := t.TempDir()
	r := startReplica(t, "killed", []string{"--data-dir", dir}, nil)
	role := "arn:aws:iam::" + servertest.Account + ":role/r"
	var written []string
	for range 5 {
		_, _, rid := rawQuery(t, r.url, exchangeForm(role, unregisteredToken(t)))
		written = append(written, rid)
	}
	for _, rid := range written {
		awaitDecision(t, r.url, rid)
	}
	for range 20 {
		rawQuery(t, r.url, exchangeForm(role, unregisteredToken(t)))
	}
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.done

	r2 := startReplica(t, "restarted", []string{"--data-dir", dir}, nil)
	_, out, body := listDecisions(t, r2.url, "limit=1000", rootCreds)
	got := map[string]bool{}
	for _, d := range out.Decisions {
		got[d.RequestID] = true
		if d.Decision != decision.Deny || d.ErrorCode != "InvalidIdentityToken" || d.Claims["sub"] == nil {
			t.Errorf("incomplete decision after the kill: %+v", d)
		}
	}
	for _, rid := range written {
		if !got[rid] {
			t.Errorf("decision %s, written before the kill, is gone (list: %s)", rid, body)
		}
	}
	if n := len(out.Decisions); n < len(written) || n > len(written)+20 {
		t.Errorf("%d decisions after the kill, want %d to %d", n, len(written), len(written)+20)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "keyless.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check after the kill: %q, %v", check, err)
	}
}
