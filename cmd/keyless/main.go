// Package main is the keyless command: keyless CI-to-cloud authentication in one binary, the
// server (serve), hosted CI issuers (issuer, token) and the client commands.
// It only builds the command tree; everything else is in internal/.
package main

import (
	"context"
	"os"

	"github.com/keylessci/keyless/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}, os.Args[1:]))
}
