// Package scaffold is protoc-gen-ssot-ws's scaffold command: it compiles
// a user's protos in-process, finds every message declared an ssot-ws
// model with the (ssot.ws.v1.model) option, and writes the service that
// hosts the model's AIP standard methods (AIP-131 to AIP-135) with their
// request and response messages, shaped as the plugin binds them. The user
// commits the result and edits it from then on; buf lint and buf breaking
// guard it like any other API.
package scaffold

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ssot-codegen/ssot-ws/internal/gen"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Style says how the scaffolded methods answer.
type Style int

const (
	// StyleStandard follows buf lint's STANDARD rules: every method has
	// its own <Method>Request and <Method>Response, and a response wraps
	// the model in one field; Delete answers an empty Delete<M>Response.
	StyleStandard Style = iota
	// StyleAIP follows AIP-131..135 literally: Get, Create and Update
	// answer the bare model and Delete answers google.protobuf.Empty.
	// buf lint STANDARD then needs RPC_REQUEST_RESPONSE_UNIQUE and
	// RPC_RESPONSE_STANDARD_NAME excepted.
	StyleAIP
)

// ParseStyle parses "standard" or "aip".
func ParseStyle(s string) (Style, error) {
	switch s {
	case "standard", "":
		return StyleStandard, nil
	case "aip":
		return StyleAIP, nil
	}
	return 0, fmt.Errorf("unknown style %q: want standard or aip", s)
}

func (s Style) String() string {
	if s == StyleAIP {
		return "aip"
	}
	return "standard"
}

// Options configures [Scaffold].
type Options struct {
	// ImportPaths are the directories imports are resolved in, as protoc's
	// -I. Empty means the current directory.
	ImportPaths []string
	// Files are the import paths of the files to read ("chat/v1/chat.proto").
	Files []string
	// Service, if set, names the one service that hosts every model's
	// methods; otherwise each model gets its own <Model>Service.
	Service string
	// Style selects the shape of requests and responses.
	Style Style
	// OutputName is the import path the complete file will have
	// ("chat/v1/chat_service.proto"). It is only used to check the output
	// in-process; empty picks <dir of the first model file>/<its
	// name>_service.proto.
	OutputName string
}

// Result is what [Scaffold] produced.
type Result struct {
	// File is a complete .proto file: syntax, package, imports, the file
	// options of the models' file that buf lint wants the same across a
	// package, then the declarations.
	File string
	// Fragment is the declarations alone, preceded by a comment naming the
	// imports they need beyond those of the models' file, to paste into it.
	Fragment string
	// Package is the proto package of the models and of the output.
	Package string
	// Models are the full names of the models scaffolded, in order.
	Models []string
	// Services are the full names of the services scaffolded, in order.
	Services []string
	// Notes are things the user should know, one line each, such as the
	// models skipped because a service of the input already serves them.
	Notes []string
}

// Scaffold compiles opts.Files and returns the standard methods of every
// model they declare. The output is deterministic. Before returning it,
// Scaffold compiles the output together with the input and binds it as
// the plugin would, so what it returns is known to bind.
//
// A file that does not compile gives a [*CompileError]; a malformed model
// declaration the plugin's binding errors; no model a plain error.
func Scaffold(ctx context.Context, opts Options) (res *Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("internal error: %v", r)
		}
	}()
	if len(opts.Files) == 0 {
		return nil, errors.New("no input files")
	}
	if len(opts.ImportPaths) == 0 {
		opts.ImportPaths = []string{"."}
	}
	if opts.Service != "" && !isIdent(opts.Service) {
		return nil, fmt.Errorf("-service %q is not a proto identifier: use a PascalCase name such as ChatService", opts.Service)
	}
	files, err := compile(ctx, opts.ImportPaths, nil, opts.Files)
	if err != nil {
		return nil, err
	}
	schema, err := gen.BindFiles(files, opts.Files, nil)
	if err != nil {
		return nil, &positionError{err}
	}

	res = &Result{}
	var models []*gen.Model
	for _, f := range schema.Files {
		served := make(map[*gen.Model]string)
		for _, s := range f.Services {
			for _, m := range s.Models {
				served[m] = string(s.Proto.Desc.Name())
			}
		}
		for _, m := range f.Models {
			if s, ok := served[m]; ok {
				res.Notes = append(res.Notes, fmt.Sprintf("%s: skipped: service %s already serves it", m.FullName(), s))
				continue
			}
			models = append(models, m)
		}
	}
	if len(models) == 0 {
		if len(res.Notes) > 0 {
			return nil, fmt.Errorf("nothing to scaffold: every model of %s already has a service\n%s", strings.Join(opts.Files, ", "), strings.Join(res.Notes, "\n"))
		}
		return nil, fmt.Errorf("no model found in %s: declare one with option (ssot.ws.v1.model) = {} on a message (import \"ssot/ws/v1/options.proto\")", strings.Join(opts.Files, ", "))
	}
	pkg := models[0].Message.Desc.ParentFile().Package()
	for _, m := range models[1:] {
		if p := m.Message.Desc.ParentFile().Package(); p != pkg {
			return nil, fmt.Errorf("models %s and %s are in different packages (%s, %s): scaffold one package at a time", models[0].FullName(), m.FullName(), pkg, p)
		}
	}

	// The models' descriptors come from binding, which gives a file
	// without go_package a placeholder: read the file itself from the
	// compiler's output.
	first := compiled(files, models[0].Message.Desc.ParentFile().Path())
	s := newScaffolder(string(pkg), opts.Style)
	s.proto2 = first.Syntax() == protoreflect.Proto2
	s.editions = first.Syntax() == protoreflect.Editions
	if opts.Service != "" {
		svc := &service{name: opts.Service}
		var names []string
		for _, m := range models {
			names = append(names, strings.TrimPrefix(m.FullName(), string(pkg)+"."))
		}
		svc.doc = fmt.Sprintf("%s serves the standard methods (AIP-131 to AIP-135) of %s.", opts.Service, joinAnd(names))
		s.services = append(s.services, svc)
		for _, m := range models {
			s.model(svc, m)
		}
	} else {
		for _, m := range models {
			svc := &service{name: m.Name() + "Service"}
			svc.doc = fmt.Sprintf("%s serves the standard methods (AIP-131 to AIP-135) of %s.", svc.name, m.Name())
			s.services = append(s.services, svc)
			s.model(svc, m)
		}
	}
	if err := s.checkNames(files); err != nil {
		return nil, &positionError{err}
	}

	outName := opts.OutputName
	if outName == "" {
		outName = strings.TrimSuffix(first.Path(), ".proto") + "_service.proto"
	}
	res.Package = string(pkg)
	for _, m := range models {
		res.Models = append(res.Models, m.FullName())
	}
	for _, svc := range s.services {
		res.Services = append(res.Services, string(pkg)+"."+svc.name)
	}
	res.File = s.file(first, outName)
	res.Fragment = s.fragment(first)

	if err := verify(ctx, opts, outName, res); err != nil {
		return nil, fmt.Errorf("internal error: the scaffolded file does not bind: %w\n--- %s ---\n%s", err, outName, res.File)
	}
	return res, nil
}

// compiled returns the file named path among files or their imports.
func compiled(files []protoreflect.FileDescriptor, path string) protoreflect.FileDescriptor {
	for _, f := range files {
		if f.Path() == path {
			return f
		}
		for i := 0; i < f.Imports().Len(); i++ {
			if fd := compiled([]protoreflect.FileDescriptor{f.Imports().Get(i).FileDescriptor}, path); fd != nil {
				return fd
			}
		}
	}
	return nil
}

// verify compiles the complete output with the input and checks that the
// plugin binds the five standard methods of every model to it.
func verify(ctx context.Context, opts Options, outName string, res *Result) error {
	names := append([]string{outName}, opts.Files...)
	files, err := compile(ctx, opts.ImportPaths, map[string]string{outName: res.File}, names)
	if err != nil {
		return err
	}
	schema, err := gen.BindFiles(files, names, nil)
	if err != nil {
		return err
	}
	return CheckBound(schema, outName, res.Models)
}

// CheckBound checks that in schema the services of file outName bind the
// five standard methods of each of models (full names).
func CheckBound(schema *gen.Schema, outName string, models []string) error {
	bound := make(map[string]map[gen.Standard]bool)
	for _, f := range schema.Files {
		if f.Proto.Desc.Path() != outName {
			continue
		}
		for _, s := range f.Services {
			for _, m := range s.Methods {
				if bound[m.Model.FullName()] == nil {
					bound[m.Model.FullName()] = make(map[gen.Standard]bool)
				}
				bound[m.Model.FullName()][m.Standard] = true
			}
		}
	}
	var missing []string
	for _, m := range models {
		for _, std := range []gen.Standard{gen.Get, gen.List, gen.Create, gen.Update, gen.Delete} {
			if !bound[m][std] {
				missing = append(missing, fmt.Sprintf("%s of %s", std, m))
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: not bound: %s", outName, strings.Join(missing, ", "))
	}
	return nil
}

// positionError holds problems reported one per line, each starting with
// the file, line and column of the declaration at fault, as protoc does.
type positionError struct{ err error }

func (e *positionError) Error() string { return e.err.Error() }
func (e *positionError) Unwrap() error { return e.err }

// service is one scaffolded service.
type service struct {
	name, doc string
	rpcs      []rpc
}

type rpc struct {
	name, req, resp, doc string
}

// message is one scaffolded message.
type message struct {
	name, doc string
	fields    []field
}

type field struct {
	label, typ, name string
	num              int
	doc              string
}

// scaffolder builds the declarations of one package's output.
type scaffolder struct {
	pkg      string
	style    Style
	services []*service
	messages []*message
	// imports are the files the declarations refer to; modelFiles those
	// that declare the models.
	imports, modelFiles map[string]bool
	// syntax of the models' file decides field labels.
	proto2, editions bool
}

func newScaffolder(pkg string, style Style) *scaffolder {
	return &scaffolder{
		pkg: pkg, style: style,
		imports:    map[string]bool{"google/protobuf/field_mask.proto": true},
		modelFiles: make(map[string]bool),
	}
}

// ref returns the name by which the output refers to d, and records the
// import it needs.
func (s *scaffolder) ref(d protoreflect.Descriptor) string {
	s.imports[d.ParentFile().Path()] = true
	full := string(d.FullName())
	if rel, ok := strings.CutPrefix(full, s.pkg+"."); ok && s.pkg != "" {
		return rel
	}
	return full
}

// scalar returns the type of a field holding the same value as f.
func (s *scaffolder) scalar(f protoreflect.FieldDescriptor) string {
	if f.Kind() == protoreflect.EnumKind {
		return s.ref(f.Enum())
	}
	return f.Kind().String()
}

// label is the label of a singular field; explicit asks for presence.
func (s *scaffolder) label(explicit bool) string {
	switch {
	case s.proto2:
		return "optional"
	case s.editions:
		return ""
	case explicit:
		return "optional"
	}
	return ""
}

func (s *scaffolder) add(m *message) string {
	s.messages = append(s.messages, m)
	return m.name
}

// model adds the five standard methods of m to svc, and their messages.
func (s *scaffolder) model(svc *service, m *gen.Model) {
	s.modelFiles[m.Message.Desc.ParentFile().Path()] = true
	name := m.Name()
	plural := gen.Plural(name)
	typ := s.ref(m.Message.Desc)
	fname := gen.FieldName(name)
	key := m.Key.Desc
	keyName := string(key.Name())
	keyType := s.scalar(key)
	wrap := func(method, doc string) string {
		if s.style == StyleAIP {
			return typ
		}
		return s.add(response(method, field{label: s.label(false), typ: typ, name: fname, num: 1, doc: doc}))
	}
	keyField := func(doc string) field {
		return field{label: s.label(false), typ: keyType, name: keyName, num: 1, doc: doc}
	}

	// Get (AIP-131).
	get := "Get" + name
	svc.rpcs = append(svc.rpcs, rpc{
		name: get,
		req:  s.add(request(get, keyField(fmt.Sprintf("%s is the key of the %s to return.", keyName, name)))),
		resp: wrap(get, fmt.Sprintf("%s is the %s asked for.", fname, name)),
		doc:  fmt.Sprintf("%s returns the %s with the given %s (AIP-131).", get, name, keyName),
	})

	// List (AIP-132).
	list := "List" + plural
	req := request(list,
		field{label: s.label(false), typ: "int32", name: "page_size", num: 1,
			doc: fmt.Sprintf("page_size is the most %s to return in one page; zero lets the server choose.", plural)},
		field{label: s.label(false), typ: "string", name: "page_token", num: 2,
			doc: fmt.Sprintf("page_token is the next_page_token of the previous %s response, to get the next page; empty gets the first page.", list)},
	)
	var filters []string
	addFilter := func(f protoreflect.FieldDescriptor) {
		n := string(f.Name())
		if slices.Contains(filters, n) || n == "page_size" || n == "page_token" {
			return
		}
		filters = append(filters, n)
		// A string filter is off when empty; any other filters on its zero
		// value too, so it has presence: unset means no filter.
		explicit := f.Kind() != protoreflect.StringKind
		when := "not empty"
		if explicit {
			when = "set"
		}
		req.fields = append(req.fields, field{
			label: s.label(explicit), typ: s.scalar(f), name: n, num: len(req.fields) + 1,
			doc: fmt.Sprintf("%s, when %s, lists only the %s whose %s is equal to it.", n, when, plural, n),
		})
	}
	for _, sc := range m.Scopes {
		addFilter(sc.Field.Desc)
	}
	if m.Owner != nil {
		addFilter(m.Owner.Desc)
	}
	listDoc := fmt.Sprintf("%s returns a page of %s", list, plural)
	if len(filters) > 0 {
		listDoc += ", filtered by " + joinAnd(filters)
	}
	svc.rpcs = append(svc.rpcs, rpc{
		name: list,
		req:  s.add(req),
		resp: s.add(response(list,
			field{label: "repeated", typ: typ, name: gen.FieldName(plural), num: 1,
				doc: fmt.Sprintf("%s is one page of %s.", gen.FieldName(plural), plural)},
			field{label: s.label(false), typ: "string", name: "next_page_token", num: 2,
				doc: "next_page_token is the page_token of the next page; empty on the last page."},
		)),
		doc: listDoc + " (AIP-132).",
	})

	// Create (AIP-133).
	create := "Create" + name
	creq := request(create, field{label: s.label(false), typ: typ, name: fname, num: 1,
		doc: fmt.Sprintf("%s is the %s to create.", fname, name)})
	if key.Kind() == protoreflect.StringKind {
		creq.fields = append(creq.fields, field{label: s.label(false), typ: "string", name: fname + "_id", num: 2,
			doc: fmt.Sprintf("%s_id, when not empty, is the %s of the new %s; when it and %s.%s are both empty, the server picks one.", fname, keyName, name, fname, keyName)})
	}
	svc.rpcs = append(svc.rpcs, rpc{
		name: create,
		req:  s.add(creq),
		resp: wrap(create, fmt.Sprintf("%s is the %s created.", fname, name)),
		doc:  fmt.Sprintf("%s creates a %s and returns it (AIP-133).", create, name),
	})

	// Update (AIP-134).
	update := "Update" + name
	svc.rpcs = append(svc.rpcs, rpc{
		name: update,
		req: s.add(request(update,
			field{label: s.label(false), typ: typ, name: fname, num: 1,
				doc: fmt.Sprintf("%s holds the new values; its %s names the %s to update.", fname, keyName, name)},
			field{label: s.label(false), typ: "google.protobuf.FieldMask", name: "update_mask", num: 2,
				doc: fmt.Sprintf("update_mask names the fields of %s to update.", fname)},
		)),
		resp: wrap(update, fmt.Sprintf("%s is the %s updated.", fname, name)),
		doc:  fmt.Sprintf("%s updates the fields of a %s that update_mask names and returns it (AIP-134).", update, name),
	})

	// Delete (AIP-135).
	del := "Delete" + name
	dreq := request(del, keyField(fmt.Sprintf("%s is the key of the %s to delete.", keyName, name)))
	delDoc := fmt.Sprintf("%s deletes a %s (AIP-135).", del, name)
	if m.Version != nil {
		dreq.fields = append(dreq.fields, field{label: s.label(false), typ: s.scalar(m.Version.Desc), name: "version", num: 2,
			doc: fmt.Sprintf("version, when not zero, makes the delete conditional: it fails with ABORTED unless the %s is still at this version.", name)})
		delDoc = fmt.Sprintf("%s deletes a %s, if it is still at the given version (AIP-135).", del, name)
	}
	var dresp string
	if s.style == StyleAIP {
		dresp = "google.protobuf.Empty"
		s.imports["google/protobuf/empty.proto"] = true
	} else {
		dresp = s.add(&message{name: del + "Response", doc: fmt.Sprintf("%sResponse is the response of %s; it is empty.", del, del)})
	}
	svc.rpcs = append(svc.rpcs, rpc{name: del, req: s.add(dreq), resp: dresp, doc: delDoc})
}

// request is the request message of method, with fields.
func request(method string, fields ...field) *message {
	return &message{name: method + "Request", doc: fmt.Sprintf("%sRequest is the request of %s.", method, method), fields: fields}
}

// response is the response message of method, with fields.
func response(method string, fields ...field) *message {
	return &message{name: method + "Response", doc: fmt.Sprintf("%sResponse is the response of %s.", method, method), fields: fields}
}

// checkNames reports the scaffolded names that the package already
// declares, or that the scaffold would declare twice.
func (s *scaffolder) checkNames(files []protoreflect.FileDescriptor) error {
	existing := make(map[string]protoreflect.Descriptor)
	seen := make(map[string]bool)
	var walk func(fd protoreflect.FileDescriptor)
	walk = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		for i := 0; i < fd.Imports().Len(); i++ {
			walk(fd.Imports().Get(i).FileDescriptor)
		}
		if string(fd.Package()) != s.pkg {
			return
		}
		for i := 0; i < fd.Messages().Len(); i++ {
			existing[string(fd.Messages().Get(i).Name())] = fd.Messages().Get(i)
		}
		for i := 0; i < fd.Enums().Len(); i++ {
			e := fd.Enums().Get(i)
			existing[string(e.Name())] = e
			for j := 0; j < e.Values().Len(); j++ {
				existing[string(e.Values().Get(j).Name())] = e.Values().Get(j)
			}
		}
		for i := 0; i < fd.Services().Len(); i++ {
			existing[string(fd.Services().Get(i).Name())] = fd.Services().Get(i)
		}
		for i := 0; i < fd.Extensions().Len(); i++ {
			existing[string(fd.Extensions().Get(i).Name())] = fd.Extensions().Get(i)
		}
	}
	for _, f := range files {
		walk(f)
	}
	var probs []string
	declared := make(map[string]bool)
	check := func(name, what string) {
		if declared[name] {
			probs = append(probs, fmt.Sprintf("scaffold would declare %s %s twice: two models give the same name; use -service, or rename a model", what, name))
			return
		}
		declared[name] = true
		if d := existing[name]; d != nil {
			probs = append(probs, fmt.Sprintf("%s: %s already exists; scaffold would declare %s %s again: rename or remove it, or leave this model out", where(d), d.FullName(), what, name))
		}
	}
	for _, svc := range s.services {
		check(svc.name, "service")
	}
	for _, m := range s.messages {
		check(m.name, "message")
	}
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "\n"))
	}
	return nil
}

// where locates d as protoc does: file:line:col.
func where(d protoreflect.Descriptor) string {
	f := d.ParentFile()
	loc := f.SourceLocations().ByDescriptor(d)
	if loc.StartLine == 0 && loc.StartColumn == 0 && loc.EndLine == 0 {
		return f.Path()
	}
	return fmt.Sprintf("%s:%d:%d", f.Path(), loc.StartLine+1, loc.StartColumn+1)
}

// packageOptions are the file options buf lint (PACKAGE_SAME_*) wants
// equal in every file of a package; the complete file copies them.
var packageOptions = []string{
	"csharp_namespace", "go_package", "java_multiple_files", "java_package",
	"objc_class_prefix", "php_namespace", "ruby_package", "swift_prefix",
}

// file renders the complete file named outName, next to first.
func (s *scaffolder) file(first protoreflect.FileDescriptor, outName string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	var srcs []string
	for name := range s.modelFiles {
		srcs = append(srcs, name)
	}
	slices.Sort(srcs)
	writeComment(&b, "", fmt.Sprintf("The standard methods of the %s models declared in %s, scaffolded by protoc-gen-ssot-ws scaffold. This file is yours: edit it, and let buf lint and buf breaking guard it.", s.pkg, strings.Join(srcs, ", ")))
	p("")
	fdp := protodesc.ToFileDescriptorProto(first)
	switch first.Syntax() {
	case protoreflect.Editions:
		p("edition = %q;", strings.TrimPrefix(fdp.GetEdition().String(), "EDITION_"))
	case protoreflect.Proto2:
		p(`syntax = "proto2";`)
	default:
		p(`syntax = "proto3";`)
	}
	if s.pkg != "" {
		p("")
		p("package %s;", s.pkg)
	}
	p("")
	for _, name := range s.importList(outName) {
		p("import %q;", name)
	}
	opts := first.Options().ProtoReflect()
	var lines []string
	for _, name := range packageOptions {
		fd := opts.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil || !opts.Has(fd) {
			continue
		}
		v := opts.Get(fd)
		if fd.Kind() == protoreflect.BoolKind {
			lines = append(lines, fmt.Sprintf("option %s = %t;", name, v.Bool()))
		} else {
			lines = append(lines, fmt.Sprintf("option %s = %s;", name, quote(v.String())))
		}
	}
	if len(lines) > 0 {
		p("")
		for _, l := range lines {
			p("%s", l)
		}
	}
	s.decls(&b)
	return b.String()
}

// importList is the sorted imports of the output, less itself.
func (s *scaffolder) importList(outName string) []string {
	var names []string
	for name := range s.imports {
		if name != outName {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// fragment renders the declarations alone, to paste into first.
func (s *scaffolder) fragment(first protoreflect.FileDescriptor) string {
	var b strings.Builder
	have := map[string]bool{first.Path(): true}
	for i := 0; i < first.Imports().Len(); i++ {
		have[first.Imports().Get(i).Path()] = true
	}
	var need []string
	for _, name := range s.importList("") {
		if !have[name] {
			need = append(need, name)
		}
	}
	intro := fmt.Sprintf("The standard methods of the %s models, scaffolded by protoc-gen-ssot-ws scaffold, to paste into %s", s.pkg, first.Path())
	if len(need) == 0 {
		writeComment(&b, "", intro+".")
	} else {
		writeComment(&b, "", intro+", which then needs:")
		b.WriteString("//\n")
		for _, n := range need {
			fmt.Fprintf(&b, "//   import %q;\n", n)
		}
	}
	s.decls(&b)
	return b.String()
}

// decls writes each service, each followed by its messages.
func (s *scaffolder) decls(b *strings.Builder) {
	msgs := make(map[string]*message)
	for _, m := range s.messages {
		msgs[m.name] = m
	}
	for _, svc := range s.services {
		b.WriteString("\n")
		writeComment(b, "", svc.doc)
		fmt.Fprintf(b, "service %s {\n", svc.name)
		for i, r := range svc.rpcs {
			if i > 0 && i%5 == 0 {
				b.WriteString("\n") // between models
			}
			writeComment(b, "  ", r.doc)
			fmt.Fprintf(b, "  rpc %s(%s) returns (%s);\n", r.name, r.req, r.resp)
		}
		b.WriteString("}\n")
		for _, r := range svc.rpcs {
			for _, name := range []string{r.req, r.resp} {
				m := msgs[name]
				if m == nil {
					continue // the model or google.protobuf.Empty
				}
				delete(msgs, name)
				b.WriteString("\n")
				writeComment(b, "", m.doc)
				if len(m.fields) == 0 {
					fmt.Fprintf(b, "message %s {}\n", m.name)
					continue
				}
				fmt.Fprintf(b, "message %s {\n", m.name)
				for _, f := range m.fields {
					writeComment(b, "  ", f.doc)
					decl := f.typ
					if f.label != "" {
						decl = f.label + " " + decl
					}
					fmt.Fprintf(b, "  %s %s = %d;\n", decl, f.name, f.num)
				}
				b.WriteString("}\n")
			}
		}
	}
}

// writeComment writes text as // lines wrapped at 80 columns.
func writeComment(b *strings.Builder, indent, text string) {
	width := 80 - len(indent) - 3
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			fmt.Fprintf(b, "%s// %s\n", indent, line)
			line = ""
		}
		if line == "" {
			line = w
		} else {
			line += " " + w
		}
	}
	if line != "" {
		fmt.Fprintf(b, "%s// %s\n", indent, line)
	}
}

// quote writes s as a proto string literal.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// joinAnd joins names as English: "a", "a and b", "a, b and c".
func joinAnd(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func isIdent(s string) bool {
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}
