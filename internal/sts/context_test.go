package sts

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keylessci/keyless/internal/oidc"
	"github.com/keylessci/keyless/internal/policy"
)

func token(claims map[string]any) *oidc.Token {
	t := &oidc.Token{Issuer: "https://oidc.circleci.com/org/o", Subject: "org/o/project/p/user/u", Audience: []string{"o"}}
	if claims == nil {
		claims = map[string]any{}
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	if err := t.SetClaims(payload); err != nil {
		panic(err)
	}
	return t
}

func TestWebIdentityContext(t *testing.T) {
	now := time.Date(2026, 11, 29, 5, 0, 0, 0, time.UTC)
	in := WebIdentityInput{
		Token: token(map[string]any{
			"oidc.circleci.com/project-id": "p",
			"oidc.circleci.com/vcs-ref":    "refs/heads/main", // not an AWS condition key
			"amr":                          []any{"a", "b"},
		}),
		ProviderURL: "oidc.circleci.com/org/o", ProviderARN: "arn:aws:iam::123456789012:oidc-provider/oidc.circleci.com/org/o",
		Audience: "o", RoleARN: "arn:aws:iam::123456789012:role/r", SessionName: "s", SourceIP: "127.0.0.1", Secure: true, Now: now,
	}
	c := WebIdentityContext(in)
	tests := []struct {
		key  string
		want []string
	}{
		{"oidc.circleci.com/org/o:sub", []string{"org/o/project/p/user/u"}},
		{"OIDC.CIRCLECI.COM/ORG/O:AUD", []string{"o"}}, // key names are case-insensitive
		{"oidc.circleci.com/org/o:oidc.circleci.com/project-id", []string{"p"}},
		{"oidc.circleci.com/org/o:oidc.circleci.com/vcs-ref", nil},
		{"oidc.circleci.com/org/o:amr", []string{"a", "b"}},
		{"sts:RoleSessionName", []string{"s"}},
		{"aws:SourceIp", []string{"127.0.0.1"}},
		{"aws:EpochTime", []string{"1795928400"}},
		{"aws:CurrentTime", []string{"2026-11-29T05:00:00Z"}},
		{"aws:SecureTransport", []string{"true"}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, _ := c.Get(tt.key)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if n := len(in.Requests()); n != 1 {
		t.Errorf("requests without tags or source identity = %d, want 1", n)
	}
	in.Tags, in.SourceID = []SessionTag{{"k", "v"}}, "alice"
	var actions []string
	for _, r := range in.Requests() {
		actions = append(actions, r.Action)
		if r.Principal.Type != policy.PrincipalFederated || r.Principal.ID != in.ProviderARN || r.Resource != in.RoleARN {
			t.Errorf("request %+v", r)
		}
	}
	if diff := cmp.Diff([]string{"sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"}, actions); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
}

func TestTokenSessionAttributes(t *testing.T) {
	obj := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			panic(err)
		}
		return v
	}
	tests := []struct {
		name     string
		claims   map[string]any
		wantTags []SessionTag
		wantSrc  string
		wantErr  string
	}{
		{"none", nil, nil, "", ""},
		{"tags and transitive keys", map[string]any{claimTags: obj(`{"principal_tags":{"B":["2"],"A":["1"]},"transitive_tag_keys":["A"]}`)},
			[]SessionTag{{"A", "1"}, {"B", "2"}}, "", ""},
		{"multi-valued tag", map[string]any{claimTags: obj(`{"principal_tags":{"A":["1","2"]}}`)}, nil, "", "exactly one value"},
		{"duplicate keys differing in case", map[string]any{claimTags: obj(`{"principal_tags":{"A":["1"],"a":["2"]}}`)}, nil, "", "duplicate"},
		{"transitive key not a tag", map[string]any{claimTags: obj(`{"principal_tags":{"A":["1"]},"transitive_tag_keys":["B"]}`)}, nil, "", "transitive"},
		{"not an object", map[string]any{claimTags: "x"}, nil, "", "not an object"},
		{"source identity", map[string]any{claimSourceIdentity: "alice"}, nil, "alice", ""},
		{"source identity with aws: prefix", map[string]any{claimSourceIdentity: "aws:x"}, nil, "", "source identity"},
		{"source identity bad chars", map[string]any{claimSourceIdentity: "a b"}, nil, "", "source identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tags, _, src, err := TokenSessionAttributes(token(tt.claims))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantTags, tags); diff != "" || src != tt.wantSrc {
				t.Errorf("tags (-want +got):\n%s source %q", diff, src)
			}
		})
	}
}

func TestPackedSize(t *testing.T) {
	if _, ok, err := packedSize("", nil, nil); ok || err != nil {
		t.Errorf("nothing passed: ok=%v err=%v", ok, err)
	}
	maxPolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::` +
		strings.Repeat("bucket-name/", 180) + `*"}]}`
	if pct, ok, err := packedSize(maxPolicy[:2048], nil, nil); !ok || err != nil || pct > 100 {
		t.Errorf("a 2048-character session policy: pct=%d err=%v", pct, err)
	}
	var tags []SessionTag
	for i := 0; i < 50; i++ {
		tags = append(tags, SessionTag{Key: strings.Repeat(string(rune('a'+i%26)), 10) + string(rune('0'+i/26)), Value: randomish(i)})
	}
	if _, _, err := packedSize("", nil, tags); err == nil {
		t.Error("50 long, incompressible tags fit, want PackedPolicyTooLarge")
	}
}

// randomish is a deterministic, poorly compressible 256-character value.
func randomish(seed int) string {
	var b strings.Builder
	x := uint32(seed*2654435761 + 1)
	for b.Len() < 256 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[x%64])
	}
	return b.String()
}
