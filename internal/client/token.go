package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// TokenSources says where to look for the job's web identity token.
type TokenSources struct {
	Token    string // --web-identity-token
	File     string // --web-identity-token-file
	TokenEnv string // --token-env: a variable holding the token (GitLab id_tokens)
	// Audience is requested from GitHub Actions; default sts.amazonaws.com.
	Audience string
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
}

// Token is a web identity token and where it came from.
type Token struct {
	Value  string
	Source string // e.g. "CIRCLE_OIDC_TOKEN_V2", "GitHub Actions (audience sts.amazonaws.com)"
}

// ErrNoToken is wrapped by ResolveToken's error when no source has a token.
var ErrNoToken = errors.New("no web identity token found")

// ResolveToken finds the token, in order: the flag, the flag's file,
// CIRCLE_OIDC_TOKEN_V2, CIRCLE_OIDC_TOKEN, GitHub Actions' token request
// (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN), the --token-env variable, and
// AWS_WEB_IDENTITY_TOKEN_FILE. The GitHub request is retried like STS calls.
func (c *Client) ResolveToken(ctx context.Context, s TokenSources) (Token, error) {
	getenv := s.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	readFile := func(source, path string) (Token, error) {
		if s.ReadFile == nil {
			return Token{}, fmt.Errorf("read token file %s: no file access", path)
		}
		b, err := s.ReadFile(path)
		if err != nil {
			return Token{}, fmt.Errorf("read web identity token from %s: %w", source, err)
		}
		t := strings.TrimSpace(string(b))
		if t == "" {
			return Token{}, fmt.Errorf("web identity token file %s (%s) is empty", path, source)
		}
		return Token{Value: t, Source: source + " " + path}, nil
	}
	if s.Token != "" {
		return Token{Value: strings.TrimSpace(s.Token), Source: "--web-identity-token"}, nil
	}
	if s.File != "" {
		return readFile("--web-identity-token-file", s.File)
	}
	for _, name := range []string{"CIRCLE_OIDC_TOKEN_V2", "CIRCLE_OIDC_TOKEN"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return Token{Value: v, Source: name}, nil
		}
	}
	reqURL, reqTok := getenv("ACTIONS_ID_TOKEN_REQUEST_URL"), getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
	if reqURL != "" && reqTok != "" {
		aud := s.Audience
		if aud == "" {
			aud = "sts.amazonaws.com"
		}
		var v string
		err := c.retry(ctx, func(ctx context.Context) error {
			var err error
			v, err = c.githubToken(ctx, reqURL, reqTok, aud)
			return err
		})
		if err != nil {
			return Token{}, fmt.Errorf("request GitHub Actions OIDC token: %w", err)
		}
		return Token{Value: v, Source: "GitHub Actions (audience " + aud + ")"}, nil
	}
	if s.TokenEnv != "" {
		if v := strings.TrimSpace(getenv(s.TokenEnv)); v != "" {
			return Token{Value: v, Source: s.TokenEnv}, nil
		}
	}
	if f := getenv("AWS_WEB_IDENTITY_TOKEN_FILE"); f != "" {
		return readFile("AWS_WEB_IDENTITY_TOKEN_FILE", f)
	}
	looked := "--web-identity-token, --web-identity-token-file, CIRCLE_OIDC_TOKEN_V2, CIRCLE_OIDC_TOKEN, " +
		"ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN"
	if s.TokenEnv != "" {
		looked += ", " + s.TokenEnv + " (--token-env)"
	} else {
		looked += ", --token-env"
	}
	looked += ", AWS_WEB_IDENTITY_TOKEN_FILE"
	var hint string
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		hint = "; on GitHub Actions the job needs `permissions: id-token: write` for ACTIONS_ID_TOKEN_REQUEST_* to be set"
	case getenv("CIRCLECI") == "true":
		hint = "; on CircleCI the token is only injected into jobs that run with a context (or on CircleCI server 4.4+)"
	case getenv("GITLAB_CI") == "true":
		hint = "; on GitLab declare `id_tokens:` in the job and pass its variable name with --token-env"
	case reqURL != "" || reqTok != "":
		hint = "; only one of ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN is set"
	}
	return Token{}, fmt.Errorf("%w: looked for %s%s", ErrNoToken, looked, hint)
}

// githubToken asks the Actions runtime for an ID token, as core.getIDToken.
func (c *Client) githubToken(ctx context.Context, reqURL, bearer, aud string) (string, error) {
	u, err := url.Parse(reqURL)
	if err != nil {
		return "", fmt.Errorf("ACTIONS_ID_TOKEN_REQUEST_URL: %w", err)
	}
	q := u.Query()
	q.Set("audience", aud)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Accept", "application/json")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", &networkError{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", &networkError{err}
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		if resp.StatusCode >= 500 || resp.StatusCode == 429 {
			return "", &networkError{err}
		}
		return "", err
	}
	var out struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Value == "" {
		return "", fmt.Errorf("unexpected token response: %.200s", body)
	}
	return out.Value, nil
}

// networkError marks a transient transport failure as retryable.
type networkError struct{ err error }

func (e *networkError) Error() string   { return e.err.Error() }
func (e *networkError) Unwrap() error   { return e.err }
func (e *networkError) Timeout() bool   { return true }
func (e *networkError) Temporary() bool { return true }
