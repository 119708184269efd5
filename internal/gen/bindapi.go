package gen

import (
	"fmt"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// BindFiles binds files already compiled in-process (by protocompile, say)
// as [Bind] binds a CodeGeneratorRequest: generate lists the paths of the
// files whose models and services are bound; their imports are read but
// not bound. params may be nil for the defaults. A file without a
// go_package option is given a placeholder one, since binding does not
// depend on it. It serves tools that are not a protoc plugin, such as
// protoc-gen-ssot-ws scaffold.
func BindFiles(files []protoreflect.FileDescriptor, generate []string, params *Params) (*Schema, error) {
	if params == nil {
		params = NewParams()
	}
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: generate}
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
		fdp := protodesc.ToFileDescriptorProto(fd)
		if fdp.GetOptions().GetGoPackage() == "" {
			if fdp.Options == nil {
				fdp.Options = new(descriptorpb.FileOptions)
			}
			pkg := fmt.Sprintf("p%d", len(req.ProtoFile))
			fdp.Options.GoPackage = proto.String("bindfiles.invalid/" + pkg + ";" + pkg)
		}
		req.ProtoFile = append(req.ProtoFile, fdp)
	}
	for _, f := range files {
		add(f)
	}
	for _, name := range generate {
		if !seen[name] {
			return nil, fmt.Errorf("%s: file to bind is not among the compiled files", name)
		}
	}
	// Marshal and unmarshal once, so that options are decoded with the
	// extension types compiled into this binary, as in a plugin run.
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	decoded := new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(b, decoded); err != nil {
		return nil, err
	}
	plugin, err := protogen.Options{}.New(decoded)
	if err != nil {
		return nil, err
	}
	return Bind(plugin, params)
}

// FieldName is the field name binding expects for a message named after
// a model ("ChatMessage" → "chat_message"), as AIP names request fields
// after the resource; a Create request's key field is FieldName(model) +
// "_id".
func FieldName(model string) string { return snake(model) }

// Plural is the English plural binding expects in a List method's name
// ("Shelf" → "Shelves", "Category" → "Categories").
func Plural(name string) string { return plural(name) }
