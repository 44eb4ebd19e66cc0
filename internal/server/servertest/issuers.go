package servertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/keylessci/keyless/internal/issuer"
)

// Issuers is a client of a test server's issuer admin API: the same signed
// HTTP calls `keyless issuer` makes, as root, signed at the server's own
// clock (so a test that moved the clock still signs inside the skew window).
// Tests reach issuers only this way: the server exports no in-process
// handle on its issuer service.
type Issuers struct {
	url    string
	root   aws.Credentials
	region string
	now    func() time.Time
}

// Issuers returns the admin client of s.
func (s *Server) Issuers() *Issuers {
	return &Issuers{url: s.URL, root: s.Root, region: s.region, now: s.now}
}

// Create creates an issuer (POST /_keyless/issuers).
func (c *Issuers) Create(ctx context.Context, req issuer.CreateRequest) (issuer.IssuerView, error) {
	var v issuer.IssuerView
	err := c.do(ctx, http.MethodPost, "/_keyless/issuers", req, &v)
	return v, err
}

// Get describes an issuer (GET /_keyless/issuers/{id}).
func (c *Issuers) Get(ctx context.Context, id string) (issuer.IssuerView, error) {
	var v issuer.IssuerView
	err := c.do(ctx, http.MethodGet, "/_keyless/issuers/"+url.PathEscape(id), nil, &v)
	return v, err
}

// Delete deletes an issuer (DELETE /_keyless/issuers/{id}).
func (c *Issuers) Delete(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/_keyless/issuers/"+url.PathEscape(id), nil, nil)
}

// Mint signs a job token (POST /_keyless/issuers/{id}/token).
func (c *Issuers) Mint(ctx context.Context, id string, req issuer.MintRequest) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	if err := c.do(ctx, http.MethodPost, "/_keyless/issuers/"+url.PathEscape(id)+"/token", req, &out); err != nil {
		return "", err
	}
	return out.Token, nil
}

// do sends one signed admin call; an answer other than 2xx is an error
// carrying the server's JSON code and message.
func (c *Issuers) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, c.root, req, hex.EncodeToString(sum[:]), "keyless", c.region, c.now()); err != nil {
		return fmt.Errorf("sign %s %s: %w", method, path, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
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
