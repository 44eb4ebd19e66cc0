package iam

import (
	"strings"

	"github.com/keylessci/keyless/internal/arn"
)

// parsePolicyARN checks the structure of a managed policy ARN
// (arn:aws:iam::ACCT|aws:policy/PATH/NAME) and reports whether it can name
// a policy of this account. A malformed ARN is InvalidInput.
func (s *Service) parsePolicyARN(policyARN string) (local bool, err error) {
	a, perr := arn.Parse(policyARN)
	rest, ok := strings.CutPrefix(a.Resource, "policy/")
	if perr != nil || a.Service != "iam" || a.Region != "" || !ok || rest == "" || strings.HasSuffix(rest, "/") ||
		(a.Account != "aws" && !arn.IsAccountID(a.Account)) {
		return false, invalidInput("ARN %s is not valid.", policyARN)
	}
	return a.Partition == "aws" && a.Account == s.account, nil
}
