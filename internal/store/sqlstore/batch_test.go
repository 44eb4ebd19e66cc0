package sqlstore

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/s2"

	"github.com/keylessci/keyless/internal/store"
)

// encodeBatch is encode with buffers of its own.
func encodeBatch(ds []store.Decision) []byte {
	var e batchEncoder
	return e.encode(ds)
}

func sampleBatch(n int) []store.Decision {
	at := time.Date(2026, 12, 5, 1, 2, 3, 456789000, time.UTC)
	ds := make([]store.Decision, n)
	for i := range ds {
		ds[i] = store.Decision{ID: fmt.Sprintf("%020x", i), Time: at.Add(time.Duration(i) * time.Millisecond), RequestID: fmt.Sprint("req-", i),
			SourceIP: "192.0.2.1", UserAgent: "aws-sdk-go-v2/1.30", Action: "sts:AssumeRoleWithWebIdentity",
			RoleARN: "arn:aws:iam::000000000000:role/ci", RoleName: "ci", Provider: "arn:aws:iam::000000000000:oidc-provider/x",
			Subject: "repo:acme/app:ref:refs/heads/main", Decision: "allow", Latency: 1500 * time.Microsecond,
			Claims: []byte(`{"sub":"repo:acme/app:ref:refs/heads/main","n":1}`)}
	}
	return ds
}

func TestBatchRoundTrip(t *testing.T) {
	denied := sampleBatch(1)[0]
	denied.Decision, denied.ErrorCode, denied.Reason, denied.ClosestMiss, denied.Fix = "deny", "AccessDenied", "trust policy", "miss", "fix"
	denied.Trace, denied.Principal, denied.Time = []byte(`{"decision":"implicitDeny"}`), "arn:aws:iam::000000000000:root", time.Unix(-5, 0).UTC()
	tests := []struct {
		name string
		ds   []store.Decision
	}{
		{"one", sampleBatch(1)},
		{"writer batch", sampleBatch(256)},
		{"denied with trace, before 1970", []store.Decision{denied}},
		{"absent and empty documents differ", []store.Decision{{ID: "a"}, {ID: "b", Claims: []byte{}, Trace: []byte{}}}},
		{"unicode and control bytes", []store.Decision{{ID: "\x00é\n", Subject: "<img src=x onerror=alert(1)>\u2028", Claims: []byte("{\"\x00\":1}")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeBatch(encodeBatch(tc.ds))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.ds, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// The writer's batches repeat themselves; compressed, a decision costs the
// store a small fraction of its encoded size.
func TestBatchCompresses(t *testing.T) {
	ds := sampleBatch(256)
	var raw int
	for _, d := range ds {
		raw += len(d.ID) + len(d.RequestID) + len(d.UserAgent) + len(d.RoleARN) + len(d.Provider) + len(d.Subject) + len(d.Claims)
	}
	if got := len(encodeBatch(ds)); got*5 > raw {
		t.Errorf("256 decisions take %d bytes compressed, %d raw: want at least 5x smaller", got, raw)
	}
}

func TestDecodeBatchRejectsDamage(t *testing.T) {
	good := encodeBatch(sampleBatch(3))
	compress := func(raw []byte) []byte { return s2.Encode(nil, raw) }
	tests := map[string][]byte{
		"empty":              nil,
		"not s2":             []byte("hello"),
		"claims a huge size": {0xff, 0xff, 0xff, 0xff, 0x7f},
		"truncated":          good[:len(good)/2],
		"unknown format":     compress([]byte{2, 0}),
		"count beyond data":  compress([]byte{1, 200}),
		"string too long":    compress(append([]byte{1, 1, 100}, make([]byte, 30)...)),
		"trailing bytes":     compress(append(append([]byte{1, 1}, make([]byte, 19)...), 7)),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := decodeBatch(body); !errors.Is(err, errBadBatch) {
				t.Errorf("decodeBatch: %v, want errBadBatch", err)
			}
		})
	}
}

// FuzzDecodeBatch: any stored body decodes or fails with errBadBatch, never
// panics; what decodes encodes back to the same decisions.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch(sampleBatch(2)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		ds, err := decodeBatch(body)
		if err != nil {
			if !errors.Is(err, errBadBatch) {
				t.Fatalf("error %v is not errBadBatch", err)
			}
			return
		}
		again, err := decodeBatch(encodeBatch(ds))
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(ds, again) {
			t.Fatal("decode(encode(decode(body))) differs")
		}
	})
}
