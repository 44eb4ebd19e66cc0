package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// deprecatedAlias registers old as a hidden spelling of the flag named
// current (same value); using it still works and says which to use.
func deprecatedAlias(fs *pflag.FlagSet, old, current string) {
	f := fs.Lookup(current)
	fs.Var(f.Value, old, f.Usage)
	_ = fs.MarkDeprecated(old, "use --"+current+" (the old spelling goes away in the next release)")
}

// enumCompletion completes the flag's values.
func enumCompletion(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// outputFlag adds -o/--output with the given values (the first is the
// default), completion of them, and a hidden deprecated --json that means
// -o json.
func outputFlag(cmd *cobra.Command, fs *pflag.FlagSet, out *string, values ...string) {
	usage := "output format: " + values[0]
	for _, v := range values[1:] {
		usage += " | " + v
	}
	fs.StringVarP(out, "output", "o", values[0], usage)
	fs.Var(jsonFlag{out}, "json", "same as -o json")
	fs.Lookup("json").NoOptDefVal = "true"
	_ = fs.MarkDeprecated("json", "use -o json (--json goes away in the next release)")
	enumCompletion(cmd, "output", values...)
}

// jsonFlag is the old boolean --json, setting the output selector.
type jsonFlag struct{ out *string }

func (j jsonFlag) String() string { return "false" }
func (j jsonFlag) Type() string   { return "bool" }
func (j jsonFlag) IsBoolFlag() bool {
	return true
}
func (j jsonFlag) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err == nil && b {
		*j.out = "json"
	}
	return err
}

// durationValue is a duration flag that also takes a bare number of
// seconds ("3600"), the spelling of the AWS CLI's *-seconds flags it
// replaces; its Type is "duration" and --help shows the default as one.
type durationValue struct{ d *time.Duration }

func newDurationValue(d *time.Duration, def time.Duration) durationValue {
	*d = def
	return durationValue{d}
}

func (v durationValue) String() string {
	if v.d == nil {
		return "0s"
	}
	return v.d.String()
}
func (v durationValue) Type() string { return "duration" }
func (v durationValue) Set(s string) error {
	if n, err := strconv.ParseInt(s, 10, 32); err == nil {
		*v.d = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as 1h or 900s, or a number of seconds")
	}
	*v.d = d
	return nil
}

// wholeSeconds converts a duration flag to the whole seconds AWS APIs take.
func wholeSeconds(flag string, d time.Duration) (int32, error) {
	if d%time.Second != 0 || d < 0 || d > 1<<31*time.Second-time.Second {
		return 0, fmt.Errorf("--%s %s: give a whole number of seconds (e.g. 15m, 1h, 900s)", flag, d)
	}
	return int32(d / time.Second), nil
}
