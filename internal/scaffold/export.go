package scaffold

import (
	"context"

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
