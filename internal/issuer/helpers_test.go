package issuer

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/keylessci/keyless/internal/store"
	"github.com/keylessci/keyless/internal/testkit"
)

func testAEAD(t testing.TB) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// newTestService returns a service on the tests' store (testkit.Store: the
// real SQLite store in a temporary directory) and a test clock.
func newTestService(t testing.TB) (*Service, Store, *testkit.Clock) {
	t.Helper()
	st := testkit.Store(t)
	clk := testkit.NewClock(testkit.Epoch)
	s, err := New(Config{Store: st, KeyEncryption: testAEAD(t), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, st, clk
}

// keysOf returns the signing keys st holds for issuer id, oldest first.
func keysOf(t testing.TB, st Store, id string) []store.SigningKey {
	t.Helper()
	ks, err := st.ListSigningKeys(context.Background(), id)
	if err != nil {
		t.Fatalf("list signing keys of %s: %v", id, err)
	}
	return ks
}

// listIssuers returns the issuers st holds.
func listIssuers(t testing.TB, st Store) []store.Issuer {
	t.Helper()
	is, err := st.ListIssuers(context.Background())
	if err != nil {
		t.Fatalf("list issuers: %v", err)
	}
	return is
}
