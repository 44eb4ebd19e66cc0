package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	smithy "github.com/aws/smithy-go"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/keylessci/keyless/internal/ciclaims"
	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/policy"
	"github.com/keylessci/keyless/internal/store"
)

// dummyThumbprint satisfies IAM's ThumbprintList for issuers keyless hosts
// (their keys never go over the network).
const dummyThumbprint = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"

// World is what Setup created on a keyless server: two hosted CircleCI
// issuers (RS256 and ES256), their providers and roles, tokens, and
// temporary credentials from one exchange.
type World struct {
	Endpoint string
	Root     aws.Credentials
	RS, ES   Org
	Temp     aws.Credentials // from AssumeRoleWithWebIdentity on RS.RoleARN
}

// Org is one hosted issuer with its provider, role and job tokens.
type Org struct {
	ID, IssuerURL, JWKSURI, ProviderARN, RoleARN, RoleName, Project string
	Tokens                                                          []string
}

func newUUID() string { return uuid.NewString() }

func iamClient(endpoint string, cr aws.Credentials, hc *http.Client) *iam.Client {
	return iam.New(iam.Options{Region: region, BaseEndpoint: aws.String(endpoint), HTTPClient: hc,
		Credentials: credentials.StaticCredentialsProvider{Value: cr}})
}

// seedTrust is the seed's trust policy: one provider, the org's audience,
// one project's subjects.
func seedTrust(providerARN, host, org, project string) string {
	return policy.WebIdentityTrustJSON(providerARN, policy.Conditions{
		"StringEquals": {host + ":aud": {org}},
		"StringLike":   {host + ":sub": {ciclaims.CircleCIProjectSubjects(org, project)}}})
}

// Setup creates the benchmark world on a keyless server (through its
// public APIs only, so it works on an external server too).
func Setup(ctx context.Context, hc *http.Client, endpoint string, root aws.Credentials, tokens int) (*World, error) {
	w := &World{Endpoint: endpoint, Root: root}
	ic := iamClient(endpoint, root, hc)
	for _, o := range []struct {
		org *Org
		alg string
	}{{&w.RS, "RS256"}, {&w.ES, "ES256"}} {
		if err := setupOrg(ctx, hc, ic, endpoint, root, o.alg, tokens, o.org); err != nil {
			return nil, fmt.Errorf("%s issuer: %w", o.alg, err)
		}
	}
	resp, err := exchange(ctx, hc, endpoint, w.RS.RoleARN, w.RS.Tokens[0])
	if err != nil {
		return nil, err
	}
	if w.Temp, err = credentialsFrom(resp); err != nil {
		return nil, err
	}
	return w, nil
}

// exchange performs one unsigned AssumeRoleWithWebIdentity.
func exchange(ctx context.Context, hc *http.Client, endpoint, roleARN, token string) ([]byte, error) {
	req, err := webIdentity([]string{roleARN}, []string{token})(0, endpoint)
	if err != nil {
		return nil, err
	}
	var st statusBody
	if err := st.do(hc, req.WithContext(ctx)); err != nil {
		return nil, err
	}
	if err := wantXML("SessionToken")(st.status, st.body); err != nil {
		return nil, fmt.Errorf("AssumeRoleWithWebIdentity: %w", err)
	}
	return st.body, nil
}

func setupOrg(ctx context.Context, hc *http.Client, ic *iam.Client, endpoint string, root aws.Credentials, alg string, tokens int, o *Org) error {
	o.ID, o.Project = newUUID(), newUUID()
	var v issuer.IssuerView
	if err := adminJSON(ctx, hc, root, endpoint, "/_keyless/issuers",
		issuer.CreateRequest{Profile: string(ciclaims.CircleCI), OrgID: o.ID, Alg: alg}, &v); err != nil {
		return err
	}
	o.IssuerURL, o.JWKSURI = v.URL, v.JWKSURI
	pout, err := ic.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(v.URL), ClientIDList: []string{o.ID}, ThumbprintList: []string{dummyThumbprint}})
	if err != nil {
		return fmt.Errorf("create provider: %w", err)
	}
	o.ProviderARN = aws.ToString(pout.OpenIDConnectProviderArn)
	o.RoleName = "bench-" + strings.ToLower(alg)
	rout, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(o.RoleName),
		AssumeRolePolicyDocument: aws.String(seedTrust(o.ProviderARN, strings.TrimPrefix(v.URL, "https://"), o.ID, o.Project))})
	if err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	o.RoleARN = aws.ToString(rout.Role.Arn)
	user := newUUID()
	for range tokens {
		req := issuer.MintRequest{Params: ciclaims.Params{OrgID: o.ID, ProjectID: o.Project, UserID: user, V2: true,
			VCSOrigin: "github.com/acme/app", VCSRef: "refs/heads/main"}}
		var out struct {
			Token string `json:"token"`
		}
		if err := adminJSON(ctx, hc, root, endpoint, "/_keyless/issuers/"+url.PathEscape(o.ID)+"/token", req, &out); err != nil {
			return fmt.Errorf("mint: %w", err)
		}
		o.Tokens = append(o.Tokens, out.Token)
	}
	return nil
}

// Scale adds roles roles (same trust policy as w.RS's role, so every one
// admits w.RS's tokens) and providers unrelated providers, with conc
// parallel IAM calls. IAM enforces AWS's quota of 100 OIDC providers per
// account; past it, providers go through direct (the store of an
// in-process server) when it is set, and are not created otherwise. It
// returns the new role ARNs and how many providers each way created.
func Scale(ctx context.Context, hc *http.Client, w *World, roles, providers, conc int,
	direct func(context.Context, store.Provider) error) (arns []string, viaAPI, viaStore int, err error) {
	ic := iamClient(w.Endpoint, w.Root, hc)
	trust := seedTrust(w.RS.ProviderARN, strings.TrimPrefix(w.RS.IssuerURL, "https://"), w.RS.ID, w.RS.Project)
	arns = make([]string, roles)
	var (
		mu          sync.Mutex
		quota       atomic.Bool
		api, stored atomic.Int64
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for i := range providers {
		g.Go(func() error {
			u := fmt.Sprintf("https://oidc.bench.example/p%04d", i)
			if !quota.Load() {
				_, err := ic.CreateOpenIDConnectProvider(gctx, &iam.CreateOpenIDConnectProviderInput{
					Url: aws.String(u), ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{dummyThumbprint}})
				var ae smithy.APIError
				switch {
				case err == nil:
					api.Add(1)
					return nil
				case errors.As(err, &ae) && ae.ErrorCode() == "LimitExceeded":
					quota.Store(true)
				default:
					return fmt.Errorf("create provider %d: %w", i, err)
				}
			}
			if direct == nil {
				return nil
			}
			if err := direct(gctx, store.Provider{URL: u, ClientIDs: []string{"sts.amazonaws.com"},
				Thumbprints: []string{dummyThumbprint}, CreateDate: time.Now().UTC()}); err != nil {
				return fmt.Errorf("store provider %d: %w", i, err)
			}
			stored.Add(1)
			return nil
		})
	}
	for i := range roles {
		g.Go(func() error {
			out, err := ic.CreateRole(gctx, &iam.CreateRoleInput{RoleName: aws.String(fmt.Sprintf("bench-scale-%05d", i)),
				AssumeRolePolicyDocument: aws.String(trust)})
			if err != nil {
				return fmt.Errorf("create role %d: %w", i, err)
			}
			mu.Lock()
			arns[i] = aws.ToString(out.Role.Arn)
			mu.Unlock()
			return nil
		})
	}
	err = g.Wait()
	return arns, int(api.Load()), int(stored.Load()), err
}
