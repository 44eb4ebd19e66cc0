package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// region is the region every benchmark request is signed for.
const region = "us-east-1"

// signedRequest is a request signed once and replayed: the signature stays
// valid for the server's clock-skew window (15 minutes), far longer than a
// scenario, so the load generator spends no CPU on signing.
type signedRequest struct {
	method, path string
	body         []byte
	header       http.Header
}

func sign(ctx context.Context, cr aws.Credentials, method, endpoint, path, service, contentType string, body []byte) (*signedRequest, error) {
	req, err := http.NewRequestWithContext(ctx, method, endpoint+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, cr, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return &signedRequest{method: method, path: path, body: body, header: req.Header}, nil
}

// build returns a fresh copy of the request aimed at endpoint, which must
// be the endpoint it was signed for (SigV4 signs the Host header).
func (s *signedRequest) build(endpoint string) (*http.Request, error) {
	req, err := http.NewRequest(s.method, endpoint+s.path, bytes.NewReader(s.body))
	if err != nil {
		return nil, err
	}
	req.Header = s.header.Clone()
	return req, nil
}

// signedSet holds one signed request per endpoint (the Host header is
// signed, so each endpoint needs its own signature).
type signedSet map[string]*signedRequest

func signFor(ctx context.Context, endpoints []string, cr aws.Credentials, method, path, service, contentType string, body []byte) (signedSet, error) {
	set := signedSet{}
	for _, ep := range endpoints {
		s, err := sign(ctx, cr, method, ep, path, service, contentType, body)
		if err != nil {
			return nil, err
		}
		set[ep] = s
	}
	return set, nil
}

func (set signedSet) request() Request {
	return func(_ uint64, ep string) (*http.Request, error) { return set[ep].build(ep) }
}

const formType = "application/x-www-form-urlencoded; charset=utf-8"

// call sends one signed request and decodes a JSON answer into out (admin
// API) or returns the raw body (query API, out nil).
func call(ctx context.Context, hc *http.Client, cr aws.Credentials, method, endpoint, path, service, contentType string, body []byte, out any) ([]byte, error) {
	s, err := sign(ctx, cr, method, endpoint, path, service, contentType, body)
	if err != nil {
		return nil, err
	}
	req, err := s.build(endpoint)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, clip(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return data, nil
}

// adminJSON calls the keyless admin API.
func adminJSON(ctx context.Context, hc *http.Client, cr aws.Credentials, endpoint, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = call(ctx, hc, cr, http.MethodPost, endpoint, path, "keyless", "application/json", body, out)
	return err
}

// webIdentityBody is the form of an unsigned AssumeRoleWithWebIdentity.
func webIdentityBody(roleARN, token string) string {
	return "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleSessionName=bench&RoleArn=" +
		url.QueryEscape(roleARN) + "&WebIdentityToken=" + token
}

// webIdentity returns a Request cycling through tokens (and role ARNs when
// there are several).
func webIdentity(roleARNs, tokens []string) Request {
	return func(i uint64, ep string) (*http.Request, error) {
		body := webIdentityBody(roleARNs[i%uint64(len(roleARNs))], tokens[i%uint64(len(tokens))])
		req, err := http.NewRequest(http.MethodPost, ep+"/", strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", formType)
		return req, nil
	}
}

// wantXML checks for a 200 whose body holds element.
func wantXML(element string) Check {
	tag := []byte("<" + element + ">")
	return func(status int, body []byte) error {
		if status != http.StatusOK {
			return fmt.Errorf("HTTP %d: %s", status, clip(body))
		}
		if !bytes.Contains(body, tag) {
			return fmt.Errorf("no %s in %s", tag, clip(body))
		}
		return nil
	}
}

// credentialsFrom extracts temporary credentials from an
// AssumeRoleWithWebIdentity response.
func credentialsFrom(body []byte) (aws.Credentials, error) {
	get := func(el string) string {
		_, rest, ok := bytes.Cut(body, []byte("<"+el+">"))
		if !ok {
			return ""
		}
		v, _, _ := bytes.Cut(rest, []byte("</"+el+">"))
		return string(v)
	}
	cr := aws.Credentials{AccessKeyID: get("AccessKeyId"), SecretAccessKey: get("SecretAccessKey"), SessionToken: get("SessionToken")}
	if cr.AccessKeyID == "" || cr.SecretAccessKey == "" {
		return cr, fmt.Errorf("no credentials in %s", clip(body))
	}
	return cr, nil
}

// statusBody is one response read whole.
type statusBody struct {
	status int
	body   []byte
}

func (s *statusBody) do(hc *http.Client, req *http.Request) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	s.status = resp.StatusCode
	s.body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return err
}
