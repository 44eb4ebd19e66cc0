package awsquery

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadBody(t *testing.T) {
	body := strings.Repeat("Action=GetCallerIdentity&", 40)
	big := strings.Repeat("x", MaxBodyBytes+10)
	tests := []struct {
		name     string
		r        io.Reader
		declared int64
		want     string
		wantErr  bool
	}{
		{"declared exactly", strings.NewReader(body), int64(len(body)), body, false},
		{"undeclared", strings.NewReader(body), -1, body, false},
		{"declared zero", strings.NewReader(body), 0, body, false},
		{"declared shorter than sent", strings.NewReader(body), 10, body, false},
		{"declared longer than sent", strings.NewReader(body), int64(len(body) + 100), body, false},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(body)), int64(len(body)), body, false},
		{"data with EOF", iotest.DataErrReader(strings.NewReader(body)), int64(len(body)), body, false},
		{"too large, declared small: capped at MaxBodyBytes+1", strings.NewReader(big), 5, big[:MaxBodyBytes+1], false},
		{"too large, declared too large: capped at MaxBodyBytes+1", strings.NewReader(big), int64(len(big)), big[:MaxBodyBytes+1], false},
		{"read error", iotest.ErrReader(errors.New("boom")), 10, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readBody(tt.r, tt.declared)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && !bytes.Equal(got, []byte(tt.want)) {
				t.Errorf("got %d bytes, want %d", len(got), len(tt.want))
			}
		})
	}
}

func TestIsForm(t *testing.T) {
	tests := []struct {
		ct   string
		want bool
	}{
		{"", true},
		{"application/x-www-form-urlencoded", true},
		{"application/x-www-form-urlencoded; charset=utf-8", true},
		{"Application/X-WWW-Form-Urlencoded; charset=UTF-8", true},
		{"application/json", false},
		{"application/x-www-form-urlencoded; =bad", false},
	}
	for _, tt := range tests {
		t.Run(tt.ct, func(t *testing.T) {
			if got := isForm(tt.ct); got != tt.want {
				t.Errorf("isForm(%q) = %v, want %v", tt.ct, got, tt.want)
			}
		})
	}
}
