// Package cli implements the keyless subcommands as functions of a context,
// an Env (standard streams and the environment, injected so tests run them
// in process) and arguments. cmd/keyless only builds the root command and
// exits with its code.
//
// It owns flag parsing, output formats and the admin-API client used by
// `issuer` and `token`. It does not implement the server (package server)
// or the AWS client logic of assume/setup/explain (package client).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Env is what a command may touch outside its arguments.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// ExitError carries a specific exit code (explain: 1 deny, 2 error).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Main runs the keyless command line and returns the process exit code.
func Main(ctx context.Context, env Env, args []string) int {
	root := newRoot(env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err == nil {
			return ee.Code
		}
		code, err = ee.Code, ee.Err
	}
	fmt.Fprintln(env.Stderr, "keyless:", nextStep(err))
	return code
}

// nextStep turns errors whose SDK text hides the fix into one that says it:
// no credentials anywhere in the chain, or nobody listening at the endpoint.
func nextStep(err error) error {
	var nc *noAWSCredentials
	if errors.As(err, &nc) {
		return nc
	}
	// A refused connection means nothing listens there (AWS's endpoints do
	// not refuse): most likely a keyless server that is not running.
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" && errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w\nIs `keyless serve` running at %s? --endpoint-url (or AWS_ENDPOINT_URL, KEYLESS_ENDPOINT) says where it listens", err, op.Addr)
	}
	return err
}

// newRoot builds the command tree.
func newRoot(env Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "keyless",
		Short: "Keyless CI-to-cloud authentication: OIDC issuer, AWS-compatible IAM/STS, and client",
		Long: `keyless lets a CI job prove who it is with a short-lived OpenID Connect token and
exchange it for temporary cloud credentials: no long-lived access key anywhere.

It hosts CI token issuers (CircleCI, GitHub Actions, GitLab shapes), an
AWS-compatible IAM/STS that really verifies tokens and evaluates trust policies
as AWS does, and the client commands that use them (or real AWS).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("keyless {{.Version}}\n")
	// Every command, spelled out: a command exists because it is listed here.
	root.AddCommand(newServeCmd(env), newIssuerCmd(env), newTokenCmd(env), newAssumeCmd(env), newSetupCmd(env),
		newExplainCmd(env), newAuditCmd(env), newQuickstartCmd(env), newBenchCmd(env), newHealthCmd(env),
		newVersionCmd(env), newDecisionsCmd(env), newTightenCmd(env))
	rejectUnknown(root)
	// cobra sends pflag's deprecation notes to a buffer nobody reads;
	// say them on stderr.
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		cmd.Flags().Visit(func(f *pflag.Flag) {
			if f.Deprecated != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "keyless: flag --%s is deprecated: %s\n", f.Name, f.Deprecated)
			}
		})
	}
	return root
}

// rejectUnknown makes every command group fail on an unknown subcommand or
// argument ("keyless issuer lst") instead of printing help and exiting 0.
func rejectUnknown(c *cobra.Command) {
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q; run '%s --help' for the list", args[0], cmd.CommandPath(), cmd.CommandPath())
			}
			return cmd.Help()
		}
	}
	for _, sub := range c.Commands() {
		rejectUnknown(sub)
	}
}
