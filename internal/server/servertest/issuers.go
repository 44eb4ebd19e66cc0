package servertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keylessci/keyless/internal/issuer"
	"github.com/keylessci/keyless/internal/testkit"
)

// Issuers is a client of a test server's issuer admin API: the same signed
// HTTP calls `keyless issuer` makes, as root, signed (by testkit.Admin, the
// tests' one SigV4 admin client) at the server's own clock, so a test that
// moved the clock still signs inside the skew window. Tests reach issuers
// only this way: the server exports no in-process handle on its issuer
// service. An answer other than 2xx, or a transport failure, is an error.
type Issuers struct{ admin testkit.Admin }

// Issuers returns the admin client of s.
func (s *Server) Issuers() *Issuers {
	return &Issuers{admin: testkit.Admin{Endpoint: s.URL, Creds: s.Root, Region: s.region, Now: s.now}}
}

// Create creates an issuer (POST /_keyless/issuers).
func (c *Issuers) Create(_ context.Context, req issuer.CreateRequest) (issuer.IssuerView, error) {
	var v issuer.IssuerView
	err := c.do(http.MethodPost, "/_keyless/issuers", req, &v)
	return v, err
}

// Get describes an issuer (GET /_keyless/issuers/{id}).
func (c *Issuers) Get(_ context.Context, id string) (issuer.IssuerView, error) {
	var v issuer.IssuerView
	err := c.do(http.MethodGet, "/_keyless/issuers/"+url.PathEscape(id), nil, &v)
	return v, err
}

// Delete deletes an issuer (DELETE /_keyless/issuers/{id}).
func (c *Issuers) Delete(_ context.Context, id string) error {
	return c.do(http.MethodDelete, "/_keyless/issuers/"+url.PathEscape(id), nil, nil)
}

// Mint signs a job token (POST /_keyless/issuers/{id}/token).
func (c *Issuers) Mint(_ context.Context, id string, req issuer.MintRequest) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if err := c.do(http.MethodPost, "/_keyless/issuers/"+url.PathEscape(id)+"/token", req, &out); err != nil {
		return "", err
	}
	return out.Token, nil
}

func (c *Issuers) do(method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	status, b, err := c.admin.Send(method, path, string(body))
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, status, strings.TrimSpace(string(b)))
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, out)
}

// rootFromDataDir reads the root credentials a server generated into its
// data dir (the file `keyless serve` documents: aws_access_key_id = …).
func rootFromDataDir(dir string) (aws.Credentials, error) {
	f, err := os.Open(filepath.Join(dir, "root-credentials"))
	if err != nil {
		return aws.Credentials{}, err
	}
	defer f.Close()
	var cr aws.Credentials
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " = ")
		switch k {
		case "aws_access_key_id":
			cr.AccessKeyID = v
		case "aws_secret_access_key":
			cr.SecretAccessKey = v
		}
	}
	if cr.AccessKeyID == "" || cr.SecretAccessKey == "" {
		return cr, fmt.Errorf("no credentials in %s/root-credentials", dir)
	}
	return cr, sc.Err()
}
