package creds

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keylessci/keyless/internal/awserr"
	"github.com/keylessci/keyless/internal/testkit"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// detRand is a deterministic randomness source (SHA-256 in counter mode).
type detRand struct {
	seed string
	n    uint64
	buf  []byte
}

func (r *detRand) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], r.n)
		r.n++
		s := sha256.Sum256(append([]byte(r.seed), c[:]...))
		r.buf = append(r.buf, s[:]...)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func newSealer(t testing.TB, clock *testkit.Clock, keys ...[]byte) *Sealer {
	t.Helper()
	s, err := New(Config{Keys: keys, Now: clock.Now, Rand: &detRand{seed: t.Name()}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fullSession() Session {
	return Session{
		Account: "000000000000", RoleName: "deploy", RolePath: "/ci/", RoleID: "AROAEXAMPLEEXAMPLE01",
		SessionName: "circleci-job-42", SourceIdentity: "alice",
		Tags:              []Tag{{"project", "keyless"}, {"env", "prod"}, {"empty", ""}},
		TransitiveTagKeys: []string{"project"},
		SessionPolicy:     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`,
		PolicyARNs:        []string{"arn:aws:iam::000000000000:policy/ReadOnly"},
		Chained:           true,
		ProviderARN:       "arn:aws:iam::000000000000:oidc-provider/oidc.circleci.com/org/abc",
		Subject:           "org/abc/project/def/user/ghi", Audience: "abc",
		Issued: t0, Expiration: t0.Add(time.Hour),
	}
}

var (
	akidRE   = regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`)
	secretRE = regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		sess Session
	}{
		{"full session", fullSession()},
		{"minimal session", Session{Account: "000000000000", RoleName: "r", SessionName: "s", Expiration: t0.Add(15 * time.Minute)}},
		{"runner session", Session{Account: "000000000000", SessionName: "runner-x", SessionPolicy: "{}", IssuerID: "org-1",
			CreatorRoleName: "deploy", CreatorRoleID: "AROAEXAMPLEEXAMPLE01", Expiration: t0.Add(time.Hour)}},
		{"session larger than the sealing buffer and the stack buffer", func() Session {
			s := fullSession()
			s.SessionPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + strings.Repeat("b", 1900) + `/*"}]}`
			for i := range 20 {
				s.Tags = append(s.Tags, Tag{fmt.Sprintf("key-%02d", i), strings.Repeat("v", 100)})
			}
			return s
		}()},
		{"sub-second times are truncated", Session{RoleName: "r", Issued: t0.Add(500 * time.Millisecond), Expiration: t0.Add(time.Hour + 999*time.Millisecond)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testkit.NewClock(t0)
			s := newSealer(t, clock, key(1))
			c, err := s.Mint(tt.sess)
			if err != nil {
				t.Fatal(err)
			}
			if !akidRE.MatchString(c.AccessKeyID) || !IsTemporary(c.AccessKeyID) {
				t.Errorf("access key id %q", c.AccessKeyID)
			}
			if !secretRE.MatchString(c.SecretAccessKey) {
				t.Errorf("secret %q", c.SecretAccessKey)
			}
			want := tt.sess
			if want.Issued.IsZero() {
				want.Issued = t0
			}
			want.Issued = want.Issued.Truncate(time.Second)
			want.Expiration = want.Expiration.Truncate(time.Second)
			if !c.Expiration.Equal(want.Expiration) {
				t.Errorf("Expiration %s, want %s", c.Expiration, want.Expiration)
			}
			got, secret, err := s.Open(c.AccessKeyID, c.SessionToken)
			if err != nil {
				t.Fatal(err)
			}
			if secret != c.SecretAccessKey {
				t.Errorf("secret %q, want %q", secret, c.SecretAccessKey)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("session (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMintIsUnique(t *testing.T) {
	s := newSealer(t, testkit.NewClock(t0), key(1))
	seen := map[string]bool{}
	for range 100 {
		c, err := s.Mint(fullSession())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken} {
			if seen[v] {
				t.Fatalf("repeated value %q", v)
			}
			seen[v] = true
		}
	}
}

func TestTokenIsCompact(t *testing.T) {
	s := newSealer(t, testkit.NewClock(t0), key(1))
	c, err := s.Mint(Session{Account: "000000000000", RoleName: "deploy", RoleID: "AROAEXAMPLEEXAMPLE01", SessionName: "job-42",
		ProviderARN: "arn:aws:iam::000000000000:oidc-provider/oidc.circleci.com/org/abc", Subject: "org/abc/project/def/user/ghi",
		Audience: "abc", Expiration: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// AWS's own session tokens run to ~1 KiB; ours carry only what was given.
	if n := len(c.SessionToken); n > 400 {
		t.Errorf("token is %d characters", n)
	}
	if strings.ContainsAny(c.SessionToken, "+/=") {
		t.Errorf("token %q is not URL-safe", c.SessionToken)
	}
}

func TestRotation(t *testing.T) {
	clock := testkit.NewClock(t0)
	old := newSealer(t, clock, key(1))
	rotated := newSealer(t, clock, key(2), key(1))
	retired := newSealer(t, clock, key(2))

	oldCreds, err := old.Mint(fullSession())
	if err != nil {
		t.Fatal(err)
	}
	newCreds, err := rotated.Mint(fullSession())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		sealer *Sealer
		c      Credentials
		ok     bool
	}{
		{"rotated opens old token", rotated, oldCreds, true},
		{"rotated opens its own token", rotated, newCreds, true},
		{"new key alone opens new token", retired, newCreds, true},
		{"retired old key rejects old token", retired, oldCreds, false},
		{"old sealer cannot open token sealed by new key", old, newCreds, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.sealer.Open(tt.c.AccessKeyID, tt.c.SessionToken)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkCode(t, err, awserr.CodeInvalidClientTokenID)
		})
	}
}

func checkCode(t *testing.T, err error, code string) {
	t.Helper()
	e := awserr.As(err)
	if e == nil {
		t.Fatalf("error %v, want %s", err, code)
	}
	if e.Code != code || e.Status != 403 {
		t.Fatalf("got %s %d, want %s 403", e.Code, e.Status, code)
	}
	want := map[string]string{
		awserr.CodeInvalidClientTokenID: "The security token included in the request is invalid.",
		awserr.CodeExpiredToken:         "The security token included in the request is expired",
	}[code]
	if e.Message != want {
		t.Fatalf("message %q, want %q", e.Message, want)
	}
}

func TestTampering(t *testing.T) {
	clock := testkit.NewClock(t0)
	s := newSealer(t, clock, key(1))
	c, err := s.Mint(fullSession())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tokenEncoding.DecodeString(c.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("flipped bit at every byte", func(t *testing.T) {
		for i := range raw {
			for _, bit := range []byte{0x01, 0x80} {
				mut := bytes.Clone(raw)
				mut[i] ^= bit
				_, _, err := s.Open(c.AccessKeyID, tokenEncoding.EncodeToString(mut))
				if e := awserr.As(err); e == nil || e.Code != awserr.CodeInvalidClientTokenID {
					t.Fatalf("byte %d bit %#x: %v", i, bit, err)
				}
			}
		}
	})
	t.Run("truncated at every length", func(t *testing.T) {
		for n := range len(raw) {
			_, _, err := s.Open(c.AccessKeyID, tokenEncoding.EncodeToString(raw[:n]))
			if e := awserr.As(err); e == nil || e.Code != awserr.CodeInvalidClientTokenID {
				t.Fatalf("length %d: %v", n, err)
			}
		}
	})
	other, err := s.Mint(fullSession())
	if err != nil {
		t.Fatal(err)
	}
	foreign := newSealer(t, clock, key(9))
	tests := []struct {
		name      string
		open      *Sealer
		akid, tok string
	}{
		{"foreign server's key", foreign, c.AccessKeyID, c.SessionToken},
		{"another session's access key id", s, other.AccessKeyID, c.SessionToken},
		{"lower-cased access key id", s, strings.ToLower(c.AccessKeyID), c.SessionToken},
		{"empty access key id", s, "", c.SessionToken},
		{"empty token", s, c.AccessKeyID, ""},
		{"appended byte", s, c.AccessKeyID, tokenEncoding.EncodeToString(append(bytes.Clone(raw), 0))},
		{"standard base64 alphabet", s, c.AccessKeyID, strings.NewReplacer("-", "+", "_", "/").Replace(c.SessionToken) + "=="},
		{"non-canonical base64 tail", s, c.AccessKeyID, c.SessionToken[:len(c.SessionToken)-1] + string(flipTail(c.SessionToken))},
		{"not base64", s, c.AccessKeyID, "!!!!"},
		{"oversized", s, c.AccessKeyID, strings.Repeat("A", MaxTokenLen+4)},
		{"wrong version", s, c.AccessKeyID, tokenEncoding.EncodeToString(append([]byte{2}, raw[1:]...))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tt.open.Open(tt.akid, tt.tok)
			checkCode(t, err, awserr.CodeInvalidClientTokenID)
		})
	}
}

// flipTail returns the last character of tok with its unused low bits set,
// which a lenient decoder would accept as the same bytes.
func flipTail(tok string) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, tok[len(tok)-1])
	unused := map[int]int{2: 0xf, 3: 0x3}[len(tok)%4]
	if unused == 0 {
		return tok[len(tok)-1] ^ 1 // no spare bits: flip a real one
	}
	return alphabet[i|unused]
}

func TestExpiry(t *testing.T) {
	clock := testkit.NewClock(t0)
	s := newSealer(t, clock, key(1))
	c, err := s.Mint(Session{RoleName: "r", Expiration: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		at   time.Time
		code string
	}{
		{"just issued", t0, ""},
		{"one second before expiry", t0.Add(time.Hour - time.Second), ""},
		{"at expiry", t0.Add(time.Hour), awserr.CodeExpiredToken},
		{"a day later", t0.Add(25 * time.Hour), awserr.CodeExpiredToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.Set(tt.at)
			_, _, err := s.Open(c.AccessKeyID, c.SessionToken)
			if tt.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkCode(t, err, tt.code)
		})
	}
	t.Run("expired token from a foreign key is invalid, not expired", func(t *testing.T) {
		clock.Set(t0.Add(2 * time.Hour))
		_, _, err := newSealer(t, clock, key(7)).Open(c.AccessKeyID, c.SessionToken)
		checkCode(t, err, awserr.CodeInvalidClientTokenID)
	})
}

func TestMintErrors(t *testing.T) {
	s := newSealer(t, testkit.NewClock(t0), key(1))
	tests := []struct {
		name string
		sess Session
	}{
		{"no expiration", Session{RoleName: "r"}},
		{"expiration now", Session{RoleName: "r", Expiration: t0}},
		{"expiration in the past", Session{RoleName: "r", Expiration: t0.Add(-time.Minute)}},
		{"expiration before issue", Session{RoleName: "r", Issued: t0.Add(2 * time.Hour), Expiration: t0.Add(time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Mint(tt.sess); err == nil {
				t.Fatal("Mint succeeded")
			}
		})
	}
	t.Run("randomness failure", func(t *testing.T) {
		s, err := New(Config{Keys: [][]byte{key(1)}, Rand: bytes.NewReader(nil)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Mint(Session{Expiration: time.Now().Add(time.Hour)}); err == nil {
			t.Fatal("Mint succeeded without randomness")
		}
	})
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		keys [][]byte
		ok   bool
	}{
		{"one key", [][]byte{key(1)}, true},
		{"two keys", [][]byte{key(1), key(2)}, true},
		{"no keys", nil, false},
		{"short key", [][]byte{key(1)[:16]}, false},
		{"long key", [][]byte{append(key(1), 0)}, false},
		{"duplicate key", [][]byte{key(1), key(1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Keys: tt.keys})
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%t", err, tt.ok)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	k1, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != KeySize || bytes.Equal(k1, k2) {
		t.Fatalf("keys %x %x", k1, k2)
	}
	if _, err := GenerateKey(bytes.NewReader(make([]byte, 10))); err == nil {
		t.Fatal("short reader accepted")
	}
	if _, err := New(Config{Keys: [][]byte{k1}}); err != nil {
		t.Fatal(err)
	}
}

func TestIsTemporary(t *testing.T) {
	tests := map[string]bool{
		"ASIAABCDEFGHIJKLMNOP": true,
		"ASIAABCDEFGHIJKLMN27": true,
		"AKIAABCDEFGHIJKLMNOP": false,
		"ASIAABCDEFGHIJKLMNO":  false,
		"ASIAABCDEFGHIJKLMNO1": false,
		"asiaabcdefghijklmnop": false,
		"":                     false,
	}
	for id, want := range tests {
		t.Run(id, func(t *testing.T) {
			if got := IsTemporary(id); got != want {
				t.Errorf("IsTemporary(%q) = %t", id, got)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	s, err := New(Config{Keys: [][]byte{key(1)}, Now: (testkit.NewClock(t0)).Now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 50 {
				c, err := s.Mint(fullSession())
				if err == nil {
					_, _, err = s.Open(c.AccessKeyID, c.SessionToken)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestErrorsKeepCause(t *testing.T) {
	s := newSealer(t, testkit.NewClock(t0), key(1))
	_, _, err := s.Open("ASIAABCDEFGHIJKLMNOP", "!!")
	if errors.Unwrap(err) == nil {
		t.Fatal("no internal cause for the log")
	}
}

// TestRunnerTailIsOptional: the runner fields are a tail that role
// sessions never carry, so a token sealed before they existed (the same
// layout without the tail) opens with them empty.
func TestRunnerTailIsOptional(t *testing.T) {
	secret := make([]byte, secretRawLen)
	withTail := Session{Account: "000000000000", SessionName: "runner-x", IssuerID: "org-1", CreatorRoleName: "deploy",
		CreatorRoleID: "AROAEXAMPLEEXAMPLE01", Issued: t0, Expiration: t0.Add(time.Hour)}
	old := withTail
	old.IssuerID, old.CreatorRoleName, old.CreatorRoleID = "", "", ""
	full := encodeSession(nil, &withTail, secret)
	prefix := encodeSession(nil, &old, secret)
	if !bytes.HasPrefix(full, prefix) || len(full) == len(prefix) {
		t.Fatalf("runner fields are not a tail of the old layout")
	}
	got, _, err := decodeSession(string(prefix))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(old, got); diff != "" {
		t.Errorf("old layout (-want +got):\n%s", diff)
	}
	if _, _, err := decodeSession(string(full[:len(full)-1])); err == nil {
		t.Error("a truncated tail decodes")
	}
}

func TestEncodedSizeBoundsTheRecord(t *testing.T) {
	big := fullSession()
	big.Tags = append(big.Tags, Tag{strings.Repeat("k", 128), strings.Repeat("v", 256)})
	big.IssuerID, big.CreatorRoleName, big.CreatorRoleID = "org-1", "deploy", "AROAEXAMPLEEXAMPLE01"
	for name, s := range map[string]Session{"full": fullSession(), "minimal": {RoleName: "r"}, "large": big} {
		t.Run(name, func(t *testing.T) {
			if got, bound := len(encodeSession(nil, &s, make([]byte, secretRawLen))), encodedSize(&s); got > bound {
				t.Errorf("record is %d bytes, bound %d", got, bound)
			}
		})
	}
}
