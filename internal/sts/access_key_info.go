package sts

import (
	"context"
	"regexp"

	"github.com/keylessci/keyless/internal/awsquery"
)

// AccessKeyInfoResult is the GetAccessKeyInfoResult element.
type AccessKeyInfoResult struct {
	Account string `xml:"Account"`
}

var accessKeyIDRE = regexp.MustCompile(`^\w*$`)

// GetAccessKeyInfo returns the account an access key id belongs to. AWS
// answers for any well-formed id and documents that the answer "does not
// indicate the state of the access key. The key might be active, inactive,
// or deleted". keyless serves one account, to which every key it issues
// (root, runner and session keys) belongs, and knows no other: it answers
// its own account, and, like AWS, never whether the key exists. The caller
// needs sts:GetAccessKeyInfo (on "*"), authorized before the action runs.
func (s *Service) prepareGetAccessKeyInfo(_ context.Context, c *awsquery.Call) (string, awsquery.Run, error) {
	var v awsquery.Validator
	id := c.Get("AccessKeyId")
	if v.Required("AccessKeyId", c.Has("AccessKeyId")) && v.Length("AccessKeyId", id, 16, 128) {
		v.Pattern("AccessKeyId", id, accessKeyIDRE, `[\w]*`)
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	return "*", func(context.Context) (any, error) {
		return &AccessKeyInfoResult{Account: s.account}, nil
	}, nil
}
