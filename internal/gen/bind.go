package gen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

const (
	fieldMaskName = "google.protobuf.FieldMask"
	emptyName     = "google.protobuf.Empty"
)

// Bind finds the models of the files to generate, validates their
// declarations and binds the standard methods of their services. It
// reports every malformed declaration at once, sorted, in protoc's
// "file:line:col: element: message" format.
func Bind(plugin *protogen.Plugin, params *Params) (*Schema, error) {
	b := &binder{
		realtime: params.Realtime,
		messages: make(map[protoreflect.FullName]*protogen.Message),
		files:    make(map[*protogen.Message]*protogen.File),
		models:   make(map[*protogen.Message]*Model),
		byName:   make(map[string][]*protogen.Message),
	}
	for _, f := range plugin.Files {
		walkMessages(f.Messages, func(m *protogen.Message) {
			b.messages[m.Desc.FullName()] = m
			b.files[m] = f
			if modelOptions(m) != nil {
				b.byName[string(m.Desc.Name())] = append(b.byName[string(m.Desc.Name())], m)
			}
		})
	}
	schema := &Schema{Realtime: params.Realtime}
	for _, f := range plugin.Files {
		if !f.Generate {
			continue
		}
		file := &File{Proto: f}
		walkMessages(f.Messages, func(msg *protogen.Message) {
			if m := b.model(msg); m != nil {
				file.Models = append(file.Models, m)
			}
		})
		for _, s := range f.Services {
			if svc := b.service(s); svc != nil {
				file.Services = append(file.Services, svc)
			}
		}
		schema.Files = append(schema.Files, file)
	}
	// Group the files by Go package, and check each package's names once.
	byPkg := make(map[protogen.GoImportPath][]*File)
	var pkgs []protogen.GoImportPath
	for _, f := range schema.Files {
		pkg := subPackage(f.Proto, params.PackageSuffix)
		if byPkg[pkg] == nil {
			pkgs = append(pkgs, pkg)
		}
		byPkg[pkg] = append(byPkg[pkg], f)
	}
	for _, pkg := range pkgs {
		files := byPkg[pkg]
		slices.SortStableFunc(files, func(a, b *File) int { return strings.Compare(a.Proto.Desc.Path(), b.Proto.Desc.Path()) })
		for _, f := range files {
			f.Package = files
		}
		if params.Lang != LangTS { // a Go name clash is no concern of lang=ts
			b.checkNames(files)
		}
	}
	if err := b.probs.err(); err != nil {
		return nil, err
	}
	return schema, nil
}

type binder struct {
	realtime RealtimeMode
	messages map[protoreflect.FullName]*protogen.Message
	files    map[*protogen.Message]*protogen.File
	// models caches bound models; a nil entry is a message that is not one.
	models map[*protogen.Message]*Model
	// byName indexes messages with the model option by short name.
	byName map[string][]*protogen.Message
	probs  problems
}

func walkMessages(msgs []*protogen.Message, fn func(*protogen.Message)) {
	for _, m := range msgs {
		if m.Desc.IsMapEntry() {
			continue
		}
		fn(m)
		walkMessages(m.Messages, fn)
	}
}

func modelOptions(m *protogen.Message) *wsv1.ModelOptions {
	opts, ok := m.Desc.Options().(*descriptorpb.MessageOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, wsv1.E_Model) {
		return nil
	}
	mo, _ := proto.GetExtension(opts, wsv1.E_Model).(*wsv1.ModelOptions)
	if mo == nil {
		return &wsv1.ModelOptions{}
	}
	return mo
}

func serviceOptions(s *protogen.Service) *wsv1.ServiceOptions {
	opts, ok := s.Desc.Options().(*descriptorpb.ServiceOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, wsv1.E_Service) {
		return nil
	}
	so, _ := proto.GetExtension(opts, wsv1.E_Service).(*wsv1.ServiceOptions)
	return so
}

func methodOptions(m *protogen.Method) *wsv1.MethodOptions {
	opts, ok := m.Desc.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, wsv1.E_Method) {
		return nil
	}
	mo, _ := proto.GetExtension(opts, wsv1.E_Method).(*wsv1.MethodOptions)
	return mo
}

// model returns the model declared by msg, validating it the first time,
// or nil when msg has no model option. A model with problems is still
// returned, so that its methods are checked too.
func (b *binder) model(msg *protogen.Message) *Model {
	if m, ok := b.models[msg]; ok {
		return m
	}
	opts := modelOptions(msg)
	if opts == nil {
		b.models[msg] = nil
		return nil
	}
	m := &Model{Message: msg, File: b.files[msg], Read: opts.GetRead(), Write: opts.GetWrite()}
	b.models[msg] = m
	d := msg.Desc

	keyName := opts.GetKey()
	if keyName == "" {
		keyName = "id"
	}
	m.Key = fieldByName(msg, keyName)
	switch {
	case m.Key == nil:
		b.probs.addf(d, "key field %q does not exist; set key to a string or integer field of %s", keyName, d.Name())
	case !isKeyField(m.Key):
		b.probs.addf(d, "key field %q is %s; a key must be a singular string or integer field", keyName, describeType(m.Key))
		m.Key = nil
	}

	seen := make(map[string]string)
	for _, s := range opts.GetScopes() {
		f := fieldByName(msg, s)
		switch {
		case f == nil:
			b.probs.addf(d, "scope %q names no field of %s", s, d.Name())
			continue
		case !isScalarField(f):
			b.probs.addf(d, "scope %q is %s; a scope must be a singular string, integer, bool or enum field", s, describeType(f))
			continue
		}
		sc := &Scope{Field: f, Method: scopeMethod(s), Param: paramName(s)}
		switch prev, dup := seen[sc.Method]; {
		case prev == s:
			b.probs.addf(d, "scope %q is listed twice", s)
			continue
		case dup:
			b.probs.addf(d, "channel constructor name clash: scopes %q and %q both give %sChannels.%s", prev, s, msg.GoIdent.GoName, sc.Method)
			continue
		case sc.Method == "All" || sc.Method == "Item":
			b.probs.addf(d, "channel constructor name clash: scope %q gives %sChannels.%s, which names the model's own channel; rename the field", s, msg.GoIdent.GoName, sc.Method)
			continue
		}
		seen[sc.Method] = s
		m.Scopes = append(m.Scopes, sc)
	}

	if o := opts.GetOwner(); o != "" {
		m.Owner = fieldByName(msg, o)
		switch {
		case m.Owner == nil:
			b.probs.addf(d, "owner %q names no field of %s", o, d.Name())
		case m.Owner.Desc.Kind() != protoreflect.StringKind || m.Owner.Desc.IsList() || m.Owner.Desc.IsMap():
			b.probs.addf(d, "owner field %q is %s; the owner must be a singular string field", o, describeType(m.Owner))
			m.Owner = nil
		}
	} else {
		for _, a := range []struct {
			what   string
			access wsv1.Access
		}{{"read", m.Read}, {"write", m.Write}} {
			if a.access == wsv1.Access_OWNER {
				b.probs.addf(d, "%s: OWNER needs an owner field; set owner to the string field holding the owner's identity", a.what)
			}
		}
	}
	if v := fieldByName(msg, "version"); v != nil && !v.Desc.IsList() {
		switch v.Desc.Kind() {
		case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
			protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			m.Version = v
		}
	}

	switch {
	case b.realtime == RealtimeOff:
		m.RealtimeReason = ReasonParamOff
	case opts.Realtime != nil && !opts.GetRealtime():
		m.RealtimeReason = ReasonOptionOff
	case opts.GetRealtime():
		m.Realtime, m.RealtimeReason = true, ReasonOption
	case b.realtime == RealtimeOn:
		m.Realtime, m.RealtimeReason = true, ReasonParamOn
	case liveSuffix(string(d.Name())) != "":
		m.Realtime, m.RealtimeReason, m.LiveSuffix = true, ReasonName, liveSuffix(string(d.Name()))
	default:
		m.RealtimeReason = ReasonNameNotLive
	}
	return m
}

// resolve finds a message by a fully-qualified or package-relative name.
func (b *binder) resolve(pkg protoreflect.FullName, name string) *protogen.Message {
	name = strings.TrimPrefix(name, ".")
	if pkg != "" {
		if m := b.messages[pkg+"."+protoreflect.FullName(name)]; m != nil {
			return m
		}
	}
	return b.messages[protoreflect.FullName(name)]
}

// resolveModel resolves a model name written in an option on d; it
// reports a problem and returns nil when the name is not a model.
func (b *binder) resolveModel(d protoreflect.Descriptor, what, name string) *Model {
	msg := b.resolve(d.ParentFile().Package(), name)
	if msg == nil {
		b.probs.addf(d, "%s names unknown model %q", what, name)
		return nil
	}
	m := b.model(msg)
	if m == nil {
		b.probs.addf(d, "%s names %s, which is not a model: it has no (ssot.ws.v1.model) option", what, msg.Desc.FullName())
	}
	return m
}

type claim struct {
	model    *Model
	standard Standard
}

// service binds the standard methods of s; nil when it has none.
func (b *binder) service(s *protogen.Service) *Service {
	svc := &Service{Proto: s}
	listed := make(map[*Model]bool)
	var candidates []*Model
	if so := serviceOptions(s); so != nil {
		for _, name := range so.GetModels() {
			m := b.resolveModel(s.Desc, "service option", name)
			if m == nil {
				continue
			}
			if listed[m] {
				b.probs.addf(s.Desc, "service option names model %s twice", m.FullName())
				continue
			}
			listed[m] = true
			svc.Models = append(svc.Models, m)
		}
		candidates = svc.Models
		if len(so.GetModels()) > 0 && len(candidates) == 0 {
			return nil // already reported
		}
	}
	claimed := make(map[claim]*protogen.Method)
	for _, meth := range s.Methods {
		bm := b.method(meth, candidates)
		if bm == nil || bm.Model == nil {
			continue
		}
		c := claim{bm.Model, bm.Standard}
		if prev := claimed[c]; prev != nil {
			b.probs.addf(meth.Desc, "%s already implements %s for model %s; a service implements each standard method of a model once",
				prev.Desc.Name(), bm.Standard, bm.Model.FullName())
			continue
		}
		claimed[c] = meth
		if !listed[bm.Model] {
			listed[bm.Model] = true
			svc.Models = append(svc.Models, bm.Model)
		}
		svc.Methods = append(svc.Methods, bm)
	}
	if len(svc.Methods) == 0 {
		return nil
	}
	return svc
}

// splitStandard splits a method name into its standard verb and the rest.
func splitStandard(name string) (Standard, string) {
	for _, s := range []Standard{Get, List, Create, Update, Delete} {
		if rest, ok := strings.CutPrefix(name, s.String()); ok && rest != "" {
			return s, rest
		}
	}
	return 0, ""
}

// method binds meth, explicitly by its method option or by its name among
// candidates (every model of the request when nil). It returns nil for a
// method that is not standard.
func (b *binder) method(meth *protogen.Method, candidates []*Model) *Method {
	d := meth.Desc
	std, rest := splitStandard(string(d.Name()))
	var model *Model
	explicit := false
	if mo := methodOptions(meth); mo != nil && (mo.GetModel() != "" || mo.GetStandard() != wsv1.StandardMethod_STANDARD_METHOD_UNSPECIFIED) {
		explicit = true
		if s := mo.GetStandard(); s != wsv1.StandardMethod_STANDARD_METHOD_UNSPECIFIED {
			std = Standard(s)
			if _, ok := standardNames[std]; !ok {
				b.probs.addf(d, "method option sets unknown standard method %d", s)
				return nil
			}
		}
		if std == 0 {
			b.probs.addf(d, "method option does not say which standard method %s is, and its name does not start with Get, List, Create, Update or Delete; set standard", d.Name())
			return nil
		}
		if mo.GetModel() != "" {
			model = b.resolveModel(d, "method option", mo.GetModel())
			if model == nil {
				return nil
			}
		} else if model = b.byMethodName(meth, std, rest, candidates); model == nil {
			b.probs.addf(d, "method option does not name the model, and the method name does not; set model")
			return nil
		}
	} else {
		if std == 0 {
			return nil
		}
		if model = b.byMethodName(meth, std, rest, candidates); model == nil {
			return nil
		}
	}
	if d.IsStreamingClient() || d.IsStreamingServer() {
		b.probs.addf(d, "%s is a streaming method; standard method %s of %s must be unary", d.Name(), std, model.FullName())
		return nil
	}
	return b.shape(meth, model, std, explicit)
}

// byMethodName finds the model a method name refers to: Get<M>, List<Ms>…
func (b *binder) byMethodName(meth *protogen.Method, std Standard, rest string, candidates []*Model) *Model {
	pkg := meth.Desc.ParentFile().Package()
	matches := func(m *protogen.Message) bool {
		name := string(m.Desc.Name())
		if std == List {
			return plural(name) == rest
		}
		return name == rest
	}
	var found []*protogen.Message
	if candidates != nil {
		for _, m := range candidates {
			if matches(m.Message) {
				found = append(found, m.Message)
			}
		}
	} else {
		for _, msgs := range b.byName {
			for _, m := range msgs {
				if matches(m) {
					found = append(found, m)
				}
			}
		}
	}
	if len(found) == 0 && std == List {
		// An irregular plural: bind by the response's repeated model field.
		for _, f := range meth.Output.Fields {
			if f.Message == nil || !f.Desc.IsList() || f.Desc.IsMap() {
				continue
			}
			if m := b.model(f.Message); m != nil && (candidates == nil || containsModel(candidates, m)) {
				found = append(found, f.Message)
			}
		}
	}
	var pick *protogen.Message
	for _, m := range found {
		if m.Desc.ParentFile().Package() == pkg {
			pick = m
			break
		}
	}
	if pick == nil && len(found) == 1 {
		pick = found[0]
	}
	if pick == nil {
		return nil
	}
	return b.model(pick)
}

func containsModel(ms []*Model, m *Model) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// shape checks the request and response of a standard method and records
// how they map onto the runtime.
func (b *binder) shape(meth *protogen.Method, m *Model, std Standard, explicit bool) *Method {
	d := meth.Desc
	bm := &Method{Proto: meth, Model: m, Standard: std, Explicit: explicit}
	in, out := meth.Input, meth.Output
	ok := true
	bad := func(format string, args ...any) {
		b.probs.addf(d, format, args...)
		ok = false
	}
	switch std {
	case Get, Delete:
		bm.KeyField = b.keyField(meth, m, bad)
		if std == Delete {
			if v := fieldByName(in, "version"); v != nil {
				if !isIntegerField(v) {
					bad("delete request field %q is %s; version must be an integer field", "version", describeType(v))
				} else {
					bm.VersionField = v
				}
			}
		}
		bm.Response = b.response(meth, m, std == Delete, bad)
		if bm.Response == ResponseWrapper {
			bm.ResponseField = wrapperField(out, m)
		}
	case List:
		for _, f := range out.Fields {
			if f.Message == m.Message && f.Desc.IsList() && !f.Desc.IsMap() {
				bm.ResponseField = f
				break
			}
		}
		if bm.ResponseField == nil {
			bad("list response %s has no repeated %s field", out.Desc.FullName(), m.FullName())
		}
		bm.Response = ResponseList
		if t := fieldByName(out, "next_page_token"); t == nil || t.Desc.Kind() != protoreflect.StringKind || t.Desc.IsList() {
			bad("list response %s needs a string field next_page_token (AIP-158)", out.Desc.FullName())
		} else {
			bm.NextPageToken = t
		}
		for _, f := range in.Fields {
			switch string(f.Desc.Name()) {
			case "page_size":
				if f.Desc.Kind() != protoreflect.Int32Kind || f.Desc.IsList() {
					bad("list request field %q is %s; page_size must be an int32 field", "page_size", describeType(f))
				} else {
					bm.PageSize = f
				}
				continue
			case "page_token":
				if f.Desc.Kind() != protoreflect.StringKind || f.Desc.IsList() {
					bad("list request field %q is %s; page_token must be a string field", "page_token", describeType(f))
				} else {
					bm.PageToken = f
				}
				continue
			}
			mf := fieldByName(m.Message, string(f.Desc.Name()))
			if mf == nil {
				continue // not a filter: left to the user
			}
			if !isScalarField(mf) || !isScalarField(f) || !sameType(f, mf) {
				bad("list request field %q is %s and %s.%s is %s; a filter must have the type of a singular string, integer, bool or enum model field",
					f.Desc.Name(), describeType(f), m.Name(), mf.Desc.Name(), describeType(mf))
				continue
			}
			bm.Filters = append(bm.Filters, &Filter{Request: f, Model: mf, Optional: hasPointer(f)})
		}
	case Create, Update:
		bm.ModelField = modelField(in, m)
		if bm.ModelField == nil {
			bad("%s request %s has no %s field; it must carry the model (AIP-13%d)",
				strings.ToLower(std.String()), in.Desc.FullName(), m.FullName(), map[Standard]int{Create: 3, Update: 4}[std])
		}
		if std == Create {
			idName := snake(m.Name()) + "_id"
			if f := fieldByName(in, idName); f != nil {
				if m.Key != nil && !keyCompatible(f, m.Key) {
					bad("create request field %q is %s but the key of %s is %s", idName, describeType(f), m.Name(), describeType(m.Key))
				} else {
					bm.IDField = f
				}
			}
		} else {
			f := fieldByName(in, "update_mask")
			switch {
			case f == nil:
				bad("update request %s has no update_mask field; add google.protobuf.FieldMask update_mask (AIP-134)", in.Desc.FullName())
			case f.Message == nil || f.Message.Desc.FullName() != fieldMaskName || f.Desc.IsList():
				bad("update request field %q is %s; it must be a google.protobuf.FieldMask", "update_mask", describeType(f))
			default:
				bm.MaskField = f
			}
		}
		bm.Response = b.response(meth, m, false, bad)
		if bm.Response == ResponseWrapper {
			bm.ResponseField = wrapperField(out, m)
		}
	}
	for _, f := range []*protogen.Field{bm.KeyField, bm.VersionField, bm.ModelField, bm.IDField, bm.MaskField,
		bm.PageSize, bm.PageToken, bm.NextPageToken, bm.ResponseField} {
		if f != nil && inRealOneof(f) {
			bad("field %q of %s is in oneof %q; a field the standard %s reads or writes cannot be a oneof member",
				f.Desc.Name(), f.Parent.Desc.FullName(), f.Oneof.Desc.Name(), std)
		}
	}
	for _, fl := range bm.Filters {
		if inRealOneof(fl.Request) {
			bad("list request field %q is in oneof %q; a filter cannot be a oneof member", fl.Request.Desc.Name(), fl.Request.Oneof.Desc.Name())
		}
	}
	if !ok {
		return nil
	}
	return bm
}

// keyField finds the field of a Get or Delete request that holds the key:
// the model's key name, "id" or "name".
func (b *binder) keyField(meth *protogen.Method, m *Model, bad func(string, ...any)) *protogen.Field {
	if m.Key == nil {
		return nil // the model's problem is reported already
	}
	in := meth.Input
	for _, name := range []string{string(m.Key.Desc.Name()), "id", "name"} {
		f := fieldByName(in, name)
		if f == nil {
			continue
		}
		if !keyCompatible(f, m.Key) {
			bad("request field %q is %s but the key of %s is %s", name, describeType(f), m.Name(), describeType(m.Key))
			return nil
		}
		return f
	}
	bad("%s request %s has no key field; add %s %s = 1 (the key of %s)",
		strings.ToLower(splitVerb(meth)), in.Desc.FullName(), scalarName(m.Key), m.Key.Desc.Name(), m.Name())
	return nil
}

func splitVerb(meth *protogen.Method) string {
	if s, _ := splitStandard(string(meth.Desc.Name())); s != 0 {
		return s.String()
	}
	return string(meth.Desc.Name())
}

// response classifies the response of a Get, Create, Update or Delete.
func (b *binder) response(meth *protogen.Method, m *Model, allowEmpty bool, bad func(string, ...any)) ResponseShape {
	out := meth.Output
	switch {
	case out == m.Message:
		return ResponseModel
	case allowEmpty && (out.Desc.FullName() == emptyName || len(out.Fields) == 0):
		return ResponseEmpty
	case wrapperField(out, m) != nil:
		return ResponseWrapper
	}
	if allowEmpty {
		bad("response %s is neither %s, a message wrapping it in one field, nor empty", out.Desc.FullName(), m.FullName())
	} else {
		bad("response %s is neither %s nor a message wrapping it in one field", out.Desc.FullName(), m.FullName())
	}
	return 0
}

// wrapperField returns the field of a <Method>Response that wraps the model.
func wrapperField(out *protogen.Message, m *Model) *protogen.Field {
	return modelField(out, m)
}

// modelField finds the singular field of msg holding model m: the one named
// after the model if there is one, else the only one.
func modelField(msg *protogen.Message, m *Model) *protogen.Field {
	var found []*protogen.Field
	for _, f := range msg.Fields {
		if f.Message == m.Message && !f.Desc.IsList() && !f.Desc.IsMap() {
			if string(f.Desc.Name()) == snake(m.Name()) {
				return f
			}
			found = append(found, f)
		}
	}
	if len(found) == 1 {
		return found[0]
	}
	return nil
}

// checkNames reports Go identifiers of a Go package's output that would
// clash: the files of one proto package (or of several, sharing a
// go_package) share one generated Go package.
func (b *binder) checkNames(files []*File) {
	// names maps each generated top-level name to what it was generated for.
	names := make(map[string]string)
	add := func(name string, d protoreflect.Descriptor, what string) {
		if prev, ok := names[name]; ok {
			b.probs.addf(d, "generated name clash: %s %s would clash with %s; rename one of them", what, name, prev)
			return
		}
		names[name] = what + " of " + string(d.FullName())
	}
	if files[0].PackageRealtime() != nil {
		var paths []string
		for _, f := range files {
			if f.HasRealtime() {
				paths = append(paths, f.Proto.Desc.Path())
			}
		}
		names[registerChannelsName] = "the channel registration of " + strings.Join(paths, ", ")
	}
	for _, file := range files {
		for _, m := range file.Models {
			mn := newModelNames(m)
			add(mn.Var, m.Message.Desc, "model variable")
			if m.Realtime {
				add(mn.Channels, m.Message.Desc, "channel constructor")
				add(mn.ChannelsType, m.Message.Desc, "channel constructor type")
			}
		}
	}
	for _, file := range files {
		for _, s := range file.Services {
			add(s.Proto.GoName, s.Proto.Desc, "service implementation")
			add("New"+s.Proto.GoName, s.Proto.Desc, "service constructor")
			add("New"+s.Proto.GoName+"Handler", s.Proto.Desc, "handler constructor")
			fields := make(map[string]*Model)
			for _, m := range s.Models {
				mn := newModelNames(m)
				cn := newClientNames(m, s, file.SharedModel(m))
				add(cn.HTTP, s.Proto.Desc, "client adapter")
				add(cn.NewClient, s.Proto.Desc, "client constructor")
				f := mn.Field
				if prev := fields[f]; prev != nil {
					b.probs.addf(s.Proto.Desc, "generated name clash: models %s and %s would both be served by field %s.%s", prev.FullName(), m.FullName(), s.Proto.GoName, f)
					continue
				}
				fields[f] = m
			}
			for _, meth := range s.Proto.Methods {
				if m := fields[meth.GoName]; m != nil {
					b.probs.addf(meth.Desc, "generated name clash: method %s would clash with field %s.%s serving %s", meth.GoName, s.Proto.GoName, meth.GoName, m.FullName())
				}
			}
		}
	}
}

func fieldByName(msg *protogen.Message, name string) *protogen.Field {
	for _, f := range msg.Fields {
		if string(f.Desc.Name()) == name {
			return f
		}
	}
	return nil
}

func isIntegerKind(k protoreflect.Kind) bool {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

func isIntegerField(f *protogen.Field) bool {
	return !f.Desc.IsList() && !f.Desc.IsMap() && isIntegerKind(f.Desc.Kind())
}

func isKeyField(f *protogen.Field) bool {
	return !f.Desc.IsList() && !f.Desc.IsMap() &&
		(f.Desc.Kind() == protoreflect.StringKind || isIntegerKind(f.Desc.Kind()))
}

// isScalarField reports whether f can be filtered on and scope a channel.
func isScalarField(f *protogen.Field) bool {
	if f.Desc.IsList() || f.Desc.IsMap() {
		return false
	}
	switch f.Desc.Kind() {
	case protoreflect.StringKind, protoreflect.BoolKind, protoreflect.EnumKind:
		return true
	}
	return isIntegerKind(f.Desc.Kind())
}

// keyCompatible reports whether a request field can carry key k.
func keyCompatible(f, k *protogen.Field) bool {
	if f.Desc.IsList() || f.Desc.IsMap() {
		return false
	}
	if k.Desc.Kind() == protoreflect.StringKind {
		return f.Desc.Kind() == protoreflect.StringKind
	}
	return isIntegerKind(f.Desc.Kind())
}

func sameType(a, b *protogen.Field) bool {
	if a.Desc.Kind() != b.Desc.Kind() {
		return false
	}
	if a.Desc.Kind() == protoreflect.EnumKind {
		return a.Enum.Desc.FullName() == b.Enum.Desc.FullName()
	}
	return true
}

// hasPointer reports whether protoc-gen-go gives scalar field f a pointer
// type: proto3 optional, proto2 optional, editions explicit presence.
func hasPointer(f *protogen.Field) bool {
	return f.Desc.HasPresence() && f.Desc.Message() == nil && f.Desc.Kind() != protoreflect.BytesKind && !inRealOneof(f)
}

func scalarName(f *protogen.Field) string {
	switch f.Desc.Kind() {
	case protoreflect.EnumKind:
		return string(f.Enum.Desc.FullName())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(f.Message.Desc.FullName())
	}
	return f.Desc.Kind().String()
}

// describeType describes a field's type the way a .proto declares it.
func describeType(f *protogen.Field) string {
	switch {
	case f.Desc.IsMap():
		return fmt.Sprintf("a map<%s, %s>", f.Desc.MapKey().Kind(), f.Desc.MapValue().Kind())
	case f.Desc.IsList():
		return "repeated " + scalarName(f)
	}
	return scalarName(f)
}
