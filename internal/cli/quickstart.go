package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithy "github.com/aws/smithy-go"
	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/server"
	kssts "github.com/keylessci/keyless/internal/sts"
)

// quickstartAccount is the account the ephemeral quickstart server acts as.
const quickstartAccount = "123456789012"

func newQuickstartCmd(env Env) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:     "quickstart",
		Example: "  keyless quickstart",
		Short:   "Run the CircleCI → AWS OIDC flow end to end on a throwaway server, and explain each step",
		Long: `quickstart starts a keyless server in this process (fresh data directory, removed
at the end) and walks through the whole CircleCI → AWS OIDC setup with real AWS SDK
calls over HTTP: an issuer for a new organization, the IAM OIDC provider, a role
whose trust policy admits one project only, a job token, AssumeRoleWithWebIdentity,
GetCallerIdentity with the temporary credentials, then a token of another project
that is denied, and why. It ends with the commands to repeat it by hand.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runQuickstart(cmd.Context(), env.Stdout, keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep-data", false, "keep the temporary data directory (its path is printed)")
	return cmd
}

// quickstart holds the state of one run.
type quickstart struct {
	out      io.Writer
	step     int
	endpoint string
	admin    *adminClient
	iam      *iam.Client
	sts      *sts.Client
}

func (q *quickstart) say(format string, args ...any) {
	q.step++
	fmt.Fprintf(q.out, "\n%d. %s\n", q.step, fmt.Sprintf(format, args...))
}

func (q *quickstart) detail(format string, args ...any) {
	for _, line := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		fmt.Fprintf(q.out, "   %s\n", line)
	}
}

func runQuickstart(ctx context.Context, out io.Writer, keep bool) (err error) {
	dir, err := os.MkdirTemp("", "keyless-quickstart-")
	if err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	rootID, rootSecret, err := randomRootCredentials()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, err := server.New(ctx, server.Config{DataDir: dir, Account: quickstartAccount,
		RootAccessKeyID: rootID, RootSecretKey: rootSecret, Stdout: io.Discard})
	if err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	defer func() {
		cancel()
		if rerr := <-done; rerr != nil && !errors.Is(rerr, http.ErrServerClosed) && err == nil {
			err = fmt.Errorf("server: %w", rerr)
		}
	}()
	endpoint := "http://" + ln.Addr().String()
	if err := waitReady(ctx, endpoint); err != nil {
		return err
	}

	rootCreds := credentials.NewStaticCredentialsProvider(rootID, rootSecret, "")
	q := &quickstart{
		out: out, endpoint: endpoint,
		admin: &adminClient{endpoint: endpoint, creds: rootCreds, region: "us-east-1", http: &http.Client{Timeout: 30 * time.Second}},
		iam:   iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: rootCreds}),
		sts:   sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: rootCreds}),
	}
	fmt.Fprintf(out, "keyless quickstart: a CircleCI job gets AWS credentials without any stored access key.\n")
	fmt.Fprintf(out, "A throwaway keyless server is running at %s (data in %s%s).\n", endpoint, dir, map[bool]string{true: ", kept", false: ", removed at the end"}[keep])
	fmt.Fprintf(out, "It plays both sides: CircleCI's token issuer and AWS's IAM and STS (account %s).\n", quickstartAccount)
	return q.run(ctx)
}

func (q *quickstart) run(ctx context.Context) error {
	org, err := newUUID()
	if err != nil {
		return err
	}
	project, _ := newUUID()
	other, _ := newUUID()
	user, _ := newUUID()

	// 1. The issuer.
	q.say("CircleCI side: create the OIDC issuer of a new organization.")
	var v issuer.IssuerView
	if err := q.admin.do(ctx, http.MethodPost, "/_keyless/issuers", issuer.CreateRequest{Profile: string(ciclaims.CircleCI), OrgID: org}, &v); err != nil {
		return fmt.Errorf("create issuer: %w", err)
	}
	q.detail("organization id: %s\nissuer URL:      %s\nits public keys: %s", org, v.URL, v.JWKSURI)
	q.detail("Tokens it signs are trusted by this keyless server only (it knows their keys in process);\nreal AWS trusts only the real oidc.circleci.com.")

	// 2. The provider.
	providerHost := strings.TrimPrefix(v.URL, "https://")
	q.say("AWS side: register the issuer as an IAM OIDC identity provider; the audience is the org id.")
	pout, err := q.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(v.URL), ClientIDList: []string{org},
		ThumbprintList: []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"},
	})
	if err != nil {
		return fmt.Errorf("create OIDC provider: %w", err)
	}
	providerARN := aws.ToString(pout.OpenIDConnectProviderArn)
	q.detail("provider: %s", providerARN)

	// 3. The role.
	trust := seedTrustPolicy(providerARN, providerHost, org, project)
	q.say("AWS side: create a role whose trust policy admits only project %s.", project)
	q.detail("%s", trust)
	rout, err := q.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("circleci-deploy"), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	roleARN := aws.ToString(rout.Role.Arn)
	q.detail("role: %s", roleARN)

	// 4. The job token.
	q.say("CircleCI side: a job of project %s starts and receives $CIRCLE_OIDC_TOKEN_V2.", project)
	tok, err := q.mint(ctx, org, project, user, "github.com/acme/app")
	if err != nil {
		return err
	}
	if err := q.showClaims(tok); err != nil {
		return err
	}

	// 5. The exchange.
	q.say("The job calls sts:AssumeRoleWithWebIdentity with the token (unsigned: the token is the proof).")
	aout, err := q.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("CircleCI"), WebIdentityToken: aws.String(tok),
		DurationSeconds: aws.Int32(900),
	}, func(o *sts.Options) { o.Credentials = aws.AnonymousCredentials{} })
	if err != nil {
		return fmt.Errorf("AssumeRoleWithWebIdentity: %w", err)
	}
	c := aout.Credentials
	q.detail("allowed: the signature checks out against the issuer's keys, aud is the org id,\nand sub matches the policy's pattern.")
	q.detail("temporary credentials: %s (expires %s)", aws.ToString(c.AccessKeyId), aws.ToTime(c.Expiration).UTC().Format(time.RFC3339))

	// 6. Using the credentials.
	q.say("The job calls sts:GetCallerIdentity with those temporary credentials.")
	tmp := credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	id, err := q.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.Options) { o.Credentials = tmp })
	if err != nil {
		return fmt.Errorf("GetCallerIdentity: %w", err)
	}
	q.detail("caller: %s", aws.ToString(id.Arn))

	// 7. Another project is denied.
	q.say("A job of another project (%s) tries the same role.", other)
	tok2, err := q.mint(ctx, org, other, user, "github.com/acme/other")
	if err != nil {
		return err
	}
	_, err = q.sts.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("CircleCI"), WebIdentityToken: aws.String(tok2),
	}, func(o *sts.Options) { o.Credentials = aws.AnonymousCredentials{} })
	var ae smithy.APIError
	switch {
	case err == nil:
		return errors.New("the other project's token was let in: the trust policy is not enforced")
	case !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied":
		return fmt.Errorf("other project: expected AccessDenied, got: %w", err)
	}
	q.detail("denied: %s: %s", ae.ErrorCode(), ae.ErrorMessage())
	miss, where, err := explainDenial(tok2, trust, kssts.WebIdentityInput{
		ProviderURL: providerHost, ProviderARN: providerARN, Audience: org, RoleARN: roleARN,
		SessionName: "CircleCI", Now: time.Now(),
	})
	if err != nil {
		return err
	}
	q.detail("why (AWS never tells the caller; the keyless server logs it):\n  %s: %s", where, miss)

	q.byHand(org, project, user, other, roleARN)
	return nil
}

// mint asks the issuer for a v2 job token, as `keyless token --v2` does.
func (q *quickstart) mint(ctx context.Context, org, project, user, origin string) (string, error) {
	req := issuer.MintRequest{Params: ciclaims.Params{OrgID: org, ProjectID: project, UserID: user, V2: true,
		VCSOrigin: origin, VCSRef: "refs/heads/main"}}
	var out struct {
		Token string `json:"token"`
	}
	if err := q.admin.do(ctx, http.MethodPost, "/_keyless/issuers/"+url.PathEscape(org)+"/token", req, &out); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return out.Token, nil
}

func (q *quickstart) showClaims(tok string) error {
	t, err := oidc.Parse(tok)
	if err != nil {
		return fmt.Errorf("parse minted token: %w", err)
	}
	q.detail("iss: %s\naud: %s\nsub: %s\nexpires in %s", t.Issuer, strings.Join(t.Audience, ", "), t.Subject,
		time.Unix(t.Expiry, 0).Sub(time.Unix(t.IssuedAt, 0)))
	return nil
}

// explainDenial evaluates the trust policy for the token exactly as the
// server's STS does and returns the closest miss and where it is.
func explainDenial(tok, trust string, in kssts.WebIdentityInput) (miss, where string, err error) {
	t, err := oidc.Parse(tok)
	if err != nil {
		return "", "", fmt.Errorf("parse token: %w", err)
	}
	p, err := policy.Parse(trust, policy.Trust)
	if err != nil {
		return "", "", fmt.Errorf("parse trust policy: %w", err)
	}
	in.Token = t
	for _, req := range in.Requests() {
		if p.Evaluate(req) != policy.Allow {
			tr := p.Explain(req)
			return tr.ClosestMiss, tr.ClosestStatement, nil
		}
	}
	return "", "", errors.New("the trust policy allows this token, yet the server denied it")
}

func seedTrustPolicy(providerARN, providerHost, org, project string) string {
	return policy.WebIdentityTrustJSON(providerARN, policy.Conditions{
		"StringLike": {providerHost + ":sub": {ciclaims.CircleCIProjectSubjects(org, project)}}})
}

func (q *quickstart) byHand(org, project, user, other, roleARN string) {
	acct := quickstartAccount
	if a, err := arn.Parse(roleARN); err == nil {
		acct = a.Account
	}
	fmt.Fprintf(q.out, `
Done: the job of project %[2]s got temporary credentials; a job of any other project is refused.

To repeat it by hand (two terminals; the aws CLI talks to keyless with --endpoint-url):

  export KEYLESS_ROOT_ACCESS_KEY_ID=AKIAKEYLESSLOCAL0001 KEYLESS_ROOT_SECRET_ACCESS_KEY=$(openssl rand -hex 20)
  keyless serve --data-dir ./keyless-data --account-id %[5]s          # terminal 1, same env

  export AWS_ACCESS_KEY_ID=$KEYLESS_ROOT_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$KEYLESS_ROOT_SECRET_ACCESS_KEY
  export AWS_DEFAULT_REGION=us-east-1 KEYLESS_ENDPOINT=http://127.0.0.1:8787 EP=http://127.0.0.1:8787
  ORG=%[1]s PROJ=%[2]s USER_ID=%[3]s
  keyless issuer create --profile circleci --org-id $ORG
  aws --endpoint-url $EP iam create-open-id-connect-provider --url https://oidc.circleci.com/org/$ORG \
      --client-id-list $ORG --thumbprint-list 9e99a48a9960b14926bb7f3b02e22da2b0ab7280
  cat > trust.json <<EOF
%[6]s
EOF
  aws --endpoint-url $EP iam create-role --role-name circleci-deploy --assume-role-policy-document file://trust.json
  TOKEN=$(keyless token --org-id $ORG --project-id $PROJ --user-id $USER_ID --v2 \
      --vcs-origin github.com/acme/app --vcs-ref refs/heads/main)
  read -r AK SK ST < <(aws --endpoint-url $EP sts assume-role-with-web-identity \
      --role-arn arn:aws:iam::%[5]s:role/circleci-deploy --role-session-name CircleCI --web-identity-token "$TOKEN" \
      --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
  AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK AWS_SESSION_TOKEN=$ST aws --endpoint-url $EP sts get-caller-identity

  # a job of another project: AccessDenied
  OTHER=$(keyless token --org-id $ORG --project-id %[4]s --user-id $USER_ID --v2 \
      --vcs-origin github.com/acme/other --vcs-ref refs/heads/main)
  aws --endpoint-url $EP sts assume-role-with-web-identity --role-arn arn:aws:iam::%[5]s:role/circleci-deploy \
      --role-session-name CircleCI --web-identity-token "$OTHER"
`, org, project, user, other, acct,
		seedTrustPolicy(arn.OIDCProvider(acct, "oidc.circleci.com/org/$ORG"), "oidc.circleci.com/org/$ORG", "$ORG", "$PROJ"))
}

func waitReady(ctx context.Context, endpoint string) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/_keyless/health", nil)
		if err != nil {
			return err
		}
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("server at %s did not become healthy", endpoint)
}

func randomRootCredentials() (id, secret string, err error) {
	b := make([]byte, 28)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate root credentials: %w", err)
	}
	h := strings.ToUpper(hex.EncodeToString(b))
	return "AKIAQS" + h[:14], strings.ToLower(h[14:]) + "quickstart", nil
}

func newUUID() (string, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return "", fmt.Errorf("generate uuid: %w", err)
	}
	return id.String(), nil
}
