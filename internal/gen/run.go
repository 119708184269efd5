package gen

import (
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// Run is the plugin: it reads a CodeGeneratorRequest from in, generates,
// and writes the CodeGeneratorResponse to out, as protogen.Options.Run
// does. An error is returned only when the request cannot be read or the
// response written; problems with the input are reported in the response,
// as protoc expects.
func Run(in io.Reader, out io.Writer) error {
	b, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	req := new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(b, req); err != nil {
		return fmt.Errorf("reading the CodeGeneratorRequest: %w", err)
	}
	b, err = proto.Marshal(Response(req))
	if err != nil {
		return err
	}
	_, err = out.Write(b)
	return err
}

// Response runs the plugin on req in-process and returns its response.
func Response(req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorResponse {
	plugin, params, err := NewPlugin(req)
	if err != nil {
		return &pluginpb.CodeGeneratorResponse{Error: proto.String(err.Error())}
	}
	if err := Generate(plugin, params); err != nil {
		plugin.Error(err)
	}
	return plugin.Response()
}

// NewPlugin reads the parameters of req and prepares the protogen plugin
// that [Generate] runs on.
//
// protogen serves Go generators: it requires every file of the request,
// imports included, to have a Go import path (a go_package option or an M
// parameter), refuses some valid Go package names, MessageSets, and module=
// output outside the module. None of that concerns lang=ts, which must
// accept what protoc-gen-es accepts, so that lang=ts and lang=go can share
// one buf template. For lang=ts the request is first given what protogen
// needs: each file a placeholder Go package of its own, MessageSets read as
// ordinary extendable messages (binding never looks at wire formats), and
// no module= or M parameters.
func NewPlugin(req *pluginpb.CodeGeneratorRequest) (*protogen.Plugin, *Params, error) {
	params := NewParams()
	original := req.Parameter
	if paramLang(req.GetParameter()) == LangTS {
		req = tsRequest(req)
	}
	plugin, err := protogen.Options{ParamFunc: params.Set, ImportRewriteFunc: params.rewriteImport}.New(req)
	if err != nil {
		return nil, nil, err
	}
	plugin.Request.Parameter = original // as the user wrote it, for the output's header
	return plugin, params, nil
}

// paramLang returns the lang= value of a parameter string ("" if none);
// as protogen, the last value wins.
func paramLang(param string) Lang {
	var lang Lang
	for _, p := range strings.Split(param, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "lang="); ok {
			lang = Lang(v)
		}
	}
	return lang
}

// tsGoPackage is the placeholder Go package of a file under lang=ts; .invalid
// is a reserved top-level domain, so it never names a real package.
const tsGoPackage = "ssotws-ts.invalid/p%d;p%d"

// maxFieldNumber is protobuf's largest field number outside a MessageSet.
const maxFieldNumber = 1<<29 - 1

// tsRequest returns a copy of req that protogen accepts whatever Go
// options its files lack or carry (see [NewPlugin]).
func tsRequest(req *pluginpb.CodeGeneratorRequest) *pluginpb.CodeGeneratorRequest {
	req = proto.Clone(req).(*pluginpb.CodeGeneratorRequest)
	var kept []string
	for _, p := range strings.Split(req.GetParameter(), ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(p), "=")
		if name == "module" || strings.HasPrefix(name, "M") {
			continue
		}
		kept = append(kept, p)
	}
	req.Parameter = proto.String(strings.Join(kept, ","))
	for i, f := range req.ProtoFile {
		if f.Options == nil {
			f.Options = new(descriptorpb.FileOptions)
		}
		f.Options.GoPackage = proto.String(fmt.Sprintf(tsGoPackage, i, i))
		f.Extension = withoutMessageSetExtensions(f.Extension)
		for _, m := range f.MessageType {
			plainMessageSet(m)
		}
	}
	return req
}

// plainMessageSet turns the MessageSets among m and its nested messages
// into ordinary extendable messages, and drops the extensions declared in
// them whose numbers only a MessageSet allows.
func plainMessageSet(m *descriptorpb.DescriptorProto) {
	if m.GetOptions().GetMessageSetWireFormat() {
		m.Options.MessageSetWireFormat = nil
		for _, r := range m.ExtensionRange {
			if r.GetEnd() > maxFieldNumber+1 {
				r.End = proto.Int32(maxFieldNumber + 1)
			}
		}
	}
	m.Extension = withoutMessageSetExtensions(m.Extension)
	for _, n := range m.NestedType {
		plainMessageSet(n)
	}
}

func withoutMessageSetExtensions(exts []*descriptorpb.FieldDescriptorProto) []*descriptorpb.FieldDescriptorProto {
	kept := exts[:0]
	for _, x := range exts {
		if x.GetNumber() <= maxFieldNumber {
			kept = append(kept, x)
		}
	}
	return kept
}

// rewriteImport is the protogen import rewrite: under connect=v2 the Go
// output imports connectrpc.com/connect/v2 where it names connectPackage,
// as "connect" (protogen would otherwise name the package after its last
// path element, v2). It runs when files are written, after the parameters
// are read.
func (p *Params) rewriteImport(path protogen.GoImportPath) protogen.GoImportPath {
	if path == connectPackage && p.Connect == ConnectV2 {
		return connectV2Package
	}
	return path
}
