package server

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestConfigValidate: each rule names the Config fields at fault and no
// flag or environment variable (the command line translates), and the
// defaults themselves are valid.
func TestConfigValidate(t *testing.T) {
	ok := func(c *Config) {}
	tests := []struct {
		name   string
		mod    func(c *Config)
		fields []string // nil: valid
	}{
		{"defaults with a data dir", ok, nil},
		{"no data dir nor store", func(c *Config) { c.DataDir = "" }, []string{"DataDir", "StoreURL"}},
		{"a store URL alone", func(c *Config) { c.DataDir, c.StoreURL = "", "postgres://db/keyless" }, nil},
		{"short account", func(c *Config) { c.Account = "123" }, []string{"Account"}},
		{"half TLS", func(c *Config) { c.TLSCert = "c.pem" }, []string{"TLSCert", "TLSKey"}},
		{"half root", func(c *Config) { c.RootAccessKeyID = "AKIAAAAAAAAAAAAAAAAA" }, []string{"RootAccessKeyID", "RootSecretKey"}},
		{"short root", func(c *Config) { c.RootAccessKeyID, c.RootSecretKey = "AKIA", "s" }, []string{"RootAccessKeyID", "RootSecretKey"}},
		{"master key size", func(c *Config) { c.MasterKey = make([]byte, 16) }, []string{"MasterKey"}},
		{"negative pool", func(c *Config) { c.StoreMaxConns = -1 }, []string{"StoreMaxConns"}},
		{"negative store timeout", func(c *Config) { c.StoreTimeout = -time.Second }, []string{"StoreTimeout"}},
		{"negative issuers", func(c *Config) { c.MaxIssuers = -1 }, []string{"MaxIssuers"}},
		{"negative JWKS max-age", func(c *Config) { c.JWKSMaxAge = -time.Second }, []string{"JWKSMaxAge"}},
		{"runner TTL too short", func(c *Config) { c.RunnerMaxTTL = time.Second }, []string{"RunnerMaxTTL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			c.DataDir = t.TempDir()
			tt.mod(&c)
			err := c.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !slices.Equal(ce.Fields, tt.fields) {
				t.Fatalf("Validate = %v, want a ConfigError on %v", err, tt.fields)
			}
			if msg := err.Error(); strings.Contains(msg, "--") || strings.Contains(msg, "KEYLESS_") {
				t.Errorf("server message names a flag or variable: %q", msg)
			}
		})
	}
}

func TestConfigErrorRender(t *testing.T) {
	e := &ConfigError{Fields: []string{"MasterKey"}, Problem: "give {MasterKey} or a fresh {DataDir}"}
	if got, want := e.Error(), "MasterKey: give MasterKey or a fresh DataDir"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	got := e.Render(func(f string) string {
		return map[string]string{"MasterKey": "--master-key-file", "DataDir": "--data-dir"}[f]
	})
	if want := "--master-key-file: give --master-key-file or a fresh --data-dir"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}

// TestDefaultsFillZeroFields: New's defaults are Defaults, field by field.
func TestDefaultsFillZeroFields(t *testing.T) {
	c := Config{DataDir: t.TempDir()}
	if err := c.setDefaults(); err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	if c.Addr != d.Addr || c.Account != d.Account || c.Region != d.Region || c.JWKSMaxAge != d.JWKSMaxAge ||
		c.MaxIssuers != d.MaxIssuers || c.RunnerMaxTTL != d.RunnerMaxTTL || c.ShutdownTimeout != d.ShutdownTimeout ||
		c.IssuerTick != d.IssuerTick || c.CacheCheck != d.CacheCheck || c.UsageFlush != d.UsageFlush {
		t.Errorf("filled %+v, want the Defaults %+v", c, d)
	}
}
