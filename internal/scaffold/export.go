package scaffold

import (
	"context"
	"flag"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Compile compiles names (import paths) in-process with source
// information, as scaffold does, for the binary's other commands:
// imports are resolved in sources, then under importPaths, then among
// ssot-ws's and protoc's own protos. A failure is a [*CompileError].
func Compile(ctx context.Context, importPaths []string, sources map[string]string, names []string) ([]protoreflect.FileDescriptor, error) {
	return compile(ctx, importPaths, sources, names)
}

// ImportName maps a file named on the command line to its import path, as
// protoc does.
func ImportName(importPaths []string, arg string) (string, error) {
	return importName(importPaths, arg)
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
