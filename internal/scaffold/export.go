package scaffold

import (
	"context"
	"flag"
	"io"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Compile compiles names (import paths) in-process with source
// information, as scaffold does, for the binary's other commands:
// imports are resolved in sources, then under importPaths, then among
// ssot-ws's and protoc's own protos. A failure is a [*CompileError].
func Compile(ctx context.Context, importPaths []string, sources map[string]string, names []string) ([]protoreflect.FileDescriptor, error) {
	return compile(ctx, importPaths, sources, names)
}

// ImportPaths collects the repeatable -I (-proto_path) flag of the
// binary's commands.
type ImportPaths []string

func (l *ImportPaths) String() string     { return strings.Join(*l, ",") }
func (l *ImportPaths) Set(v string) error { *l = append(*l, v); return nil }

// NewFlagSet returns the flag set of the command name: it reports errors
// rather than printing them or exiting, and collects -I and -proto_path
// into imports.
func NewFlagSet(name string, imports *ImportPaths) *flag.FlagSet {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.Var(imports, "I", "")
	flags.Var(imports, "proto_path", "")
	return flags
}

// ImportNames maps the files named on the command line to their import
// paths under imports ("." when none is given), as protoc does, and
// returns the import paths used with the names.
func ImportNames(imports ImportPaths, files []string) (ImportPaths, []string, error) {
	if len(imports) == 0 {
		imports = ImportPaths{"."}
	}
	names := make([]string, 0, len(files))
	for _, f := range files {
		name, err := importName(imports, f)
		if err != nil {
			return nil, nil, err
		}
		names = append(names, name)
	}
	return imports, names, nil
}

// ParseArgs parses args with flags, letting flags follow the files as with
// protoc, and returns the files in order. flag.ErrHelp reports -h.
func ParseArgs(flags *flag.FlagSet, args []string) ([]string, error) {
	var files []string
	for {
		if err := flags.Parse(args); err != nil {
			return nil, err
		}
		args = flags.Args()
		if len(args) == 0 {
			return files, nil
		}
		files = append(files, args[0])
		args = args[1:]
	}
}
