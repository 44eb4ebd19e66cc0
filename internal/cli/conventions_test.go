package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// badFlag names spellings that go against the CLI grammar, with the one to use.
var badFlag = map[string]string{
	"aud": "--audience", "repo": "--repository", "endpoint": "--endpoint-url", "json": "-o/--output json",
	"format": "-o/--output", "url": "--endpoint-url or --issuer-url",
}

// enumFlags must complete their values.
var enumFlags = []string{"output", "profile", "ci", "emit", "log-format", "decision", "fail-on"}

// TestCLIConventions walks the whole command tree: every command has an
// example, no visible flag is spelled against the grammar, and enum flags
// complete their values.
func TestCLIConventions(t *testing.T) {
	root := NewRoot(Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" || strings.HasPrefix(c.CommandPath(), "keyless completion") {
			return
		}
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c != root && strings.TrimSpace(c.Example) == "" {
				t.Errorf("%s has no Example", c.CommandPath())
			}
			check := func(f *pflag.Flag) {
				if f.Hidden {
					return
				}
				if want, bad := badFlag[f.Name]; bad {
					t.Errorf("%s --%s: spell it %s (keep the old name as a hidden deprecated alias)", c.CommandPath(), f.Name, want)
				}
				for _, e := range enumFlags {
					if f.Name == e && f.Value.Type() == "string" && strings.Contains(f.Usage, "|") {
						if _, ok := c.GetFlagCompletionFunc(f.Name); !ok {
							t.Errorf("%s --%s takes one of a fixed set of values but does not complete them", c.CommandPath(), f.Name)
						}
					}
				}
			}
			c.LocalFlags().VisitAll(check)
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
