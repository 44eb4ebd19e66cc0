package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/directory"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/sigv4"
	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/sts"
)

// authenticator turns a SigV4-signed request into a Caller.
type authenticator struct {
	account string
	root    rootCredentials
	sealer  *creds.Sealer
	dir     *directory.Directory
	now     func() time.Time
}

// authenticate verifies the signature of r (whose body has been read into
// body) and returns the caller. service, when not empty, is the service the
// credential scope must name; region, when not empty, the region.
func (a *authenticator) authenticate(r *http.Request, body []byte, service, region string) (*awsquery.Caller, *sigv4.Signed, error) {
	signed, err := sigv4.Parse(r)
	if err != nil {
		return nil, nil, err
	}
	if service != "" && signed.Service != service {
		return nil, nil, awserr.New(awserr.CodeSignatureDoesNotMatch, http.StatusForbidden,
			"Credential should be scoped to correct service: '"+service+"'. ")
	}
	if region != "" && signed.Region != region {
		return nil, nil, awserr.New(awserr.CodeSignatureDoesNotMatch, http.StatusForbidden,
			"Credential should be scoped to a valid region. ")
	}
	var caller *awsquery.Caller
	var secret string
	switch {
	case signed.AccessKeyID == a.root.AccessKeyID:
		if signed.SecurityToken != "" {
			return nil, nil, invalidToken()
		}
		secret = a.root.SecretAccessKey
		caller = &awsquery.Caller{Root: true, Account: a.account, ARN: arn.Root(a.account), UserID: a.account,
			AccessKeyID: signed.AccessKeyID}
	case signed.SecurityToken != "":
		sess, sec, err := a.sealer.Open(signed.AccessKeyID, signed.SecurityToken)
		if err != nil {
			return nil, nil, err
		}
		if sess.Account != a.account {
			return nil, nil, invalidToken()
		}
		secret = sec
		if sess.RoleName == "" { // runner credentials: no role, a session policy only
			caller = &awsquery.Caller{Account: sess.Account, ARN: "arn:aws:sts::" + sess.Account + ":federated-user/" + sess.SessionName,
				UserID: sess.Account + ":" + sess.SessionName, AccessKeyID: signed.AccessKeyID, SessionName: sess.SessionName,
				Expiration: sess.Expiration, SessionPolicy: sess.SessionPolicy}
			break
		}
		caller = &awsquery.Caller{
			Account: sess.Account, ARN: arn.AssumedRole(sess.Account, sess.RoleName, sess.SessionName),
			UserID: sess.RoleID + ":" + sess.SessionName, AccessKeyID: signed.AccessKeyID,
			RoleARN: arn.Role(sess.Account, sess.RolePath, sess.RoleName), RoleName: sess.RoleName,
			SessionName: sess.SessionName, SourceIdentity: sess.SourceIdentity, Expiration: sess.Expiration,
			SessionPolicy: sess.SessionPolicy, PolicyARNs: sess.PolicyARNs,
		}
	default:
		return nil, nil, invalidToken()
	}
	if err := signed.Verify(r, body, secret, a.now()); err != nil {
		return nil, nil, err
	}
	return caller, signed, nil
}

func invalidToken() *awserr.Error {
	return awserr.New(awserr.CodeInvalidClientTokenID, http.StatusForbidden, "The security token included in the request is invalid.")
}

// authorize decides whether caller may perform action on resource: root may
// do anything; a session may do what its role's identity policies allow,
// bounded by its session policies, with explicit deny first.
func (a *authenticator) authorize(ctx context.Context, caller *awsquery.Caller, sourceIP string, secure bool, action, resource string) error {
	if caller == nil {
		return awserr.New(awserr.CodeMissingAuth, http.StatusForbidden, "Request is missing Authentication Token")
	}
	if caller.Root {
		return nil
	}
	denied := awserr.Newf(awserr.CodeAccessDenied, http.StatusForbidden,
		"User: %s is not authorized to perform: %s on resource: %s", caller.ARN, action, resource)
	if isRunner(caller) {
		// The runner's session policy is all it may do.
		perms, err := a.dir.SessionPolicies(ctx, caller.SessionPolicy, nil)
		if err != nil {
			return denied.Wrap(err)
		}
		req := &policy.Request{Principal: policy.Principal{Type: policy.PrincipalAWS, ID: caller.ARN, Account: caller.Account},
			Action: action, Resource: resource, Context: sts.CallerContext(caller, sourceIP, secure, a.now())}
		if policy.EvaluateSet(req, policy.Set{Identity: perms}) != policy.Allow {
			return denied.Wrap(errors.New("runner credentials allow only keyless:MintToken on their issuer"))
		}
		return nil
	}
	role, err := a.dir.Role(ctx, caller.RoleName)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return denied.Wrap(errors.New("the session's role no longer exists"))
		}
		return storeUnavailable(err)
	}
	if role.ARN != caller.RoleARN {
		return denied.Wrap(errors.New("the session's role was replaced"))
	}
	sess, err := a.dir.SessionPolicies(ctx, caller.SessionPolicy, caller.PolicyARNs)
	if err != nil {
		return denied.Wrap(err)
	}
	pc := sts.CallerContext(caller, sourceIP, secure, a.now())
	req := &policy.Request{
		Principal: policy.Principal{Type: policy.PrincipalAWS, ID: caller.ARN, Account: caller.Account, RoleARN: caller.RoleARN},
		Action:    action, Resource: resource, Context: pc,
	}
	set := policy.Set{Identity: role.Permissions, Session: sess}
	if policy.EvaluateSet(req, set) != policy.Allow {
		return denied.Wrap(errors.New(policy.ExplainSet(req, set).Text()))
	}
	return nil
}

func storeUnavailable(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return awserr.New(awserr.CodeServiceUnavailable, http.StatusServiceUnavailable,
			"Service is unavailable. Please try again later.").Wrap(err)
	}
	return err
}
