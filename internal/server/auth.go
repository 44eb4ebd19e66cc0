package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keylessci/keyless/internal/arn"
	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
	"github.com/keylessci/keyless/internal/creds"
	"github.com/keylessci/keyless/internal/directory"
	"github.com/keylessci/keyless/internal/identity"
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
func (a *authenticator) authenticate(r *http.Request, body []byte, service, region string) (*identity.Caller, *sigv4.Signed, error) {
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
	caller, secret, err := a.credentials(r.Context(), signed.AccessKeyID, signed.SecurityToken)
	if err != nil {
		return nil, nil, err
	}
	if err := signed.Verify(r, body, secret, a.now()); err != nil {
		return nil, nil, err
	}
	return caller, signed, nil
}

// credentials returns the caller an access key id (and session token)
// belongs to and its secret: root's, or a session's sealed in its token
// (expiry and runner revocation checked). Every signed request and every
// console login is authenticated through here.
func (a *authenticator) credentials(ctx context.Context, accessKeyID, securityToken string) (caller *identity.Caller, secret string, err error) {
	switch {
	case accessKeyID == a.root.AccessKeyID:
		if securityToken != "" {
			return nil, "", invalidToken()
		}
		secret = a.root.SecretAccessKey
		caller = &identity.Caller{Kind: identity.Root, Account: a.account, ARN: arn.Root(a.account), UserID: a.account,
			AccessKeyID: accessKeyID}
	case securityToken != "":
		sess, sec, err := a.sealer.Open(accessKeyID, securityToken)
		if err != nil {
			return nil, "", err
		}
		if sess.Account != a.account {
			return nil, "", invalidToken()
		}
		secret = sec
		if sess.RoleName == "" {
			if err := a.checkRunner(ctx, sess, accessKeyID); err != nil {
				return nil, "", err
			}
		}
		caller = sessionCaller(sess, accessKeyID)
	default:
		return nil, "", invalidToken()
	}
	return caller, secret, nil
}

// login checks a console login: the secret must be the one the access key
// id (and session token) name, compared in constant time.
func (a *authenticator) login(ctx context.Context, accessKeyID, secret, securityToken string) (*identity.Caller, error) {
	caller, want, err := a.credentials(ctx, accessKeyID, securityToken)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 {
		return nil, awserr.New(awserr.CodeSignatureDoesNotMatch, http.StatusForbidden, "The secret access key does not match the access key id.")
	}
	return caller, nil
}

// checkRunner refuses runner credentials that were revoked (one by one or
// with all of their issuer's), and those sealed before runner credentials
// named their issuer (they cannot be revoked, so they are not honoured).
func (a *authenticator) checkRunner(ctx context.Context, sess creds.Session, accessKeyID string) error {
	if sess.IssuerID == "" {
		return invalidToken().Wrap(errors.New("runner credentials from before revocation existed; issue new ones"))
	}
	revoked, err := a.dir.RunnerRevoked(ctx, sess.IssuerID, accessKeyID, sess.Issued, a.now())
	if err != nil {
		return awsquery.FromStoreOutage(err)
	}
	if revoked {
		return invalidToken().Wrap(fmt.Errorf("runner credentials of issuer %s revoked", sess.IssuerID))
	}
	return nil
}

func invalidToken() *awserr.Error {
	return awserr.New(awserr.CodeInvalidClientTokenID, http.StatusForbidden, "The security token included in the request is invalid.")
}

// sessionCaller is the caller of a request signed with the credentials of
// sess: a role session, or runner credentials (no role, a session policy
// only, like a federation token with the account as parent).
func sessionCaller(sess creds.Session, accessKeyID string) *identity.Caller {
	c := &identity.Caller{Account: sess.Account, AccessKeyID: accessKeyID, SessionName: sess.SessionName,
		SourceIdentity: sess.SourceIdentity, Issued: sess.Issued, Expiration: sess.Expiration,
		SessionPolicy: sess.SessionPolicy, PolicyARNs: sess.PolicyARNs, TransitiveTagKeys: sess.TransitiveTagKeys,
		ProviderARN: sess.ProviderARN, Subject: sess.Subject, Audience: sess.Audience}
	for _, t := range sess.Tags {
		c.Tags = append(c.Tags, identity.Tag{Key: t.Key, Value: t.Value})
	}
	if sess.RoleName == "" {
		c.Kind = identity.Runner
		c.IssuerID, c.CreatorRoleName, c.CreatorRoleID = sess.IssuerID, sess.CreatorRoleName, sess.CreatorRoleID
		c.ARN = arn.FederatedUser(sess.Account, sess.SessionName)
		c.UserID = sess.Account + ":" + sess.SessionName
		return c
	}
	c.Kind = identity.RoleSession
	c.ARN = arn.AssumedRole(sess.Account, sess.RoleName, sess.SessionName)
	c.UserID = sess.RoleID + ":" + sess.SessionName
	c.RoleARN = arn.Role(sess.Account, sess.RolePath, sess.RoleName)
	c.RoleName, c.RoleID = sess.RoleName, sess.RoleID
	return c
}

// authorize decides whether caller may perform action on resource. It is
// the one place where signed calls are authorized: root may do anything;
// any other caller may do what sts.CallerSet's policies allow, evaluated
// against the condition keys of sts.CallerContext.
func (a *authenticator) authorize(ctx context.Context, caller *identity.Caller, ri sts.RequestInfo, action, resource string) error {
	if caller == nil {
		return awserr.New(awserr.CodeMissingAuth, http.StatusForbidden, "Request is missing Authentication Token")
	}
	if caller.Is(identity.Root) {
		return nil
	}
	denied := awserr.Newf(awserr.CodeAccessDenied, http.StatusForbidden,
		"User: %s is not authorized to perform: %s on resource: %s", caller.ARN, action, resource)
	set, role, err := sts.CallerSet(ctx, a.dir, caller)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return awsquery.FromStoreOutage(err)
		}
		return denied.Wrap(err)
	}
	ri.Now = a.now()
	req := &policy.Request{Principal: sts.CallerPrincipal(caller), Action: action, Resource: resource,
		Context: sts.CallerContext(caller, role, ri)}
	if policy.EvaluateSet(req, set) != policy.Allow {
		return denied.Wrap(traceError{policy.ExplainSet(req, set)})
	}
	return nil
}
