package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// param is one decoded query parameter.
type param struct{ key, value string }

// parseQuery splits a raw query string into decoded parameters, keeping
// order and duplicates. '+' means space, as in the SDKs. A component with a
// bad escape is kept as sent (its signature then simply does not match).
func parseQuery(raw string) []param {
	if raw == "" {
		return nil
	}
	var out []param
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		out = append(out, param{key: unescape(k), value: unescape(v)})
	}
	return out
}

func unescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// canonicalQuery encodes every parameter (but X-Amz-Signature when
// presigned) RFC 3986-style, sorted by key then value.
func canonicalQuery(params []param, presigned bool) string {
	enc := make([]param, 0, len(params))
	for _, p := range params {
		if presigned && p.key == qSignature {
			continue
		}
		enc = append(enc, param{key: uriEncode(p.key, false), value: uriEncode(p.value, false)})
	}
	slices.SortFunc(enc, func(a, b param) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return strings.Compare(a.value, b.value)
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// uriEncode percent-encodes every byte but the RFC 3986 unreserved set (and
// '/' when keepSlash), with upper-case hex.
func uriEncode(s string, keepSlash bool) string {
	const hexdig = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) && (!keepSlash || s[i] != '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (keepSlash && c == '/') {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexdig[c>>4], hexdig[c&15])
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// wirePath is the path exactly as the client sent it (still escaped).
func wirePath(r *http.Request) string {
	p := ""
	if r.RequestURI != "" && r.RequestURI != "*" {
		p, _, _ = strings.Cut(r.RequestURI, "?")
		if !strings.HasPrefix(p, "/") { // absolute-form request target
			p = ""
			if u, err := url.Parse(r.RequestURI); err == nil {
				p = u.EscapedPath()
			}
		}
	} else if r.URL != nil {
		p = r.URL.EscapedPath()
	}
	if p == "" {
		p = "/"
	}
	return p
}

// normalizePath removes "." and ".." segments and empty segments, as
// botocore does for every service but S3; a trailing slash is kept.
func normalizePath(p string) string {
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, seg)
		}
	}
	n := "/" + strings.Join(out, "/")
	if strings.HasSuffix(p, "/") && len(out) > 0 {
		n += "/"
	}
	return n
}

// canonicalURIs returns the canonical URI with path normalization and, when
// it differs, the one without (S3-style signers do not normalize). The wire
// path is encoded once more: AWS's double encoding for non-S3 services.
func canonicalURIs(r *http.Request) []string {
	raw := wirePath(r)
	norm := uriEncode(normalizePath(raw), true)
	if plain := uriEncode(raw, true); plain != norm {
		return []string{norm, plain}
	}
	return []string{norm}
}

// canonicalHeaders renders "name:value\n" for each signed header, in the
// client's order, from the values received.
func canonicalHeaders(r *http.Request, names []string) (string, error) {
	var b strings.Builder
	for _, name := range names {
		var vals []string
		switch name {
		case "host":
			h := r.Host
			if h == "" && r.URL != nil {
				h = r.URL.Host
			}
			if h != "" {
				vals = []string{h}
			}
		default:
			vals = r.Header.Values(name)
			if len(vals) == 0 && name == "content-length" && r.ContentLength > 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		}
		if len(vals) == 0 {
			return "", incomplete("'%s' is named as a SignedHeader, but it does not exist in the HTTP request.", clip(name))
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range vals {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimAll(v))
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// trimAll trims surrounding whitespace and collapses inner runs of spaces
// (and folded line breaks) to one space.
func trimAll(v string) string {
	v = strings.TrimSpace(v)
	if !strings.ContainsAny(v, "\r\n\t") && !strings.Contains(v, "  ") {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

// canonicalRequest joins the parts in SigV4 order.
func canonicalRequest(method, uri, query, headers string, signed []string, payload string) string {
	var b strings.Builder
	b.Grow(len(method) + len(uri) + len(query) + len(headers) + 64*2)
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(uri)
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	b.WriteString(headers)
	b.WriteByte('\n')
	for i, h := range signed {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(h)
	}
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

// stringToSign is the algorithm, the request date, the scope and the hash
// of the canonical request.
func stringToSign(amzDate, scope, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}
