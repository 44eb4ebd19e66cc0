package cli

import (
	"strconv"

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
