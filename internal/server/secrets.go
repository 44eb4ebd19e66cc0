package server

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/keylessci/keyless/internal/store"
)

// secretStore is the part of the store the secrets live in.
type secretStore interface {
	GetSecret(ctx context.Context, name string) ([]byte, error)
	GetOrCreateSecret(ctx context.Context, name string, value []byte) ([]byte, error)
	DeleteSecret(ctx context.Context, name string) error
}

type rootCredentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
}

// Names of the secrets in the store. Every value is sealed: the root
// credentials and the key-encryption key under the master key (kept outside
// the store), the session keys under the key-encryption key.
const (
	secretRoot        = "root-credentials.sealed"
	secretKEK         = "key-encryption-key.sealed"
	secretSessionKeys = "session-keys"
	// legacyRoot is where versions before the master key kept generated
	// root credentials in plain JSON; startup seals and deletes it.
	legacyRoot = "root-credentials"
)

// loadRoot returns the root credentials stored sealed under master: on first
// start the ones given in the config, else the previous version's plain copy
// (then deleted), else new ones (by the first replica to start). Credentials
// given in the config must be the stored ones. The bool reports that this
// call generated them.
func loadRoot(ctx context.Context, st secretStore, master cipher.AEAD, cfg *Config) (rootCredentials, bool, error) {
	given := cfg.RootAccessKeyID != ""
	legacy, err := st.GetSecret(ctx, legacyRoot)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return rootCredentials{}, false, fmt.Errorf("load root credentials: %w", err)
	}
	sealed, err := st.GetSecret(ctx, secretRoot)
	var want rootCredentials
	switch {
	case err == nil:
	case !errors.Is(err, store.ErrNotFound):
		return rootCredentials{}, false, fmt.Errorf("load root credentials: %w", err)
	default:
		switch {
		case given:
			want = rootCredentials{cfg.RootAccessKeyID, cfg.RootSecretKey}
		case legacy != nil:
			if err := json.Unmarshal(legacy, &want); err != nil {
				return rootCredentials{}, false, fmt.Errorf("decode the previous version's root credentials: %w", err)
			}
		default:
			if want, err = newRootCredentials(); err != nil {
				return rootCredentials{}, false, err
			}
		}
		plain, _ := json.Marshal(want)
		if sealed, err = st.GetOrCreateSecret(ctx, secretRoot, seal(master, secretRoot, plain)); err != nil {
			return rootCredentials{}, false, fmt.Errorf("store root credentials: %w", err)
		}
	}
	plain, err := open(master, secretRoot, sealed)
	if err != nil {
		return rootCredentials{}, false, wrongMasterKey(cfg)
	}
	var rc rootCredentials
	if err := json.Unmarshal(plain, &rc); err != nil {
		return rootCredentials{}, false, fmt.Errorf("decode stored root credentials: %w", err)
	}
	if given && rc != (rootCredentials{cfg.RootAccessKeyID, cfg.RootSecretKey}) {
		// Replicas of one store are one service: they share its root.
		return rootCredentials{}, false, otherRoot(cfg, rc)
	}
	if legacy != nil {
		// Sealed copy in place: the plain one goes, and leaves no trace
		// in the database files.
		if err := st.DeleteSecret(ctx, legacyRoot); err != nil {
			return rootCredentials{}, false, fmt.Errorf("delete the plain root credentials: %w", err)
		}
	}
	generated := !given && legacy == nil && want != (rootCredentials{}) && rc == want
	return rc, generated, nil
}

// wrongMasterKey is the error of a master key that does not open the
// store's sealed secrets.
func wrongMasterKey(cfg *Config) error {
	which, restore := "the {MasterKey} given", ""
	if len(cfg.MasterKey) == 0 && cfg.DataDir != "" {
		which = filepath.Join(cfg.DataDir, masterKeyFile)
	}
	if cfg.DataDir != "" && cfg.StoreURL == "" {
		restore = "restore " + masterKeyFile + " from your backup, or "
	}
	return configErr(fmt.Sprintf("the store's secrets were sealed under another master key than %s, so they cannot be opened. "+
		"Give the master key this store was created with (%sgive it as {MasterKey}), "+
		"or start on a fresh %s", which, restore, freshStore(cfg)), "MasterKey")
}

// otherRoot is the error of root credentials given that are not the ones
// the store was set up with (rc): it names the stored access key id —
// never a secret — and the ways out.
func otherRoot(cfg *Config, rc rootCredentials) error {
	problem := fmt.Sprintf("this store's root credentials are %s (set when it was created), not the %s given",
		rc.AccessKeyID, cfg.RootAccessKeyID)
	if rc.AccessKeyID == cfg.RootAccessKeyID {
		problem = fmt.Sprintf("the secret given for %s is not the one this store was set up with", rc.AccessKeyID)
	}
	where := "the first start printed them, or they were given to it"
	if p := rootFileOf(cfg); p != "" {
		if _, err := os.Stat(p); err == nil {
			where = "they are in " + p
		}
	}
	return configErr(fmt.Sprintf("%s. Either unset {RootAccessKeyID} and {RootSecretKey} to use the stored ones (%s), "+
		"or set them to the stored pair, or start on a fresh %s", problem, where, freshStore(cfg)),
		"RootAccessKeyID", "RootSecretKey")
}

// freshStore names the way to a new store: another data dir for SQLite,
// another database for a store URL.
func freshStore(cfg *Config) string {
	if cfg.StoreURL != "" {
		return "{StoreURL} (an empty database)"
	}
	return "{DataDir} (an empty directory)"
}

// rootFileOf is where the root credentials file lives: in the data dir,
// when there is one ("" otherwise).
func rootFileOf(cfg *Config) string {
	if cfg.DataDir == "" {
		return ""
	}
	return filepath.Join(cfg.DataDir, rootCredentialsFile)
}

// keyEncryptionKey returns the AEAD that seals signing keys and session
// sealing keys at rest. Its key is stored sealed under master: random for a
// new store; for a store of a version before the master key, the key that
// version derived from the root secret, so what it sealed still opens.
func keyEncryptionKey(ctx context.Context, st secretStore, master cipher.AEAD, rootSecret string, cfg *Config) (cipher.AEAD, error) {
	sealed, err := st.GetSecret(ctx, secretKEK)
	if errors.Is(err, store.ErrNotFound) {
		var key []byte
		_, lerr := st.GetSecret(ctx, secretSessionKeys)
		switch {
		case lerr == nil: // a previous version's store
			if key, err = hkdf.Key(sha256.New, []byte(rootSecret), []byte("keyless"), "keyless key-encryption v1", 32); err != nil {
				return nil, err
			}
		case errors.Is(lerr, store.ErrNotFound):
			key = make([]byte, 32)
			if _, err := rand.Read(key); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("load session keys: %w", lerr)
		}
		sealed, err = st.GetOrCreateSecret(ctx, secretKEK, seal(master, secretKEK, key))
	}
	if err != nil {
		return nil, fmt.Errorf("load key-encryption key: %w", err)
	}
	key, err := open(master, secretKEK, sealed)
	if err != nil {
		return nil, wrongMasterKey(cfg)
	}
	return newAEAD(key)
}

// masterAEAD returns the AEAD of the master key (32 bytes, kept outside the
// store).
func masterAEAD(masterKey []byte) (cipher.AEAD, error) {
	if len(masterKey) != 32 {
		return nil, fmt.Errorf("the master key must be 32 bytes, not %d", len(masterKey))
	}
	k, err := hkdf.Key(sha256.New, masterKey, []byte("keyless"), "keyless master v1", 32)
	if err != nil {
		return nil, err
	}
	return newAEAD(k)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// seal returns nonce || AES-GCM(plain), bound to name.
func seal(a cipher.AEAD, name string, plain []byte) []byte {
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return a.Seal(nonce, nonce, plain, []byte(name))
}

func open(a cipher.AEAD, name string, sealed []byte) ([]byte, error) {
	if len(sealed) < a.NonceSize() {
		return nil, errors.New("sealed value too short")
	}
	return a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], []byte(name))
}

func newRootCredentials() (rootCredentials, error) {
	b := make([]byte, 40)
	if _, err := rand.Read(b); err != nil {
		return rootCredentials{}, err
	}
	id := "AKIA" + base32.StdEncoding.EncodeToString(b[:10])[:16]
	secret := base64.StdEncoding.EncodeToString(b[10:])[:40]
	return rootCredentials{AccessKeyID: id, SecretAccessKey: secret}, nil
}

// rootCredentialsFile is the name of the root credentials file in the data
// dir.
const rootCredentialsFile = "root-credentials"

// writeRootFile writes the root credentials to the data dir (rootFileOf),
// mode 0600, in the AWS credentials-file format; it returns "" when there
// is no data dir.
func writeRootFile(cfg *Config, rc rootCredentials) (string, error) {
	p := rootFileOf(cfg)
	if p == "" {
		return "", nil
	}
	body := fmt.Sprintf("[keyless]\naws_access_key_id = %s\naws_secret_access_key = %s\n", rc.AccessKeyID, rc.SecretAccessKey)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		return "", err
	}
	return p, os.Chmod(p, 0o600)
}

// sessionKeys returns the keys that seal session tokens, stored sealed under
// kek, generated by whichever replica starts first.
func sessionKeys(ctx context.Context, st secretStore, kek cipher.AEAD) ([][]byte, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	got, err := st.GetOrCreateSecret(ctx, secretSessionKeys, seal(kek, secretSessionKeys, key))
	if err != nil {
		return nil, fmt.Errorf("load session keys: %w", err)
	}
	plain, err := open(kek, secretSessionKeys, got)
	if err != nil {
		return nil, errors.New("cannot open the stored session keys")
	}
	return [][]byte{plain}, nil
}

func redactKey(id string) string {
	if len(id) <= 8 {
		return strings.Repeat("*", len(id))
	}
	return id[:8] + "…"
}
