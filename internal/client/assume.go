package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/keylessci/keyless/internal/oidc"
)

// ChainMaxSeconds is AWS's cap on a role-chained session.
const ChainMaxSeconds = 3600

// AssumeInput is one exchange: a token for a role, optionally chained on.
type AssumeInput struct {
	RoleARN         string
	Token           string
	SessionName     string
	DurationSeconds int32 // 0 = STS default (3600)
	// ChainRoleARN, when set, is assumed with the first role's credentials.
	ChainRoleARN         string
	ChainDurationSeconds int32 // 0 = min(DurationSeconds, 3600); over 3600 is refused
}

// Credentials are temporary AWS credentials and whose they are.
type Credentials struct {
	AccessKeyID     string    `json:"AccessKeyId"`
	SecretAccessKey string    `json:"SecretAccessKey"`
	SessionToken    string    `json:"SessionToken"`
	Expiration      time.Time `json:"Expiration"`
	AssumedRoleARN  string    `json:"AssumedRoleArn,omitempty"`
	// Account is set by Verify (GetCallerIdentity) or derived from the ARN.
	Account string `json:"Account,omitempty"`
}

// Provider adapts c to aws.CredentialsProvider.
func (c *Credentials) Provider() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

// DeniedError is an AccessDenied answer to the exchange, with the token
// claims that decide it so the user can compare them with the trust policy.
type DeniedError struct {
	RoleARN  string
	Issuer   string
	Audience []string
	Subject  string
	Err      error
}

func (e *DeniedError) Error() string {
	return fmt.Sprintf("not authorized to assume %s with this token (iss %q, aud %q, sub %q); "+
		"run `keyless explain --role-arn %s --web-identity-token …` to see which condition fails: %v",
		e.RoleARN, e.Issuer, strings.Join(e.Audience, ","), e.Subject, e.RoleARN, e.Err)
}
func (e *DeniedError) Unwrap() error { return e.Err }

// Assume exchanges the token with AssumeRoleWithWebIdentity (retrying
// transient failures), then chains with AssumeRole when asked.
func (c *Client) Assume(ctx context.Context, in AssumeInput) (*Credentials, error) {
	if in.RoleARN == "" {
		return nil, errors.New("no role ARN")
	}
	if in.ChainDurationSeconds > ChainMaxSeconds {
		return nil, fmt.Errorf("chained session duration %d s exceeds the 1 hour limit AWS sets for role chaining", in.ChainDurationSeconds)
	}
	req := &sts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(in.RoleARN),
		RoleSessionName:  aws.String(in.SessionName),
		WebIdentityToken: aws.String(in.Token),
	}
	if in.DurationSeconds > 0 {
		req.DurationSeconds = aws.Int32(in.DurationSeconds)
	}
	var out *sts.AssumeRoleWithWebIdentityOutput
	err := c.retry(ctx, func(ctx context.Context) error {
		var err error
		out, err = c.sts.AssumeRoleWithWebIdentity(ctx, req, anonymous)
		return err
	})
	if err != nil {
		if isAccessDenied(err) {
			d := &DeniedError{RoleARN: in.RoleARN, Err: err}
			if t, perr := oidc.Parse(in.Token); perr == nil {
				d.Issuer, d.Audience, d.Subject = t.Issuer, t.Audience, t.Subject
			}
			return nil, d
		}
		return nil, fmt.Errorf("assume %s: %w", in.RoleARN, err)
	}
	cr := fromSTS(out.Credentials, out.AssumedRoleUser)
	if in.ChainRoleARN == "" {
		return cr, nil
	}
	dur := in.ChainDurationSeconds
	if dur == 0 {
		dur = min(max(in.DurationSeconds, 0), ChainMaxSeconds)
	}
	creq := &sts.AssumeRoleInput{RoleArn: aws.String(in.ChainRoleARN), RoleSessionName: aws.String(in.SessionName)}
	if dur > 0 {
		creq.DurationSeconds = aws.Int32(dur)
	}
	var cout *sts.AssumeRoleOutput
	err = c.retry(ctx, func(ctx context.Context) error {
		var err error
		cout, err = c.sts.AssumeRole(ctx, creq, withCreds(cr.Provider()))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("chain to %s from %s: %w", in.ChainRoleARN, cr.AssumedRoleARN, err)
	}
	return fromSTS(cout.Credentials, cout.AssumedRoleUser), nil
}

// Identity is the GetCallerIdentity answer.
type Identity struct{ Account, ARN, UserID string }

// Verify calls GetCallerIdentity with cr and records the account in it.
func (c *Client) Verify(ctx context.Context, cr *Credentials) (Identity, error) {
	var out *sts.GetCallerIdentityOutput
	err := c.retry(ctx, func(ctx context.Context) error {
		var err error
		out, err = c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, withCreds(cr.Provider()))
		return err
	})
	if err != nil {
		return Identity{}, fmt.Errorf("verify credentials with GetCallerIdentity: %w", err)
	}
	id := Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), UserID: aws.ToString(out.UserId)}
	cr.Account = id.Account
	return id, nil
}

// CheckAccount refuses credentials of an account outside allowed (when
// allowed is not empty).
func CheckAccount(cr *Credentials, allowed []string) error {
	if len(allowed) == 0 {
		return nil
	}
	for _, a := range allowed {
		if strings.TrimSpace(a) == cr.Account {
			return nil
		}
	}
	return fmt.Errorf("credentials are for account %q, which is not in --allowed-account-ids %s", cr.Account, strings.Join(allowed, ","))
}

func fromSTS(c *ststypes.Credentials, u *ststypes.AssumedRoleUser) *Credentials {
	cr := &Credentials{}
	if c != nil {
		cr.AccessKeyID = aws.ToString(c.AccessKeyId)
		cr.SecretAccessKey = aws.ToString(c.SecretAccessKey)
		cr.SessionToken = aws.ToString(c.SessionToken)
		cr.Expiration = aws.ToTime(c.Expiration).UTC()
	}
	if u != nil {
		cr.AssumedRoleARN = aws.ToString(u.Arn)
		if parts := strings.SplitN(cr.AssumedRoleARN, ":", 6); len(parts) == 6 {
			cr.Account = parts[4]
		}
	}
	return cr
}

func isAccessDenied(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "AccessDenied" || api.ErrorCode() == "AccessDeniedException")
}

// anonymous sends the call unsigned, as AWS expects for web identity.
func anonymous(o *sts.Options) { o.Credentials = aws.AnonymousCredentials{} }

func withCreds(p aws.CredentialsProvider) func(*sts.Options) {
	return func(o *sts.Options) { o.Credentials = p }
}
