package gen

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/pluginpb"
)

// ssotProtoDir holds ssot/ws/v1/options.proto.
const ssotProtoDir = "../../proto"

// compileRequest compiles the named files in-process, as protoc would,
// and returns the CodeGeneratorRequest a plugin would receive. sources
// maps file names to inline contents; files not in it are read from dir.
func compileRequest(t *testing.T, dir string, sources map[string]string, names []string, param string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	var resolvers protocompile.CompositeResolver
	if sources != nil {
		resolvers = append(resolvers, &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(sources)})
	}
	if dir != "" {
		resolvers = append(resolvers, &protocompile.SourceResolver{ImportPaths: []string{dir}})
	}
	resolvers = append(resolvers, &protocompile.SourceResolver{ImportPaths: []string{ssotProtoDir}})
	compiler := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(resolvers),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := compiler.Compile(context.Background(), names...)
	if err != nil {
		t.Fatalf("compile %v: %v", names, err)
	}
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: names}
	if param != "" {
		req.Parameter = proto.String(param)
	}
	seen := make(map[string]bool)
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			add(fd.Imports().Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range files {
		add(f)
	}
	// Marshal and unmarshal once, so that options are decoded with the
	// extension types compiled into this binary, as in a real plugin run.
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	out := new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// run runs the plugin on req in-process, as protogen.Options.Run would.
func run(req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	params := NewParams()
	plugin, err := protogen.Options{ParamFunc: params.Set}.New(req)
	if err != nil {
		return nil, err
	}
	if err := Generate(plugin, params); err != nil {
		return nil, err
	}
	resp := plugin.Response()
	if resp.Error != nil {
		return nil, &responseError{resp.GetError()}
	}
	return resp, nil
}

type responseError struct{ msg string }

func (e *responseError) Error() string { return e.msg }

// protoFiles lists the .proto files under dir, relative to it, sorted.
func protoFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".proto") {
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// generateCase runs the plugin on testdata/<name> with the case's
// parameters (testdata/<name>/params.txt, if any).
func generateCase(t *testing.T, name string) *pluginpb.CodeGeneratorResponse {
	t.Helper()
	dir := filepath.Join("testdata", name)
	param := "module=github.com/ssot-codegen/ssot-ws"
	if b, err := os.ReadFile(filepath.Join(dir, "params.txt")); err == nil {
		param += "," + strings.TrimSpace(string(b))
	}
	req := compileRequest(t, dir, nil, protoFiles(t, dir), param)
	resp, err := run(req)
	if err != nil {
		t.Fatalf("generate %s: %v", name, err)
	}
	return resp
}
