package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// masterKeyFile is the name of the master key file in the data dir.
const masterKeyFile = "master.key"

// loadMasterKey returns the configured master key or, for a store in the
// data dir, the one in DataDir/master.key, generated (0600) when missing —
// unless the store already holds secrets sealed under a master key
// (sealed): a new key could not open them, so the missing file is an error
// that says how to put it back.
func loadMasterKey(cfg *Config, sealed bool) ([]byte, error) {
	if len(cfg.MasterKey) > 0 {
		return cfg.MasterKey, nil
	}
	if strings.HasPrefix(cfg.StoreURL, "postgres") || cfg.DataDir == "" {
		return nil, configErr("a shared store needs a master key, the same on every replica", "MasterKey")
	}
	p := filepath.Join(cfg.DataDir, masterKeyFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) && sealed {
		return nil, configErr(fmt.Sprintf("%s is missing, but the store in this data directory holds secrets sealed "+
			"under a master key, which no new key can open. Put the original master.key back (from your backup), "+
			"or give that key as {MasterKey}, or start on a fresh {DataDir}", p), "MasterKey")
	}
	if errors.Is(err, os.ErrNotExist) {
		key, err := newMasterKey()
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, os.ErrExist) { // another process wrote it first
				return loadMasterKey(cfg, sealed)
			}
			return nil, fmt.Errorf("create master key file: %w", err)
		}
		_, werr := f.WriteString(key + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = os.Remove(p)
			return nil, fmt.Errorf("write master key file: %w", werr)
		}
		return ParseMasterKey(key)
	}
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	k, err := ParseMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return k, nil
}

// newMasterKey returns a new random master key in its text form.
func newMasterKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// ParseMasterKey decodes a master key's text form: 32 bytes in standard
// base64, surrounding white space ignored.
func ParseMasterKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != 32 {
		return nil, errors.New("a master key is 32 bytes in base64 (make one with: head -c 32 /dev/urandom | base64)")
	}
	return b, nil
}
