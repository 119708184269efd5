package gen

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	tsruntime "github.com/ssot-codegen/ssot-ws/ts"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// The TypeScript output (lang=ts). For every file that declares models it
// writes <proto path>_ssotws.ts next to protoc-gen-es's <proto path>_pb.ts:
// the generated code is thin (typed constants bound to protoc-gen-es's
// descriptors), the logic lives in the runtime. By default (runtime=package)
// the code imports the npm package @ssot-ws/runtime, as protoc-gen-es's code
// imports @bufbuild/protobuf; with runtime=emit the plugin writes, once per
// run, a vendored copy of the runtime under ssotws/ and the code imports
// that.

const (
	tsRuntimeDir   = "ssotws/runtime"
	tsFrameFile    = "ssotws/gen/ssot/ws/v1/frame_pb.ts"
	tsFileSuffix   = "_ssotws.ts"
	tsConnectPkg   = "@connectrpc/connect"
	tsWKTPkg       = "@bufbuild/protobuf/wkt"
	tsRuntimeIndex = "index"
	// tsRuntimePkg is the entry point of @ssot-ws/runtime for generated code.
	tsRuntimePkg = "@ssot-ws/runtime/codegen"
	// tsHandshake is the constant of @ssot-ws/runtime/codegen that every
	// file generated for the package references: a runtime older than this
	// plugin lacks it, and tsc fails on the import. Bump it (and add it to
	// ts/runtime/src/codegen.ts) when generated code needs a newer runtime.
	tsHandshake = "isAtLeastVersion0_2_0"
)

// tsImportExtension maps import_extension to the extension relative
// imports get. protoc-gen-es v2 adds none by default.
func tsImportExtension(v string) string {
	switch v {
	case "js", ".js":
		return ".js"
	case "ts", ".ts":
		return ".ts"
	}
	return ""
}

// tsServed is the service binding a model's standard methods, for the
// TypeScript descriptor: the first service of the request that serves it.
type tsServed struct {
	service *Service
	methods [Delete + 1]*Method
}

// generateTS writes the TypeScript output (lang=ts) from the bound schema.
func generateTS(plugin *protogen.Plugin, schema *Schema, params *Params) error {
	served := make(map[*Model]*tsServed)
	for _, f := range schema.Files {
		for _, s := range f.Services {
			for _, bm := range s.Methods {
				if bm.Standard.isBatch() {
					continue // batch methods: the Connect client
				}
				b := served[bm.Model]
				if b == nil {
					b = &tsServed{service: s}
					served[bm.Model] = b
				}
				if b.service == s {
					b.methods[bm.Standard] = bm
				}
			}
		}
	}
	ext := tsImportExtension(params.ImportExtension)
	emit := params.TSRuntime == TSRuntimeEmit
	wrote := false
	es := make(esNameCache)
	for _, f := range schema.Files {
		if len(f.Models) == 0 {
			continue
		}
		w := newTSWriter(f.Proto, ext, emit, es)
		w.file(plugin, f, served)
		g := plugin.NewGeneratedFile(w.name, "")
		if _, err := g.Write(w.bytes()); err != nil {
			return err
		}
		wrote = true
	}
	if wrote && emit {
		return emitTSRuntime(plugin, ext)
	}
	return nil
}

// emitTSRuntime writes the embedded runtime (runtime=emit):
// ssotws/runtime/*.ts and the wire protocol's protobuf-es code. The
// runtime's relative imports are written with ".js"; for another import
// extension, each specifier of a file emitted here is replaced as a whole
// string (`from "./model.js"`), so nothing else in the sources can change.
func emitTSRuntime(plugin *protogen.Plugin, ext string) error {
	src := tsruntime.FS()
	entries, err := fs.ReadDir(src, tsruntime.RuntimeDir)
	if err != nil {
		return fmt.Errorf("protoc-gen-ssot-ws: the embedded TypeScript runtime: %w", err)
	}
	files := map[string]string{tsFrameFile: tsruntime.FrameFile}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".ts") {
			files[path.Join(tsRuntimeDir, e.Name())] = path.Join(tsruntime.RuntimeDir, e.Name())
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var specifiers []string
	for _, name := range names {
		// Every emitted file is imported relative to ssotws/runtime/.
		rel := "./" + path.Base(name)
		if name == tsFrameFile {
			rel = "../" + strings.TrimPrefix(name, "ssotws/")
		}
		rel = strings.TrimSuffix(rel, ".ts")
		specifiers = append(specifiers, `from "`+rel+`.js"`, `from "`+rel+ext+`"`)
	}
	rewrite := strings.NewReplacer(specifiers...)
	for _, name := range names {
		b, err := fs.ReadFile(src, files[name])
		if err != nil {
			return fmt.Errorf("protoc-gen-ssot-ws: the embedded TypeScript runtime: %w", err)
		}
		if ext != ".js" {
			b = []byte(rewrite.Replace(string(b)))
		}
		g := plugin.NewGeneratedFile(name, "")
		if _, err := g.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// tsWriter builds one <name>_ssotws.ts file.
type tsWriter struct {
	proto *protogen.File
	name  string
	ext   string
	// emit says the runtime is the copy under ssotws/ (runtime=emit), not
	// the package.
	emit  bool
	param string
	body  bytes.Buffer
	// imports maps a module specifier to its imported names; types are
	// imported with "import type".
	imports map[string]map[string]tsImport
	// taken holds every local name: declarations and imports.
	taken map[string]bool
	// local maps module + "\x00" + name to the local name of an import.
	local map[string]string
	// es holds protoc-gen-es's names, computed once per file of the request.
	es esNameCache
}

type tsImport struct {
	local    string
	typeOnly bool
}

func newTSWriter(f *protogen.File, ext string, emit bool, es esNameCache) *tsWriter {
	return &tsWriter{
		es:      es,
		proto:   f,
		name:    strings.TrimSuffix(f.Desc.Path(), ".proto") + tsFileSuffix,
		ext:     ext,
		emit:    emit,
		imports: make(map[string]map[string]tsImport),
		taken:   make(map[string]bool),
		local:   make(map[string]string),
	}
}

func (w *tsWriter) p(args ...any) {
	for _, a := range args {
		fmt.Fprint(&w.body, a)
	}
	w.body.WriteByte('\n')
}

// declare reserves the names the file declares, before any import.
func (w *tsWriter) declare(names ...string) {
	for _, n := range names {
		w.taken[n] = true
	}
}

// use imports name from module and returns its local name, aliased when
// the name is taken (as protoc-gen-es aliases with $1, $2…).
func (w *tsWriter) use(module, name string, typeOnly bool) string {
	key := module + "\x00" + name
	if l, ok := w.local[key]; ok {
		if !typeOnly {
			imp := w.imports[module][name]
			imp.typeOnly = false
			w.imports[module][name] = imp
		}
		return l
	}
	l := name
	for i := 1; w.taken[l]; i++ {
		l = name + "$" + strconv.Itoa(i)
	}
	w.taken[l] = true
	w.local[key] = l
	if w.imports[module] == nil {
		w.imports[module] = make(map[string]tsImport)
	}
	w.imports[module][name] = tsImport{local: l, typeOnly: typeOnly}
	return l
}

// runtime imports a name of the runtime: of @ssot-ws/runtime/codegen, or
// of the emitted copy's index (runtime=emit).
func (w *tsWriter) runtime(name string, typeOnly bool) string {
	if w.emit {
		return w.use(w.relative(path.Join(tsRuntimeDir, tsRuntimeIndex)), name, typeOnly)
	}
	return w.use(tsRuntimePkg, name, typeOnly)
}

// pb imports the protoc-gen-es symbol name of file f.
func (w *tsWriter) pb(f protoreflect.FileDescriptor, name string, typeOnly bool) string {
	if strings.HasPrefix(f.Path(), "google/protobuf/") {
		return w.use(tsWKTPkg, name, typeOnly)
	}
	return w.use(w.relative(strings.TrimSuffix(f.Path(), ".proto")+"_pb"), name, typeOnly)
}

// relative returns the specifier of the module at target (a path without
// extension, relative to the output root) from this file.
func (w *tsWriter) relative(target string) string {
	from := strings.Split(path.Dir(w.name), "/")
	if path.Dir(w.name) == "." {
		from = nil
	}
	to := strings.Split(target, "/")
	i := 0
	for i < len(from) && i < len(to)-1 && from[i] == to[i] {
		i++
	}
	rel := strings.Repeat("../", len(from)-i) + strings.Join(to[i:], "/")
	if !strings.HasPrefix(rel, "../") {
		rel = "./" + rel
	}
	return rel + w.ext
}

func (w *tsWriter) bytes() []byte {
	var b bytes.Buffer
	param := strings.TrimSpace(w.param)
	fmt.Fprintf(&b, "// @generated by protoc-gen-ssot-ws with parameter %q\n", param)
	fmt.Fprintf(&b, "// @generated from file %s (package %s, syntax %s)\n", w.proto.Desc.Path(), w.proto.Desc.Package(), syntaxName(w.proto))
	b.WriteString("/* eslint-disable */\n\n")
	modules := make([]string, 0, len(w.imports))
	for m := range w.imports {
		modules = append(modules, m)
	}
	// Packages first, then relative modules, each sorted.
	sort.Slice(modules, func(i, j int) bool {
		ri, rj := strings.HasPrefix(modules[i], "."), strings.HasPrefix(modules[j], ".")
		if ri != rj {
			return !ri
		}
		return modules[i] < modules[j]
	})
	for _, m := range modules {
		for _, typeOnly := range []bool{true, false} {
			var specs []string
			for name, imp := range w.imports[m] {
				if imp.typeOnly != typeOnly {
					continue
				}
				spec := name
				if imp.local != name {
					spec += " as " + imp.local
				}
				specs = append(specs, spec)
			}
			if len(specs) == 0 {
				continue
			}
			sort.Strings(specs)
			kw := "import"
			if typeOnly {
				kw = "import type"
			}
			fmt.Fprintf(&b, "%s { %s } from %q;\n", kw, strings.Join(specs, ", "), m)
		}
	}
	b.WriteByte('\n')
	b.Write(bytes.TrimRight(w.body.Bytes(), "\n"))
	b.WriteByte('\n')
	return b.Bytes()
}

func syntaxName(f *protogen.File) string {
	switch f.Desc.Syntax() {
	case protoreflect.Proto2:
		return "proto2"
	case protoreflect.Proto3:
		return "proto3"
	}
	return "editions"
}

// tsModelNames are the TypeScript identifiers generated for one model.
type tsModelNames struct {
	Model, Channels, Create string
}

func (w *tsWriter) modelNames(m *Model) tsModelNames {
	base := w.es.of(m.Message.Desc).shape
	return tsModelNames{
		Model:    base + "Model",
		Channels: base + "Channels",
		Create:   "create" + strings.TrimSuffix(base, "$") + "Client",
	}
}

func (w *tsWriter) file(plugin *protogen.Plugin, f *File, served map[*Model]*tsServed) {
	w.param = plugin.Request.GetParameter()
	for _, m := range f.Models {
		n := w.modelNames(m)
		w.declare(n.Model, n.Create)
		if m.Realtime {
			w.declare(n.Channels)
		}
		w.declare(w.presenceNames(m))
	}
	if !w.emit {
		// The version handshake (an emitted copy comes from this plugin, so
		// it needs none).
		w.p("// The version handshake: an @ssot-ws/runtime older than this code lacks")
		w.p("// ", tsHandshake, ", and tsc fails on its import.")
		w.p("void ", w.runtime(tsHandshake, false), ";")
		w.p()
	}
	for _, m := range f.Models {
		if b := served[m]; b != nil {
			w.model(m, b)
		} else {
			w.p("// ", m.FullName(), " has no service with its standard methods in this request:")
			w.p("// there is no ", w.modelNames(m).Model, " to build a client from.")
			w.p()
		}
		if m.Realtime {
			w.channels(m)
			w.presence(m)
		}
	}
}

// jsdoc writes a JSDoc comment of lines (each without the leading " * ").
func (w *tsWriter) jsdoc(indent string, lines []string) {
	if len(lines) == 1 && len(indent)+len(lines[0]) <= 74 {
		w.p(indent, "/** ", lines[0], " */")
		return
	}
	w.p(indent, "/**")
	for _, l := range lines {
		if l == "" {
			w.p(indent, " *")
		} else {
			w.p(indent, " * ", l)
		}
	}
	w.p(indent, " */")
}

// wrap breaks text into lines of at most width bytes, between words.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// commentLines returns a proto comment as JSDoc lines, or none.
func commentLines(c protogen.Comments) []string {
	text := strings.TrimRight(string(c), "\n ")
	if strings.TrimSpace(text) == "" {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimRight(strings.TrimPrefix(l, " "), " ")
		lines = append(lines, strings.ReplaceAll(l, "*/", "*\\/"))
	}
	return lines
}

// tsKey returns the key kind of a key field and its TypeScript type.
func tsKey(f *protogen.Field) (kind, typ string) {
	switch t := tsScalarType(f); t {
	case "bigint":
		return "bigint", t
	case "number":
		return "number", t
	}
	return "string", "string"
}

// tsScalarType is the TypeScript type protobuf-es gives a singular scalar
// field; enums are handled by the caller.
func tsScalarType(f *protogen.Field) string {
	switch f.Desc.Kind() {
	case protoreflect.StringKind:
		return "string"
	case protoreflect.BoolKind:
		return "boolean"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if jsString(f) {
			return "string"
		}
		return "bigint"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.EnumKind:
		return "number"
	}
	return "string"
}

// jsString reports a 64-bit field with [jstype = JS_STRING], which
// protobuf-es types as string.
func jsString(f *protogen.Field) bool {
	opts, ok := f.Desc.Options().(*descriptorpb.FieldOptions)
	return ok && opts.GetJstype() == descriptorpb.FieldOptions_JS_STRING
}

// fieldType is the TypeScript type of a scope field, importing its enum.
func (w *tsWriter) fieldType(f *protogen.Field) string {
	if f.Desc.Kind() == protoreflect.EnumKind {
		e := f.Enum.Desc
		return w.pb(e.ParentFile(), w.es.of(e).shape, true)
	}
	return tsScalarType(f)
}

func (w *tsWriter) model(m *Model, b *tsServed) {
	n := w.modelNames(m)
	names := w.es.of(m.Message.Desc)
	shape := w.pb(m.Message.Desc.ParentFile(), names.shape, true)
	schema := w.pb(m.Message.Desc.ParentFile(), names.desc, false)
	svc := b.service.Proto.Desc
	service := w.pb(svc.ParentFile(), w.es.of(svc).desc, false)
	keyKind, keyType := tsKey(m.Key)

	doc := wrap(n.Model+" describes the "+m.FullName()+" model to the ssot-ws runtime. "+
		strings.ReplaceAll(realtimeSentence(m), "\n// ", " "), 78)
	if lines := commentLines(m.Message.Comments.Leading); lines != nil {
		doc = append(append(doc, ""), lines...)
	}
	if isDeprecated(m.Message.Desc) {
		doc = append(doc, "", "@deprecated")
	}
	w.jsdoc("", doc)
	w.p("export const ", n.Model, " = ", w.runtime("defineModel", false), "<", shape, ", ", keyType, ">({")
	w.p(`  name: `, strconv.Quote(m.Name()), `,`)
	w.p(`  schema: `, schema, `,`)
	w.p(`  service: `, service, `,`)
	w.p(`  key: `, strconv.Quote(string(m.Key.Desc.Name())), `,`)
	w.p(`  keyKind: `, strconv.Quote(keyKind), `,`)
	if m.Version != nil {
		w.p(`  version: `, strconv.Quote(string(m.Version.Desc.Name())), `,`)
	}
	scopes := make([]string, len(m.Scopes))
	for i, s := range m.Scopes {
		scopes[i] = strconv.Quote(string(s.Field.Desc.Name()))
	}
	w.p(`  scopes: [`, strings.Join(scopes, ", "), `],`)
	if len(m.Patterns) > 0 {
		w.p(`  patterns: [`, quoteAll(m.Patterns), `],`)
	}
	w.p(`  methods: {`)
	for std := Get; std <= Delete; std++ {
		bm := b.methods[std]
		if bm == nil {
			continue
		}
		props := []string{"method: " + strconv.Quote(tsMethodName(bm.Proto))}
		field := func(prop string, f *protogen.Field) {
			if f != nil {
				props = append(props, prop+": "+strconv.Quote(string(f.Desc.Name())))
			}
		}
		switch std {
		case Get, Delete:
			field("keyField", bm.KeyField)
		case List:
			field("itemsField", bm.ResponseField)
			field("nextPageTokenField", bm.NextPageToken)
			field("pageSizeField", bm.PageSize)
			field("pageTokenField", bm.PageToken)
		case Create, Update:
			field("modelField", bm.ModelField)
			field("maskField", bm.MaskField)
		}
		if std != Delete && std != List && bm.Response == ResponseWrapper {
			field("response", bm.ResponseField)
		}
		verb := strings.ToLower(std.String())
		if one := "    " + verb + ": { " + strings.Join(props, ", ") + " },"; len(one) <= 100 {
			w.p(one)
			continue
		}
		w.p("    ", verb, ": {")
		for _, p := range props {
			w.p("      ", p, ",")
		}
		w.p("    },")
	}
	w.p(`  },`)
	w.p(`  realtime: `, m.Realtime, `,`)
	w.p(`});`)
	w.p()

	// One signature whether the model is realtime or not, so that user code
	// compiles unchanged when the model turns live or back.
	if m.Realtime {
		w.jsdoc("", wrap(n.Create+" returns the hybrid DataClient of "+m.FullName()+": it reads "+
			"from the cache of what options.connection subscribes when it can and "+
			"over options.transport otherwise, and mutates over options.transport.", 78))
	} else {
		w.jsdoc("", wrap(n.Create+" returns the hybrid DataClient of "+m.FullName()+": "+m.Name()+
			" is HTTP only, so every call goes over options.transport and options.connection "+
			"is not used until "+m.Name()+" turns realtime; the signature stays the same then.", 78))
	}
	w.p("export function ", n.Create, "(options: ", w.runtime("HybridOptions", true), "): ",
		w.runtime("HybridClient", true), "<", shape, ", ", keyType, "> {")
	w.p("  return ", w.runtime("createHybridClient", false), "(", n.Model, ", options);")
	w.p("}")
	w.p()
}

func (w *tsWriter) channels(m *Model) {
	n := w.modelNames(m)
	name := m.Name()
	quoted := strconv.Quote(name)
	key := tsParam(string(m.Key.Desc.Name()))
	_, keyType := tsKey(m.Key)
	example := n.Channels + ".all(), " + n.Channels + ".item(" + key + ")"
	for _, s := range m.Scopes {
		example += ", " + n.Channels + "." + tsScopeMethod(s) + "(" + tsParam(string(s.Field.Desc.Name())) + ")"
	}
	if m.HasParent() {
		example += ", " + n.Channels + ".parent(parent)"
	}
	w.jsdoc("", wrap(n.Channels+" builds the names of "+name+"'s channels, for subscribing "+
		"through the gateway: "+example+".", 78))
	w.p("export const ", n.Channels, " = {")
	w.jsdoc("  ", wrap("all names the channel that carries every "+name+": "+quoted+".", 76))
	w.p("  all(): string {")
	w.p("    return ", w.runtime("modelChannel", false), "(", quoted, ");")
	w.p("  },")
	w.jsdoc("  ", wrap("item names the channel of the "+name+" whose "+string(m.Key.Desc.Name())+" is "+key+": \""+name+"/<"+key+">\".", 76))
	w.p("  item(", key, ": ", keyType, "): string {")
	w.p("    return ", w.runtime("itemChannel", false), "(", quoted, ", ", key, ");")
	w.p("  },")
	for _, s := range m.Scopes {
		field := string(s.Field.Desc.Name())
		param := tsParam(field)
		w.jsdoc("  ", wrap(tsScopeMethod(s)+" names the channel of the "+plural(name)+" whose "+field+" is "+param+": "+
			"\""+name+"?"+field+"=<"+param+">\".", 76))
		w.p("  ", tsScopeMethod(s), "(", param, ": ", w.fieldType(s.Field), "): string {")
		w.p("    return ", w.runtime("scopeChannel", false), "(", quoted, ", ", strconv.Quote(field), ", ", param, ");")
		w.p("  },")
	}
	if m.HasParent() {
		w.jsdoc("  ", wrap("parent names the channel of the "+plural(name)+" whose parent is the resource named parent, its collection: \""+name+"?parent=<parent>\".", 76))
		w.p("  parent(parent: string): string {")
		w.p("    return ", w.runtime("scopeChannel", false), "(", quoted, ", ", strconv.Quote(parentScope), ", parent);")
		w.p("  },")
	}
	w.p("} as const;")
	w.p()
}

// tsMethodName is protobuf-es's local name of a method: its name with a
// lower-case first letter.
func tsMethodName(m *protogen.Method) string {
	name := string(m.Desc.Name())
	return safeObjectProperty(strings.ToLower(name[:1]) + name[1:])
}

// tsScopeMethod names a scope's channel helper: the Go name with a
// lower-case first letter ("room_id" → "room").
func tsScopeMethod(s *Scope) string {
	return safeObjectProperty(strings.ToLower(s.Method[:1]) + s.Method[1:])
}

// tsParam turns a field name into a safe TypeScript parameter name, as
// protobuf-es turns field names into local names ("room_id" → "roomId").
func tsParam(field string) string {
	return safeIdentifier(protoCamelCase(field))
}

// protoCamelCase is protobuf-es's protoCamelCase: the JSON name of a field.
func protoCamelCase(s string) string {
	var b strings.Builder
	capNext := false
	for _, c := range s {
		switch {
		case c == '_':
			capNext = true
		case c >= '0' && c <= '9':
			b.WriteRune(c)
			capNext = false
		default:
			if capNext && c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			capNext = false
			b.WriteRune(c)
		}
	}
	return b.String()
}

var reservedObjectProperties = map[string]bool{"constructor": true, "toString": true, "toJSON": true, "valueOf": true}

func safeObjectProperty(s string) string {
	if reservedObjectProperties[s] {
		return s + "$"
	}
	return s
}

// reservedIdentifiers are protoplugin's names that get a "$" suffix.
var reservedIdentifiers = func() map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(`break case catch class const continue debugger default delete do else
		export extends false finally for function if import in instanceof new null return super switch
		this throw true try typeof var void while with yield enum implements interface let package
		private protected public static Object bigint number boolean string object globalThis
		Uint8Array Partial`) {
		m[w] = true
	}
	return m
}()

func safeIdentifier(s string) string {
	if reservedIdentifiers[s] {
		return s + "$"
	}
	return s
}
