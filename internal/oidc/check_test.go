package oidc

import (
	"context"
	"errors"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestCheckStepsAndSkew(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var fetched int
	keysErr := errors.New("jwks unreachable")
	failingKeys := func(context.Context) (*jose.JSONWebKeySet, error) { fetched++; return nil, keysErr }
	tests := []struct {
		name     string
		tok      Token
		checks   Checks
		wantStep string
		wantRan  []string
		fetches  int
	}{
		{name: "expired within default skew", tok: Token{Audience: []string{"a"}, Expiry: now.Unix() - 240},
			checks: Checks{ClientIDs: []string{"a"}, Now: now}, wantRan: []string{StepAudience, StepTime}},
		{name: "expired beyond default skew", tok: Token{Audience: []string{"a"}, Expiry: now.Unix() - 301},
			checks: Checks{ClientIDs: []string{"a"}, Now: now}, wantStep: StepTime, wantRan: []string{StepAudience, StepTime}},
		{name: "explicit skew", tok: Token{Audience: []string{"a"}, Expiry: now.Unix() - 61},
			checks: Checks{ClientIDs: []string{"a"}, Now: now, Skew: time.Minute}, wantStep: StepTime, wantRan: []string{StepAudience, StepTime}},
		{name: "wrong audience stops before any key fetch", tok: Token{Audience: []string{"b"}, Expiry: now.Unix() + 60},
			checks: Checks{ClientIDs: []string{"a"}, Now: now, Keys: failingKeys}, wantStep: StepAudience, wantRan: []string{StepAudience}},
		{name: "all steps run when asked", tok: Token{Audience: []string{"b"}, Expiry: now.Unix() - 600},
			checks: Checks{ClientIDs: []string{"a"}, Now: now, Keys: failingKeys, All: true}, wantStep: StepAudience,
			wantRan: []string{StepAudience, StepKeys, StepTime}, fetches: 1},
		{name: "audience unknown is skipped", tok: Token{Audience: []string{"b"}, Expiry: now.Unix() + 60},
			checks: Checks{AudienceUnknown: true, Now: now}, wantRan: []string{StepTime}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fetched = 0
			res := tc.tok.Check(context.Background(), tc.checks)
			step, err := res.Err()
			if step != tc.wantStep || (err == nil) != (tc.wantStep == "") {
				t.Errorf("Err() = %q, %v; want step %q", step, err, tc.wantStep)
			}
			if len(res.Ran) != len(tc.wantRan) {
				t.Errorf("ran %v, want %v", res.Ran, tc.wantRan)
			}
			for _, s := range tc.wantRan {
				if !res.Ran[s] {
					t.Errorf("step %s did not run (ran %v)", s, res.Ran)
				}
			}
			if fetched != tc.fetches {
				t.Errorf("key fetches = %d, want %d", fetched, tc.fetches)
			}
		})
	}
}
