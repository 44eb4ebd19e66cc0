package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keylessci/keyless/internal/sigv4"
)

// Floor is a bare net/http server doing the least a correct server must:
// for AssumeRoleWithWebIdentity, parse the form and the JWT, one signature
// verify with the standard library, check iss and exp, make random
// credentials and write the XML; for GetCallerIdentity, one SigV4 verify
// against a fixed secret and the XML. No store, no policy, no logging, no
// sealed session token. keyless's throughput is judged against it.
type Floor struct {
	URL    string
	keys   map[string]crypto.PublicKey // kid → key
	secret map[string]string           // access key id → secret
	srv    *http.Server
}

// StartFloor serves a Floor on a loopback port until Close. keys come from
// the issuers' JWKS documents; secrets are the credentials it accepts for
// GetCallerIdentity.
func StartFloor(sets []*jose.JSONWebKeySet, secrets map[string]string) (*Floor, error) {
	f := &Floor{keys: map[string]crypto.PublicKey{}, secret: secrets}
	for _, set := range sets {
		for _, k := range set.Keys {
			f.keys[k.KeyID] = k.Key
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.URL = "http://" + ln.Addr().String()
	f.srv = &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// Close stops the floor server.
func (f *Floor) Close() error { return f.srv.Close() }

func (f *Floor) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		f.callerIdentity(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sub, err := f.verifyJWT(r.PostForm.Get("WebIdentityToken"), time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var b [50]byte
	_, _ = rand.Read(b[:])
	id := "ASIA" + strings.ToUpper(hex.EncodeToString(b[:8]))
	secret := base64.StdEncoding.EncodeToString(b[8:38])
	exp := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05Z")
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>`+
		sub+`</SubjectFromWebIdentityToken><Credentials><AccessKeyId>`+id+`</AccessKeyId><SecretAccessKey>`+secret+
		`</SecretAccessKey><SessionToken>`+hex.EncodeToString(b[38:])+`</SessionToken><Expiration>`+exp+
		`</Expiration></Credentials></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>`+strconv.Itoa(int(b[0]))+
		`</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`)
}

// verifyJWT checks a compact JWS with the standard library's RSA or ECDSA
// verification and returns its subject.
func (f *Floor) verifyJWT(tok string, now time.Time) (string, error) {
	h, rest, ok1 := strings.Cut(tok, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 {
		return "", errors.New("not a compact JWS")
	}
	var hdr struct{ Alg, Kid string }
	var claims struct {
		Iss, Sub string
		Exp      int64
	}
	if err := decodeSegment(h, &hdr); err != nil {
		return "", err
	}
	if err := decodeSegment(p, &claims); err != nil {
		return "", err
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", err
	}
	digest := sha256.Sum256([]byte(tok[:len(h)+1+len(p)]))
	switch key := f.keys[hdr.Kid].(type) {
	case *rsa.PublicKey:
		if hdr.Alg != "RS256" || rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig) != nil {
			return "", errors.New("bad signature")
		}
	case *ecdsa.PublicKey:
		if hdr.Alg != "ES256" || len(sig) != 64 ||
			!ecdsa.Verify(key, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return "", errors.New("bad signature")
		}
	default:
		return "", fmt.Errorf("unknown kid %q", hdr.Kid)
	}
	if claims.Iss == "" || claims.Exp < now.Unix() {
		return "", errors.New("expired or no issuer")
	}
	return claims.Sub, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (f *Floor) callerIdentity(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s, err := sigv4.Parse(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	secret, ok := f.secret[s.AccessKeyID]
	if !ok {
		http.Error(w, "unknown access key", http.StatusForbidden)
		return
	}
	if err := s.Verify(r, body, secret, time.Now()); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/bench/bench</Arn><UserId>`+
		s.AccessKeyID+`:bench</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>0</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
}

// fetchJWKS reads a hosted issuer's key set from the keyless endpoint (the
// path of its jwks_uri, served by keyless itself).
func fetchJWKS(ctx context.Context, hc *http.Client, endpoint, jwksURI string) (*jose.JSONWebKeySet, error) {
	path := jwksURI
	if i := strings.Index(jwksURI, "://"); i >= 0 {
		rest := jwksURI[i+3:]
		path = rest[strings.IndexByte(rest, '/'):]
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+path, nil)
	if err != nil {
		return nil, err
	}
	var st statusBody
	if err := st.do(hc, req); err != nil {
		return nil, err
	}
	if st.status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", path, st.status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(st.body, &set); err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return &set, nil
}
