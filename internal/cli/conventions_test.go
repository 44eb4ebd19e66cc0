package cli

import (
	"io"
	"regexp"
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

// durationName matches flag names that say they hold a time span: they
// must be duration flags ("1h", "15m"), whose --help shows the default as one.
var durationName = regexp.MustCompile(`(^|-)(seconds|ttl|duration|timeout|wait|interval|every)$`)

// enumFlags must complete their values.
var enumFlags = []string{"output", "profile", "ci", "emit", "log-format", "decision", "fail-on"}

// TestCLIConventions walks the whole command tree: every command has an
// example, no visible flag is spelled against the grammar, enum flags
// complete their values, time spans are duration flags, and no command
// silently takes arguments it does not use.
func TestCLIConventions(t *testing.T) {
	root := newRoot(Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" || strings.HasPrefix(c.CommandPath(), "keyless completion") {
			return
		}
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c != root && strings.TrimSpace(c.Example) == "" {
				t.Errorf("%s has no Example", c.CommandPath())
			}
			// A stray argument must fail, not be ignored ("keyless token x").
			if c.Runnable() && !c.HasSubCommands() && c.Args == nil {
				t.Errorf("%s accepts any arguments: set Args (cobra.NoArgs, ExactArgs…)", c.CommandPath())
			}
			check := func(f *pflag.Flag) {
				if f.Hidden {
					return
				}
				if durationName.MatchString(f.Name) && f.Value.Type() != "duration" {
					t.Errorf("%s --%s is a %s: make it a duration flag (e.g. 1h) with its real default", c.CommandPath(), f.Name, f.Value.Type())
				}
				if strings.HasSuffix(f.Name, "-seconds") {
					t.Errorf("%s --%s: name the span, not its unit (--%s, a duration; keep the old name as a hidden deprecated alias)",
						c.CommandPath(), f.Name, strings.TrimSuffix(f.Name, "-seconds"))
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
