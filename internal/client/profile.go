package client

import (
	"fmt"
	"strings"
)

// KV is one key = value line of an AWS shared config or credentials file,
// or, with Sub, a nested block as a services section holds it:
//
//	sts =
//	  endpoint_url = http://127.0.0.1:8787
type KV struct {
	Key, Value string
	Sub        []KV
}

// SetSection returns content (an INI file as the AWS CLI writes them) with
// section [name] replaced by the given keys, or appended when absent; other
// sections are kept verbatim. With no keys the section is removed.
func SetSection(content, name string, kvs []KV) string {
	var out []string
	lines := strings.Split(strings.ReplaceAll(content, "\r\n", "\n"), "\n")
	header := "[" + name + "]"
	skipping, replaced := false, false
	body := func() []string {
		if len(kvs) == 0 {
			return nil
		}
		b := []string{header}
		for _, kv := range kvs {
			if len(kv.Sub) == 0 {
				b = append(b, kv.Key+" = "+kv.Value)
				continue
			}
			b = append(b, kv.Key+" =")
			for _, s := range kv.Sub {
				b = append(b, "  "+s.Key+" = "+s.Value)
			}
		}
		return b
	}
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			if normalizeHeader(t) == header {
				skipping = true
				if !replaced {
					out = append(out, body()...)
					replaced = true
				}
				continue
			}
			skipping = false
		}
		if !skipping {
			out = append(out, l)
		}
	}
	for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
		out = out[:len(out)-1]
	}
	if !replaced && len(kvs) > 0 {
		if len(out) > 0 {
			out = append(out, "")
		}
		out = append(out, body()...)
	}
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, "\n") + "\n"
}

// normalizeHeader folds the spacing the AWS CLI tolerates: "[ profile  x ]".
func normalizeHeader(h string) string {
	return "[" + strings.Join(strings.Fields(strings.Trim(h, "[]")), " ") + "]"
}

// ConfigSection is the config-file section of a profile: [default] or
// [profile NAME].
func ConfigSection(profile string) string {
	if profile == "default" {
		return "default"
	}
	return "profile " + profile
}

// ServicesSection is the config-file section holding a profile's
// per-service endpoints: [services NAME], referenced by "services = NAME".
func ServicesSection(name string) string { return "services " + name }

// ValidProfileName refuses names the shared files cannot hold.
func ValidProfileName(p string) error {
	if p == "" || strings.ContainsAny(p, "[]\r\n\t /\\") {
		return fmt.Errorf("invalid profile name %q: no whitespace, brackets or slashes", p)
	}
	return nil
}
