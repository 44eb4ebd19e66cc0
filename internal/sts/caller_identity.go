package sts

import (
	"context"
	"net/http"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/awsquery"
)

// CallerIdentityResult is the GetCallerIdentityResult element.
type CallerIdentityResult struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

// AppendXML implements awsquery.XMLAppender.
func (r *CallerIdentityResult) AppendXML(b []byte) []byte {
	b = awsquery.AppendElement(b, "UserId", r.UserID)
	b = awsquery.AppendElement(b, "Account", r.Account)
	return awsquery.AppendElement(b, "Arn", r.Arn)
}

// GetCallerIdentity returns who signed the request. Like AWS, it needs no
// permission: not even an explicit Deny blocks it.
func (s *Service) GetCallerIdentity(_ context.Context, c *awsquery.Call) (any, error) {
	if c.Caller == nil {
		return nil, awserr.New(awserr.CodeMissingAuth, http.StatusForbidden, "Request is missing Authentication Token")
	}
	return &CallerIdentityResult{UserID: c.Caller.UserID, Account: c.Caller.Account, Arn: c.Caller.ARN}, nil
}
