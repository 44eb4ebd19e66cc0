package sigv4

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// fakeAWS is an httptest server that verifies every request with this
// package, as the real server will, and answers with canned XML. It records
// the verification result of each request.
type fakeAWS struct {
	*httptest.Server
	secrets map[string]string // access key id -> secret

	mu      sync.Mutex
	results []verified
}

type verified struct {
	signed *Signed
	err    error
}

func newFakeAWS(t *testing.T, secrets map[string]string) *fakeAWS {
	f := &fakeAWS{secrets: secrets}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAWS) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s, err := Parse(r)
	if err == nil {
		secret, ok := f.secrets[s.AccessKeyID]
		if !ok {
			err = errors.New("unknown access key id")
		} else {
			err = s.Verify(r, body, secret, time.Now())
		}
	}
	f.mu.Lock()
	f.results = append(f.results, verified{s, err})
	f.mu.Unlock()
	if err != nil {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>%s</Message></Error><RequestId>1</RequestId></ErrorResponse>`, "denied")
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	switch s.Service {
	case "iam":
		fmt.Fprint(w, `<ListRolesResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListRolesResult><IsTruncated>false</IsTruncated><Roles/></ListRolesResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></ListRolesResponse>`)
	default:
		fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:root</Arn><UserId>000000000000</UserId><Account>000000000000</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	}
}

func (f *fakeAWS) last(t *testing.T) verified {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.results) == 0 {
		t.Fatal("server saw no request")
	}
	return f.results[len(f.results)-1]
}

func TestSDKRequests(t *testing.T) {
	const (
		akid   = "AKIAIOSFODNN7EXAMPLE"
		secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		asia   = "ASIAQWERTYUIOPASDFGH"
		token  = "IQoJb3JpZ2luX2VjEXAMPLE/token+with=odd&chars"
	)
	f := newFakeAWS(t, map[string]string{akid: secret, asia: secret + "2"})
	ctx := context.Background()
	cfg := func(id, sec, tok, region string) aws.Config {
		return aws.Config{
			Region:       region,
			Credentials:  credentials.NewStaticCredentialsProvider(id, sec, tok),
			BaseEndpoint: aws.String(f.URL),
		}
	}

	tests := []struct {
		name      string
		call      func() error
		service   string
		region    string
		token     string
		presigned bool
	}{
		{
			name: "sts GetCallerIdentity long-term key",
			call: func() error {
				_, err := sts.NewFromConfig(cfg(akid, secret, "", "us-east-1")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				return err
			},
			service: "sts", region: "us-east-1",
		},
		{
			name: "sts GetCallerIdentity session credentials other region",
			call: func() error {
				_, err := sts.NewFromConfig(cfg(asia, secret+"2", token, "eu-west-3")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				return err
			},
			service: "sts", region: "eu-west-3", token: token,
		},
		{
			name: "iam ListRoles with body parameters",
			call: func() error {
				_, err := iam.NewFromConfig(cfg(asia, secret+"2", token, "us-east-1")).ListRoles(ctx, &iam.ListRolesInput{
					PathPrefix: aws.String("/ci/ a+b%/"), MaxItems: aws.Int32(5),
				})
				return err
			},
			service: "iam", region: "us-east-1", token: token,
		},
		{
			name: "presigned GetCallerIdentity GET",
			call: func() error {
				p, err := sts.NewPresignClient(sts.NewFromConfig(cfg(asia, secret+"2", token, "us-west-2"))).
					PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
				if err != nil {
					return err
				}
				req, err := http.NewRequestWithContext(ctx, p.Method, p.URL, nil)
				if err != nil {
					return err
				}
				req.Header = p.SignedHeader.Clone()
				req.Header.Set("X-K8s-Aws-Id", "unsigned-extra") // unsigned headers do not matter
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return nil
			},
			service: "sts", region: "us-west-2", token: token, presigned: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err != nil {
				t.Fatalf("call: %v (server: %v)", err, f.last(t).err)
			}
			v := f.last(t)
			if v.err != nil {
				t.Fatalf("verify: %v", v.err)
			}
			s := v.signed
			if s.Service != tc.service || s.Region != tc.region || s.SecurityToken != tc.token || s.Presigned != tc.presigned {
				t.Errorf("parsed %v service=%s region=%s token=%q presigned=%t", s, s.Service, s.Region, s.SecurityToken, s.Presigned)
			}
		})
	}
}
