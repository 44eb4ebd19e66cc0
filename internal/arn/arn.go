// Package arn parses and formats Amazon Resource Names. It is pure: no I/O,
// no AWS SDK. It does not know which services exist; it only splits and joins
// the six colon-separated components.
package arn

import (
	"errors"
	"strings"
)

// ARN is a parsed Amazon Resource Name:
// arn:Partition:Service:Region:Account:Resource.
type ARN struct {
	Partition string
	Service   string
	Region    string
	Account   string
	Resource  string
}

// ErrInvalid is returned by Parse for a string that is not an ARN.
var ErrInvalid = errors.New("invalid arn")

// Parse splits s into its components. The resource part may itself contain
// colons. It checks structure only, not that the service or account exist.
func Parse(s string) (ARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" || parts[5] == "" {
		return ARN{}, ErrInvalid
	}
	return ARN{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}, nil
}

// String formats a as an ARN string.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Resource
}

// IsAccountID reports whether s is a 12-digit AWS account id.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Role returns the IAM role ARN for a role name and path ("/" or "/a/b/").
func Role(account, path, name string) string {
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + account + ":role" + path + name
}

// AssumedRole returns the STS assumed-role ARN; the role path is not part of it.
func AssumedRole(account, roleName, session string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + roleName + "/" + session
}

// OIDCProvider returns the IAM OIDC provider ARN for a URL given without its
// https:// scheme (host, optional port, optional path).
func OIDCProvider(account, urlWithoutScheme string) string {
	return "arn:aws:iam::" + account + ":oidc-provider/" + urlWithoutScheme
}

// Policy returns the ARN of a customer managed policy.
func Policy(account, path, name string) string {
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + account + ":policy" + path + name
}

// Root returns the account root principal ARN.
func Root(account string) string { return "arn:aws:iam::" + account + ":root" }

// FederatedUser returns the STS federated-user ARN (keyless's runner
// credentials are federated-user credentials with the account as parent).
func FederatedUser(account, name string) string {
	return "arn:aws:sts::" + account + ":federated-user/" + name
}

// Issuer returns the ARN of a CI issuer hosted by keyless, the resource of
// the keyless:* admin actions; id "*" names every issuer.
func Issuer(account, id string) string { return "arn:aws:keyless::" + account + ":issuer/" + id }

// Decision is the ARN of a record of keyless's decision log, the resource
// keyless:GetDecision (and, with id "*", keyless:ListDecisions) is
// authorized on.
func Decision(account, id string) string {
	return "arn:aws:keyless::" + account + ":decision/" + id
}

// Console is the ARN of the web console, the resource keyless:ConsoleLogin
// is authorized on.
func Console(account string) string { return "arn:aws:keyless::" + account + ":console" }
