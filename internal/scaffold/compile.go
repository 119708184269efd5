package scaffold

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	ssotproto "github.com/ssot-codegen/ssot-ws/proto"
	protovalidateproto "github.com/ssot-codegen/ssot-ws/third_party/protovalidate"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// CompileError is a compilation that failed: every error the compiler
// reported, each "file:line:col: message" as protoc prints them.
type CompileError struct {
	Errors []string
}

func (e *CompileError) Error() string { return strings.Join(e.Errors, "\n") }

// compile compiles names (import paths) in-process. Imports are resolved
// in sources (file name → content), then under importPaths, then in
// ssot-ws's embedded protos (ssot/ws/v1/*.proto), then among protoc's
// standard imports (google/protobuf/*.proto). It returns the compiled
// files in the order of names.
func compile(ctx context.Context, importPaths []string, sources map[string]string, names []string) ([]protoreflect.FileDescriptor, error) {
	var resolvers protocompile.CompositeResolver
	if len(sources) > 0 {
		resolvers = append(resolvers, &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(sources)})
	}
	resolvers = append(resolvers,
		&protocompile.SourceResolver{ImportPaths: importPaths},
		&protocompile.SourceResolver{Accessor: embeddedAccessor},
	)
	var errs []string
	rep := reporter.NewReporter(func(err reporter.ErrorWithPos) error {
		errs = append(errs, err.Error())
		return nil // go on, to report every error at once
	}, nil)
	compiler := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(resolvers),
		SourceInfoMode: protocompile.SourceInfoStandard,
		Reporter:       rep,
	}
	files, err := compiler.Compile(ctx, names...)
	if err != nil {
		if len(errs) == 0 {
			msg := err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				msg = fmt.Sprintf("%v (import paths: %s)", err, strings.Join(importPaths, ", "))
			}
			errs = append(errs, msg)
		}
		return nil, &CompileError{Errors: errs}
	}
	out := make([]protoreflect.FileDescriptor, len(files))
	for i, f := range files {
		out[i] = f
	}
	return out, nil
}

// embeddedAccessor opens ssot-ws's own protos from the binary, and
// protovalidate's buf/validate/validate.proto, for users who import them
// without a copy.
func embeddedAccessor(path string) (io.ReadCloser, error) {
	switch {
	case strings.HasPrefix(path, "ssot/ws/v1/"):
		return ssotproto.FS.Open(path)
	case path == protovalidateproto.Path:
		return protovalidateproto.FS.Open(path)
	}
	return nil, fs.ErrNotExist
}

// importName maps a file named on the command line to its import path, as
// protoc does: a file on disk under one of importPaths is named relative
// to the first such directory; any other name is taken as an import path.
func importName(importPaths []string, arg string) (string, error) {
	if _, err := os.Stat(arg); err != nil {
		return filepath.ToSlash(filepath.Clean(arg)), nil
	}
	if name, ok := underImportPath(importPaths, arg); ok {
		return name, nil
	}
	return "", fmt.Errorf("%s is not under any import path (%s); add -I with the directory its imports are relative to", arg, strings.Join(importPaths, ", "))
}

// underImportPath returns the import path of the file at p (which need
// not exist), if it is under one of importPaths.
func underImportPath(importPaths []string, p string) (string, bool) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", false
	}
	for _, dir := range importPaths {
		absDir, err := filepath.Abs(dir)
		if err != nil {
			continue
		}
		rel, err := filepath.Rel(absDir, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			continue
		}
		return filepath.ToSlash(rel), true
	}
	return "", false
}
