package client

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// RoleTrust reads a role's ARN and trust policy (IAM GetRole).
func (c *Client) RoleTrust(ctx context.Context, name string) (roleARN, doc string, err error) {
	out, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		return "", "", fmt.Errorf("read role %s: %w", name, err)
	}
	if doc, err = url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument)); err != nil {
		return "", "", fmt.Errorf("decode trust policy of %s: %w", name, err)
	}
	return aws.ToString(out.Role.Arn), doc, nil
}

// UpdateTrust replaces a role's trust policy (IAM UpdateAssumeRolePolicy)
// and reads it back: an error if what IAM then holds is not doc.
func (c *Client) UpdateTrust(ctx context.Context, name, doc string) error {
	if _, err := c.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
		RoleName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		return fmt.Errorf("update the trust policy of %s: %w", name, err)
	}
	_, got, err := c.RoleTrust(ctx, name)
	if err != nil {
		return err
	}
	if !sameJSON(got, doc) {
		return fmt.Errorf("the trust policy of %s read back differs from the one written", name)
	}
	return nil
}
