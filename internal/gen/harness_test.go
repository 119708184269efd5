package gen

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// ssotProtoDir holds ssot/ws/v1/options.proto, and googleapisDir the
// vendored google/api/resource.proto.
const (
	ssotProtoDir  = "../../proto"
	googleapisDir = "testdata/googleapis"
)

// compileRequest compiles the named files in-process, as protoc would,
// and returns the CodeGeneratorRequest a plugin would receive. sources
// maps file names to inline contents; files not in it are read from dir.
func compileRequest(t testing.TB, dir string, sources map[string]string, names []string, param string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	var resolvers protocompile.CompositeResolver
	if sources != nil {
		resolvers = append(resolvers, &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(sources)})
	}
	if dir != "" {
		resolvers = append(resolvers, &protocompile.SourceResolver{ImportPaths: []string{dir}})
	}
	resolvers = append(resolvers, &protocompile.SourceResolver{ImportPaths: []string{ssotProtoDir, googleapisDir}})
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

// run runs the plugin on req in-process, as the binary does.
func run(req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	resp := Response(req)
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
	req := caseRequest(t, dir, param)
	resp, err := run(req)
	if err != nil {
		t.Fatalf("generate %s: %v", name, err)
	}
	return resp
}

// caseRequest returns the CodeGeneratorRequest of testdata/<case> (dir):
// compiled in-process by protocompile, or by buf (from the repository's
// node_modules) for a case that uses edition 2024, which protocompile does
// not support yet.
func caseRequest(t *testing.T, dir, param string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	names := protoFiles(t, dir)
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(`edition = "2024"`)) {
			return bufRequest(t, dir, names, param)
		}
	}
	return compileRequest(t, dir, nil, names, param)
}

// bufRequest builds the files of dir, a module of testdata/buf.yaml, with
// buf build (source info included, as protoc and buf give plugins), and
// returns the request a plugin would receive to generate names.
func bufRequest(t *testing.T, dir string, names []string, param string) *pluginpb.CodeGeneratorRequest {
	t.Helper()
	bufBin := filepath.Join(repoRoot, "node_modules", ".bin", "buf")
	if _, err := os.Stat(bufBin); err != nil {
		t.Fatalf("buf is missing (%v): run npm ci at the repository root (the case %s uses edition 2024, which only buf compiles)", err, dir)
	}
	args := []string{"build", "testdata", "-o", "-#format=binpb"}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			args = append(args, "--path", filepath.ToSlash(filepath.Join(dir, e.Name())))
		}
	}
	cmd := exec.Command(bufBin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("buf %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var set descriptorpb.FileDescriptorSet
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(out, &set); err != nil {
		t.Fatal(err)
	}
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: names, ProtoFile: set.GetFile()}
	if param != "" {
		req.Parameter = proto.String(param)
	}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	decoded := new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(b, decoded); err != nil {
		t.Fatal(err)
	}
	return decoded
}
