// Package cli is what the commands of protoc-gen-ssot-ws (new, proto,
// scaffold, migrate) share: flags that may follow the operands, as with
// protoc; -h printing the command's usage; and the form of their errors,
// "protoc-gen-ssot-ws <command>: <message>", with the usage after a usage
// error.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Command is one command of protoc-gen-ssot-ws. Declare its flags on
// Flags, then call [Command.Parse].
type Command struct {
	Name   string
	Usage  string
	Stdout io.Writer
	Stderr io.Writer
	// Flags reports errors to Parse rather than printing them or exiting.
	Flags *flag.FlagSet
}

// New returns the command name with the usage text usage.
func New(name, usage string, stdout, stderr io.Writer) *Command {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	return &Command{Name: name, Usage: usage, Stdout: stdout, Stderr: stderr, Flags: flags}
}

// Parse parses args, letting flags follow the operands, and returns the
// operands in order. When done, the command is over with status: -h
// printed the usage (0), or a flag was wrong (2, a usage error).
func (c *Command) Parse(args []string) (operands []string, status int, done bool) {
	for {
		err := c.Flags.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(c.Stdout, c.Usage)
			return nil, 0, true
		}
		if err != nil {
			return nil, c.UsageError("%v", err), true
		}
		args = c.Flags.Args()
		if len(args) == 0 {
			return operands, 0, false
		}
		operands = append(operands, args[0])
		args = args[1:]
	}
}

// UsageError reports a wrong use of the command, then its usage, on
// Stderr, and returns the status of a usage error, 2.
func (c *Command) UsageError(format string, a ...any) int {
	c.Fail(format, a...)
	fmt.Fprintln(c.Stderr, c.Usage)
	return 2
}

// Fail reports a failure of the command on Stderr and returns the status
// of a failure, 1.
func (c *Command) Fail(format string, a ...any) int {
	fmt.Fprintf(c.Stderr, "protoc-gen-ssot-ws "+c.Name+": "+format+"\n", a...)
	return 1
}

// ImportPaths collects the repeatable -I (-proto_path) flag of the
// commands that compile protos.
type ImportPaths []string

func (l *ImportPaths) String() string     { return strings.Join(*l, ",") }
func (l *ImportPaths) Set(v string) error { *l = append(*l, v); return nil }

// ImportFlags declares -I and -proto_path, collected into imports.
func (c *Command) ImportFlags(imports *ImportPaths) {
	c.Flags.Var(imports, "I", "")
	c.Flags.Var(imports, "proto_path", "")
}
