package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/client"
	"github.com/keylessci/keyless/internal/issuer"
)

// proveFindings demonstrates each finding against a keyless endpoint: an
// issuer hosted at the witness's iss URL (created with the generic profile
// when the server has none there) mints a token carrying exactly the
// witness's claims, and the token is exchanged with
// AssumeRoleWithWebIdentity for the role. The server verifies the token and
// evaluates the trust policy as for any job; the assumed-role ARN it
// returns is the proof. Every failure is reported per finding.
func proveFindings(ctx context.Context, env Env, af *awsFlags, rep *auditReport) error {
	admin, err := (&adminFlags{endpoint: af.endpointFor(env, "IAM")}).client(ctx, env)
	if err != nil {
		return err
	}
	c, err := af.newClient(ctx, env, false)
	if err != nil {
		return err
	}
	var list struct {
		Issuers []issuer.IssuerView `json:"issuers"`
	}
	if err := admin.do(ctx, http.MethodGet, "/_keyless/issuers", nil, &list); err != nil {
		return fmt.Errorf("list issuers: %w", err)
	}
	byURL := map[string]string{}
	for _, v := range list.Issuers {
		byURL[v.URL] = v.ID
	}
	for ri := range rep.Roles {
		r := &rep.Roles[ri]
		for fi := range r.Findings {
			f := &r.Findings[fi]
			arn, err := proveOne(ctx, admin, c, byURL, r.ARN, f.Witness)
			if err != nil {
				f.Proof = &auditProof{Error: err.Error()}
				continue
			}
			f.Proof = &auditProof{AssumedRoleARN: arn}
		}
	}
	return nil
}

func proveOne(ctx context.Context, admin *adminClient, c *client.Client, byURL map[string]string, roleARN string, witness map[string]any) (string, error) {
	iss, _ := witness["iss"].(string)
	if iss == "" {
		return "", fmt.Errorf("witness has no iss")
	}
	id, ok := byURL[iss]
	if !ok {
		var v issuer.IssuerView
		if err := admin.do(ctx, http.MethodPost, "/_keyless/issuers", issuer.CreateRequest{Profile: "generic", URL: iss}, &v); err != nil {
			return "", fmt.Errorf("create an issuer at %s (when the server already trusts that URL as an external provider, create the issuer first: keyless issuer create --profile generic --issuer-url %s, then register the provider): %w", iss, iss, err)
		}
		id = v.ID
		byURL[iss] = id
	}
	p := ciclaims.Params{Extra: map[string]string{}}
	for k, v := range witness {
		switch k {
		case "iss":
			continue
		case "aud":
			p.Audience = []string{fmt.Sprint(v)}
			continue
		}
		if s, ok := v.(string); ok {
			p.Extra[k] = s
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("claim %s: %w", k, err)
		}
		p.Extra[k] = string(b)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := admin.do(ctx, http.MethodPost, "/_keyless/issuers/"+url.PathEscape(id)+"/token", issuer.MintRequest{Params: p}, &out); err != nil {
		return "", fmt.Errorf("mint the witness: %w", err)
	}
	cr, err := c.Assume(ctx, client.AssumeInput{RoleARN: roleARN, Token: out.Token, SessionName: "keyless-audit-prove"})
	if err != nil {
		return "", err
	}
	return cr.AssumedRoleARN, nil
}
