package cli

import "flag"

var updateGolden = flag.Bool("update", false, "rewrite golden files and testscript expectations")
