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

// ImportNames maps the files named on the command line to their import
// paths under imports ("." when none is given), as protoc does, and
// returns the import paths used with the names.
func ImportNames(imports, files []string) ([]string, []string, error) {
	if len(imports) == 0 {
		imports = []string{"."}
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
