package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/server/servertest"
)

func TestWebIdentityExchange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok := f.mint(t, ciclaims.Params{V2: true, VCSOrigin: "github.com/acme/app", VCSRef: "refs/heads/main"})
	out, err := f.assume(ctx, tok, func(in *sts.AssumeRoleWithWebIdentityInput) { in.DurationSeconds = aws.Int32(900) })
	if err != nil {
		t.Fatalf("AssumeRoleWithWebIdentity: %v", err)
	}
	c := out.Credentials
	if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || len(aws.ToString(c.AccessKeyId)) != 20 || len(aws.ToString(c.SecretAccessKey)) != 40 {
		t.Errorf("credentials shape: %q / %d-char secret", aws.ToString(c.AccessKeyId), len(aws.ToString(c.SecretAccessKey)))
	}
	if d := time.Until(aws.ToTime(c.Expiration)); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("expiration in %v, want ~15m", d)
	}
	wantARN := "arn:aws:sts::" + servertest.Account + ":assumed-role/circleci-deploy/CircleCI"
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != wantARN {
		t.Errorf("AssumedRoleUser.Arn = %s, want %s", got, wantARN)
	}
	if id := aws.ToString(out.AssumedRoleUser.AssumedRoleId); !strings.HasPrefix(id, "AROA") || !strings.HasSuffix(id, ":CircleCI") {
		t.Errorf("AssumedRoleId = %s", id)
	}
	if aws.ToString(out.Provider) != f.providerARN || aws.ToString(out.Audience) != f.org {
		t.Errorf("Provider/Audience = %s / %s", aws.ToString(out.Provider), aws.ToString(out.Audience))
	}
	if sub := aws.ToString(out.SubjectFromWebIdentityToken); !strings.HasPrefix(sub, "org/"+f.org+"/project/"+f.project+"/user/") {
		t.Errorf("SubjectFromWebIdentityToken = %s", sub)
	}
	if out.SessionTokenSize == nil || int(*out.SessionTokenSize) != len(aws.ToString(c.SessionToken)) ||
		out.SessionTokenUtilization == nil || *out.SessionTokenUtilization < 1 || *out.SessionTokenUtilization > 100 {
		t.Errorf("SessionTokenSize/Utilization = %v/%v", out.SessionTokenSize, out.SessionTokenUtilization)
	}
	//lint:ignore SA1019 deprecated in the model but still on the wire; AWS omits it without session policies
	if pps := out.PackedPolicySize; pps != nil {
		t.Errorf("PackedPolicySize = %d, want absent without session policies", *pps)
	}

	sess := stsClient(f.srv.URL, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	id, err := sess.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity with session credentials: %v", err)
	}
	if aws.ToString(id.Arn) != wantARN || aws.ToString(id.Account) != servertest.Account ||
		aws.ToString(id.UserId) != aws.ToString(out.AssumedRoleUser.AssumedRoleId) {
		t.Errorf("caller identity = %s %s %s", aws.ToString(id.Arn), aws.ToString(id.Account), aws.ToString(id.UserId))
	}
	root, err := f.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("root GetCallerIdentity: %v", err)
	}
	if aws.ToString(root.Arn) != "arn:aws:iam::"+servertest.Account+":root" || aws.ToString(root.UserId) != servertest.Account {
		t.Errorf("root identity = %s %s", aws.ToString(root.Arn), aws.ToString(root.UserId))
	}

	// RoleLastUsed is recorded off the request path, with the server's region.
	deadline := time.Now().Add(5 * time.Second)
	for {
		gr, err := f.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("circleci-deploy")})
		if err != nil {
			t.Fatal(err)
		}
		if lu := gr.Role.RoleLastUsed; lu != nil && lu.LastUsedDate != nil {
			if aws.ToString(lu.Region) != "us-east-1" || time.Since(aws.ToTime(lu.LastUsedDate)) > time.Minute {
				t.Errorf("RoleLastUsed = %s %v", aws.ToString(lu.Region), aws.ToTime(lu.LastUsedDate))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("RoleLastUsed never recorded")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Secrets never reach the log; the decision does.
	log := f.srv.Log()
	for name, secret := range map[string]string{"token": tok, "session token": aws.ToString(c.SessionToken),
		"session secret": aws.ToString(c.SecretAccessKey), "root secret": servertest.RootSecretKey} {
		if strings.Contains(log, secret) {
			t.Errorf("server log contains the %s", name)
		}
	}
	if !strings.Contains(log, `"verdict":"allow"`) {
		t.Errorf("no allow decision logged")
	}
}

func TestWebIdentityErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	good := f.mint(t, ciclaims.Params{})
	other := f.mint(t, ciclaims.Params{ProjectID: "cccccccc-0000-4000-8000-00000000000c"})
	wrongAud := f.mint(t, ciclaims.Params{Audience: []string{"someone-else"}})
	tags := func(n, keyLen, valLen int) string {
		m := map[string][]string{}
		for i := 0; i < n; i++ {
			m[fmt.Sprintf("k%03d%s", i, randHex(keyLen))] = []string{randHex(valLen)}
		}
		b, _ := json.Marshal(map[string]any{"principal_tags": m})
		return string(b)
	}
	bigTags := f.mint(t, ciclaims.Params{Extra: map[string]string{"https://aws.amazon.com/tags": tags(50, 60, 120)}})
	okTags := f.mint(t, ciclaims.Params{Extra: map[string]string{"https://aws.amazon.com/tags": tags(2, 4, 8)}})
	badTags := f.mint(t, ciclaims.Params{Extra: map[string]string{"https://aws.amazon.com/tags": "not-an-object"}})
	f.clock.SetOffset(-2 * time.Hour)
	expired := f.mint(t, ciclaims.Params{})
	f.clock.SetOffset(0)
	// An issuer that is hosted but whose URL is not registered as a provider.
	const stranger = "99999999-0000-4000-8000-000000000099"
	if _, err := f.srv.Issuers().Create(ctx, issuerCreate(stranger)); err != nil {
		t.Fatal(err)
	}
	unregistered, err := f.srv.Issuers().Mint(ctx, stranger, mintParams(stranger))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]

	tests := []struct {
		name, token, code, msg string
		mod                    func(*sts.AssumeRoleWithWebIdentityInput)
	}{
		{name: "trust policy denies another project", token: other, code: "AccessDenied", msg: "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{name: "unknown role is indistinguishable", token: good, code: "AccessDenied",
			mod: func(in *sts.AssumeRoleWithWebIdentityInput) {
				in.RoleArn = aws.String("arn:aws:iam::123456789012:role/nope")
			}},
		{name: "role of another account", token: good, code: "AccessDenied",
			mod: func(in *sts.AssumeRoleWithWebIdentityInput) {
				in.RoleArn = aws.String("arn:aws:iam::210987654321:role/circleci-deploy")
			}},
		{name: "issuer not registered", token: unregistered, code: "InvalidIdentityToken", msg: "No OpenIDConnect provider found in your account for https://oidc.circleci.com/org/" + stranger},
		{name: "wrong audience", token: wrongAud, code: "InvalidIdentityToken", msg: "Incorrect token audience"},
		{name: "garbage token", token: "not.a.token", code: "InvalidIdentityToken"},
		{name: "tampered payload", token: tampered, code: "InvalidIdentityToken"},
		{name: "expired", token: expired, code: "ExpiredTokenException", msg: "Token expired: current date/time"},
		{name: "session name too short", token: good, code: "ValidationError",
			msg: "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
			mod: func(in *sts.AssumeRoleWithWebIdentityInput) { in.RoleSessionName = aws.String("a") }},
		{name: "session name pattern", token: good, code: "ValidationError",
			mod: func(in *sts.AssumeRoleWithWebIdentityInput) { in.RoleSessionName = aws.String("has space") }},
		{name: "duration below 900", token: good, code: "ValidationError",
			mod: func(in *sts.AssumeRoleWithWebIdentityInput) { in.DurationSeconds = aws.Int32(100) }},
		{name: "duration above max session", token: good, code: "ValidationError", msg: "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
			mod: func(in *sts.AssumeRoleWithWebIdentityInput) { in.DurationSeconds = aws.Int32(7200) }},
		{name: "malformed role arn", token: good, code: "ValidationError", msg: "arn:aws:iam:nothing-valid-here is invalid",
			mod: func(in *sts.AssumeRoleWithWebIdentityInput) {
				in.RoleArn = aws.String("arn:aws:iam:nothing-valid-here")
			}},
		{name: "malformed session policy", token: good, code: "MalformedPolicyDocument",
			mod: func(in *sts.AssumeRoleWithWebIdentityInput) { in.Policy = aws.String("{not json") }},
		{name: "session tags overflow packed size", token: bigTags, code: "PackedPolicyTooLarge"},
		{name: "malformed session tags claim", token: badTags, code: "IDPRejectedClaim"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.assume(ctx, tt.token, tt.mod)
			if out != nil {
				t.Fatalf("got credentials, want %s", tt.code)
			}
			wantCode(t, err, tt.code)
			if tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q lacks %q", err.Error(), tt.msg)
			}
		})
	}
	t.Run("token with a trailing newline, as `echo > file` writes it", func(t *testing.T) {
		if _, err := f.assume(ctx, good+"\n", nil); err != nil {
			t.Fatalf("AssumeRoleWithWebIdentity: %v", err)
		}
	})
	t.Run("session tags within limits are accepted", func(t *testing.T) {
		out, err := f.assume(ctx, okTags, nil)
		if err != nil {
			t.Fatalf("AssumeRoleWithWebIdentity with tags: %v", err)
		}
		//lint:ignore SA1019 deprecated in the model but still on the wire for session tags
		pps := out.PackedPolicySize
		if pps == nil || *pps <= 0 || *pps > 100 {
			t.Errorf("PackedPolicySize = %v", pps)
		}
	})
	t.Run("denial reason is logged, not returned", func(t *testing.T) {
		log := f.srv.Log()
		if !strings.Contains(log, `"verdict":"deny"`) || !strings.Contains(log, "org/"+f.org+"/project/"+f.project+"/*") {
			t.Errorf("log lacks the denial trace:\n%s", lastLines(log, 5))
		}
		for _, tok := range []string{good, other, expired, bigTags} {
			if strings.Contains(log, tok) {
				t.Fatal("a token appears in the log")
			}
		}
	})
}

func TestSignedCallErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	out, err := f.assume(ctx, f.mint(t, ciclaims.Params{}), func(in *sts.AssumeRoleWithWebIdentityInput) { in.DurationSeconds = aws.Int32(900) })
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	id, secret, token := aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)
	flipped := []byte(token)
	flipped[len(flipped)/2] ^= 0x01
	tests := []struct {
		name, id, secret, token, code string
	}{
		{"unknown access key", "AKIAUNKNOWN000000000", "x", "", "InvalidClientTokenId"},
		{"temporary key without its token", id, secret, "", "InvalidClientTokenId"},
		{"flipped session token byte", id, secret, string(flipped), "InvalidClientTokenId"},
		{"token of another key id", "ASIAAAAAAAAAAAAAAAAA", secret, token, "InvalidClientTokenId"},
		{"wrong root secret", servertest.RootAccessKeyID, "wrong-secret-wrong-secret-wrong-secret!!", "", "SignatureDoesNotMatch"},
		{"wrong session secret", id, strings.Repeat("A", 40), token, "SignatureDoesNotMatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := stsClient(f.srv.URL, tt.id, tt.secret, tt.token).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			wantCode(t, err, tt.code)
		})
	}
	t.Run("expired session", func(t *testing.T) {
		f.clock.SetOffset(16 * time.Minute)
		defer f.clock.SetOffset(0)
		_, err := stsClient(f.srv.URL, id, secret, token).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		wantCode(t, err, "ExpiredToken")
	})
	t.Run("clock skew", func(t *testing.T) {
		f.clock.SetOffset(20 * time.Minute)
		defer f.clock.SetOffset(0)
		_, err := f.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		wantCode(t, err, "SignatureDoesNotMatch")
		if !strings.Contains(err.Error(), "Signature expired") {
			t.Errorf("message %q", err)
		}
	})
	t.Run("IAM call scoped to the sts service", func(t *testing.T) {
		// An IAM action signed for sts must fail like AWS: wrong service scope.
		status, body := rawSigned(t, f.srv.URL, "sts", "Action=ListRoles&Version=2010-05-08")
		if status != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") || !strings.Contains(body, "correct service: &#39;iam&#39;") {
			t.Errorf("status %d body %s", status, body)
		}
	})
	t.Run("issued credentials beyond their role's permissions", func(t *testing.T) {
		sessIAM := iamClient(f.srv.URL, id, secret, token)
		_, err := sessIAM.ListRoles(ctx, &iam.ListRolesInput{})
		wantCode(t, err, "AccessDenied")
		if !strings.Contains(err.Error(), "is not authorized to perform: iam:ListRoles") {
			t.Errorf("message %q", err)
		}
		_, err = f.iam.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("circleci-deploy"), PolicyName: aws.String("read"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ListRoles","iam:GetRole"],"Resource":"*"},
			 {"Effect":"Deny","Action":"iam:GetRole","Resource":"arn:aws:iam::123456789012:role/secret-*"}]}`)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sessIAM.ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
			t.Fatalf("ListRoles after granting it: %v", err)
		}
		_, err = sessIAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("x"),
			AssumeRolePolicyDocument: aws.String(fmt.Sprintf(seedTrust, f.providerARN, f.providerURL, f.org, f.project))})
		wantCode(t, err, "AccessDenied")
		if _, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("secret-db"),
			AssumeRolePolicyDocument: aws.String(fmt.Sprintf(seedTrust, f.providerARN, f.providerURL, f.org, f.project))}); err != nil {
			t.Fatal(err)
		}
		_, err = sessIAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("secret-db")})
		wantCode(t, err, "AccessDenied") // explicit deny wins over the allow
	})
}

func TestAssumeRoleChaining(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	trustCaller := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"sts:AssumeRole",
	  "Condition":{"StringEquals":{"sts:ExternalId":"ext-123"}}}]}`, f.roleARN)
	target, err := f.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("deployer"), AssumeRolePolicyDocument: aws.String(trustCaller),
		MaxSessionDuration: aws.Int32(7200)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.assume(ctx, f.mint(t, ciclaims.Params{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	sess := stsClient(f.srv.URL, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	in := func(mod func(*sts.AssumeRoleInput)) *sts.AssumeRoleInput {
		i := &sts.AssumeRoleInput{RoleArn: target.Role.Arn, RoleSessionName: aws.String("chained"), ExternalId: aws.String("ext-123")}
		if mod != nil {
			mod(i)
		}
		return i
	}
	t.Run("allowed by a trust policy naming the caller's role", func(t *testing.T) {
		ar, err := sess.AssumeRole(ctx, in(nil))
		if err != nil {
			t.Fatalf("AssumeRole: %v", err)
		}
		if got := aws.ToString(ar.AssumedRoleUser.Arn); got != "arn:aws:sts::123456789012:assumed-role/deployer/chained" {
			t.Errorf("arn %s", got)
		}
		if d := time.Until(aws.ToTime(ar.Credentials.Expiration)); d > time.Hour+time.Minute {
			t.Errorf("chained session lasts %v, want at most 1h", d)
		}
	})
	t.Run("wrong external id", func(t *testing.T) {
		_, err := sess.AssumeRole(ctx, in(func(i *sts.AssumeRoleInput) { i.ExternalId = aws.String("other") }))
		wantCode(t, err, "AccessDenied")
	})
	t.Run("chaining beyond one hour", func(t *testing.T) {
		_, err := sess.AssumeRole(ctx, in(func(i *sts.AssumeRoleInput) { i.DurationSeconds = aws.Int32(7200) }))
		wantCode(t, err, "ValidationError")
	})
	t.Run("root may not assume roles", func(t *testing.T) {
		_, err := f.sts.AssumeRole(ctx, in(nil))
		wantCode(t, err, "AccessDenied")
	})
	t.Run("duplicate session tag keys", func(t *testing.T) {
		_, err := sess.AssumeRole(ctx, in(func(i *sts.AssumeRoleInput) {
			i.Tags = []ststypes.Tag{{Key: aws.String("A"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}}
		}))
		wantCode(t, err, "InvalidParameterValue")
	})
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
