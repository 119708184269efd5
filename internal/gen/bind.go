package gen

import (
	"cmp"
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
		strict:   params.Binding == BindingStrict,
		messages: make(map[protoreflect.FullName]*protogen.Message),
		files:    make(map[*protogen.Message]*protogen.File),
		models:   make(map[*protogen.Message]*Model),
		byName:   make(map[string][]*protogen.Message),
		byPlural: make(map[string][]*protogen.Message),
	}
	for _, f := range plugin.Files {
		walkMessages(f.Messages, func(m *protogen.Message) {
			b.messages[m.Desc.FullName()] = m
			b.files[m] = f
			if modelOptions(m) != nil {
				name := string(m.Desc.Name())
				b.byName[name] = append(b.byName[name], m)
				b.byPlural[plural(name)] = append(b.byPlural[plural(name)], m)
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
	// strict is binding=strict: a method bound by its name whose shape is
	// not the standard method's is an error, not left to the user.
	strict   bool
	messages map[protoreflect.FullName]*protogen.Message
	files    map[*protogen.Message]*protogen.File
	// models caches bound models; a nil entry is a message that is not one.
	models map[*protogen.Message]*Model
	// byName indexes messages with the model option by short name, and
	// byPlural by its plural (List methods): a method's model is looked up,
	// not searched for, so binding stays linear in the number of methods.
	byName   map[string][]*protogen.Message
	byPlural map[string][]*protogen.Message
	probs    problems
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

// fieldColumn is the SQL column of a model's field: its column option,
// else its name.
func fieldColumn(f *protogen.Field) string {
	opts, ok := f.Desc.Options().(*descriptorpb.FieldOptions)
	if ok && opts != nil && proto.HasExtension(opts, wsv1.E_Field) {
		if fo, _ := proto.GetExtension(opts, wsv1.E_Field).(*wsv1.FieldOptions); fo.GetColumn() != "" {
			return fo.GetColumn()
		}
	}
	return string(f.Desc.Name())
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
	b.bindResource(m)

	b.checkRedaction(m, opts.GetOwner() != "") // bind_redact.go

	// The SQL stores' columns (the field option column, else the field's
	// name) must not clash, with each other or with the creation-order
	// column.
	columns := make(map[string]string)
	for _, f := range msg.Fields {
		col := fieldColumn(f)
		switch prev, dup := columns[col]; {
		case col == "ssotws_seq" || col == "ssotws_version":
			b.probs.addf(f.Desc, "column %q is a bookkeeping column of the SQL stores; set the field's column option to another name", col)
		case dup:
			b.probs.addf(f.Desc, "fields %q and %q both have column %q; set the column option of one to another name", prev, f.Desc.Name(), col)
		}
		columns[col] = string(f.Desc.Name())
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
	b.presenceTypes(m, opts)
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
	so := serviceOptions(s)
	if so.GetSkip() {
		return nil // the user serves it all
	}
	if so != nil {
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
	claimed := make(map[claim]*Method)
	var bound []*Method
	for _, meth := range s.Methods {
		bm, left := b.method(meth, candidates)
		if left != nil {
			svc.Unbound = append(svc.Unbound, left)
		}
		if bm == nil {
			continue
		}
		c := claim{bm.Model, bm.Standard}
		if prev := claimed[c]; prev != nil {
			// A method bound by its name wins over one bound by its
			// response (ListBooks over ListBookRevisions).
			if prev.byResponse && !bm.byResponse {
				prev, bm = bm, prev
				claimed[c] = prev
				bound[slices.Index(bound, bm)] = prev
			}
			why := fmt.Sprintf("%s already implements the standard %s of %s; a service implements each standard method of a model once",
				prev.Proto.Desc.Name(), bm.Standard, bm.Model.FullName())
			if bm.Explicit || b.strict {
				b.probs.addf(bm.Proto.Desc, "%s", why)
			} else {
				svc.Unbound = append(svc.Unbound, &Unbound{Method: bm.Proto, Reason: why})
			}
			continue
		}
		claimed[c] = bm
		bound = append(bound, bm)
	}
	for _, bm := range bound {
		if !listed[bm.Model] {
			listed[bm.Model] = true
			svc.Models = append(svc.Models, bm.Model)
		}
	}
	svc.Methods = bound
	slices.SortFunc(svc.Unbound, func(a, b *Unbound) int { return cmp.Compare(a.Method.Desc.Index(), b.Method.Desc.Index()) })
	if len(svc.Methods) == 0 {
		return nil
	}
	return svc
}

// splitStandard splits a method name into its standard verb and the rest.
func splitStandard(name string) (Standard, string) {
	for _, s := range []Standard{BatchCreate, BatchUpdate, BatchDelete, Get, List, Create, Update, Delete} {
		if rest, ok := strings.CutPrefix(name, s.String()); ok && rest != "" {
			return s, rest
		}
	}
	return 0, ""
}

const operationName = "google.longrunning.Operation"

// method binds meth, explicitly by its method option or by its name among
// candidates (the models of the service's own proto package when nil). A
// method bound by its name whose shape is not the standard method's is
// left to the user, with the reason, unless binding=strict: then, as for
// an explicit binding, the problem is an error. It returns nil, nil for a
// method that is not standard.
func (b *binder) method(meth *protogen.Method, candidates []*Model) (*Method, *Unbound) {
	d := meth.Desc
	std, rest := splitStandard(string(d.Name()))
	var model *Model
	explicit := false
	mo := methodOptions(meth)
	if mo.GetSkip() {
		if mo.GetModel() != "" || mo.GetStandard() != wsv1.StandardMethod_STANDARD_METHOD_UNSPECIFIED {
			b.probs.addf(d, "method option sets skip and also binds the method (model or standard); choose one")
		}
		if std == 0 {
			return nil, nil
		}
		return nil, &Unbound{Method: meth, Reason: "its method option sets skip"}
	}
	var how string
	if mo != nil && (mo.GetModel() != "" || mo.GetStandard() != wsv1.StandardMethod_STANDARD_METHOD_UNSPECIFIED) {
		explicit = true
		if s := mo.GetStandard(); s != wsv1.StandardMethod_STANDARD_METHOD_UNSPECIFIED {
			std = Standard(s)
			if _, ok := standardNames[std]; !ok {
				b.probs.addf(d, "method option sets unknown standard method %d", s)
				return nil, nil
			}
		}
		if std == 0 {
			b.probs.addf(d, "method option does not say which standard method %s is, and its name does not start with Get, List, Create, Update or Delete; set standard", d.Name())
			return nil, nil
		}
		if mo.GetModel() != "" {
			model = b.resolveModel(d, "method option", mo.GetModel())
			if model == nil {
				return nil, nil
			}
		} else if model, _, _ = b.byMethodName(meth, std, rest, candidates); model == nil {
			b.probs.addf(d, "method option does not name the model, and the method name does not; set model")
			return nil, nil
		}
		how = "bound by its method option"
	} else {
		if std == 0 {
			return nil, nil
		}
		var byResponse bool
		var foreign *Model
		model, byResponse, foreign = b.byMethodName(meth, std, rest, candidates)
		if model == nil {
			if sub := b.subList(meth, std, rest); sub != nil {
				return nil, &Unbound{Method: meth, Reason: fmt.Sprintf("its response lists %s, but its name is not List%s: a List of something of %s (revisions, AIP-162) is left to you", sub.FullName(), plural(sub.Name()), sub.Name())}
			}
			if foreign != nil {
				return nil, &Unbound{Method: meth, Reason: fmt.Sprintf("its name matches model %s of another proto package; a service binds the models of its own package, or those its (ssot.ws.v1.service) option lists", foreign.FullName())}
			}
			return nil, nil
		}
		how = fmt.Sprintf("bound by its name (%s + %s)", std, rest)
		if byResponse {
			how = fmt.Sprintf("bound by its name (%s) and its response's repeated %s", std, model.Name())
		}
		bm, probs := b.checkMethod(meth, model, std)
		if bm != nil {
			bm.byResponse = byResponse
			return bm, nil
		}
		if b.strict {
			for _, p := range probs {
				p.msg = how + " to the standard " + std.String() + " of " + model.FullName() + ": " + p.msg
				b.probs = append(b.probs, p)
			}
			return nil, nil
		}
		reasons := make([]string, len(probs))
		for i, p := range probs {
			reasons[i] = p.msg
		}
		return nil, &Unbound{Method: meth, Model: model, Standard: std,
			Reason: fmt.Sprintf("its name says the standard %s of %s, but %s", std, model.FullName(), strings.Join(reasons, "; "))}
	}
	bm, probs := b.checkMethod(meth, model, std)
	for _, p := range probs {
		p.msg = how + " to the standard " + std.String() + " of " + model.FullName() + ": " + p.msg
		b.probs = append(b.probs, p)
	}
	if bm != nil {
		bm.Explicit = explicit
	}
	return bm, nil
}

// checkMethod checks meth against the shape of the standard method std of
// model m, and returns the bound method or the problems.
func (b *binder) checkMethod(meth *protogen.Method, m *Model, std Standard) (*Method, problems) {
	d := meth.Desc
	var probs problems
	switch {
	case d.IsStreamingClient() || d.IsStreamingServer():
		probs.addf(d, "it is a streaming method; a standard method is unary")
	case meth.Output.Desc.FullName() == operationName:
		probs.addf(d, "it returns %s: a long-running method (AIP-151) is left to you", operationName)
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return b.shape(meth, m, std, &probs), probs
}

// subList returns the model whose records a List that byMethodName did
// not bind returns, when its name lists something of that model
// (ListBookRevisions returning repeated Book).
func (b *binder) subList(meth *protogen.Method, std Standard, rest string) *Model {
	if std != List {
		return nil
	}
	for _, f := range meth.Output.Fields {
		if f.Message == nil || !f.Desc.IsList() || f.Desc.IsMap() {
			continue
		}
		if m := b.model(f.Message); m != nil && strings.HasPrefix(rest, m.Name()) {
			return m
		}
	}
	return nil
}

// byMethodName finds the model a method name refers to: Get<M>, List<Ms>…,
// among candidates, or else among the models of the method's own proto
// package. byResponse says that a List was bound by its response's
// repeated model field (an irregular plural). foreign is a model of
// another package that the name matches, when that is the only match.
func (b *binder) byMethodName(meth *protogen.Method, std Standard, rest string, candidates []*Model) (model *Model, byResponse bool, foreign *Model) {
	pkg := meth.Desc.ParentFile().Package()
	allowed := func(m *protogen.Message) bool {
		if candidates != nil {
			return containsModel(candidates, b.model(m))
		}
		return m.Desc.ParentFile().Package() == pkg
	}
	var other *protogen.Message
	index := b.byName
	if std == List || std.isBatch() {
		index = b.byPlural
	}
	for _, m := range index[rest] {
		if allowed(m) {
			return b.model(m), false, nil
		}
		other = m
	}
	if std == List {
		// An irregular plural (ListPeople of Person): bind by the
		// response's repeated model field, unless the name lists something
		// of the model (ListBookRevisions, AIP-162).
		for _, f := range meth.Output.Fields {
			if f.Message == nil || !f.Desc.IsList() || f.Desc.IsMap() {
				continue
			}
			if m := b.model(f.Message); m != nil && allowed(f.Message) && !strings.HasPrefix(rest, m.Name()) {
				return m, true, nil
			}
		}
	}
	if other != nil {
		return nil, false, b.model(other)
	}
	return nil, false, nil
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
// how they map onto the runtime; it adds what does not fit to probs.
func (b *binder) shape(meth *protogen.Method, m *Model, std Standard, probs *problems) *Method {
	d := meth.Desc
	bm := &Method{Proto: meth, Model: m, Standard: std}
	in, out := meth.Input, meth.Output
	ok := true
	// bad reports a problem of the method, placed at the field at when
	// there is one to point at.
	bad := func(at *protogen.Field, format string, args ...any) {
		if at != nil {
			probs.addAt(at.Desc, d, format, args...)
		} else {
			probs.addf(d, format, args...)
		}
		ok = false
	}
	switch std {
	case Get, Delete:
		bm.KeyField = b.keyField(in, strings.ToLower(splitVerb(meth)), m, bad)
		if std == Delete {
			bm.EtagField = plainString(in, "etag")
			if v := fieldByName(in, "version"); v != nil {
				if !isIntegerField(v) {
					bad(v, "delete request field %q is %s; version must be an integer field", "version", describeType(v))
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
			bad(nil, "list response %s has no repeated %s field", out.Desc.FullName(), m.FullName())
		}
		bm.Response = ResponseList
		if t := fieldByName(out, "next_page_token"); t == nil || t.Desc.Kind() != protoreflect.StringKind || t.Desc.IsList() {
			bad(t, "list response %s needs a string field next_page_token (AIP-158)", out.Desc.FullName())
		} else {
			bm.NextPageToken = t
		}
		for _, f := range in.Fields {
			switch string(f.Desc.Name()) {
			case "page_size":
				if f.Desc.Kind() != protoreflect.Int32Kind || f.Desc.IsList() {
					bad(f, "list request field %q is %s; page_size must be an int32 field", "page_size", describeType(f))
				} else {
					bm.PageSize = f
				}
				continue
			case "page_token":
				if f.Desc.Kind() != protoreflect.StringKind || f.Desc.IsList() {
					bad(f, "list request field %q is %s; page_token must be a string field", "page_token", describeType(f))
				} else {
					bm.PageToken = f
				}
				continue
			case "filter": // AIP-160
				bm.FilterField = plainString(in, "filter")
				continue
			case "order_by": // AIP-132
				bm.OrderByField = plainString(in, "order_by")
				continue
			}
			mf, parent := listFilterOf(m, f, bad)
			if parent {
				bm.ParentFilter = f
				continue
			}
			if mf == nil {
				continue // not a filter: left to the user
			}
			if !isScalarField(mf) || !isScalarField(f) || !sameType(f, mf) {
				bad(f, "list request field %q is %s and %s.%s is %s; a filter must have the type of a singular string, integer, bool or enum model field",
					f.Desc.Name(), describeType(f), m.Name(), mf.Desc.Name(), describeType(mf))
				continue
			}
			bm.Filters = append(bm.Filters, &Filter{Request: f, Model: mf, Optional: hasPointer(f)})
			if !slices.Contains(m.Filters, mf) && !slices.ContainsFunc(m.Scopes, func(s *Scope) bool { return s.Field == mf }) && mf != m.Owner && mf != m.Key {
				m.Filters = append(m.Filters, mf)
			}
		}
	case Create, Update:
		b.writeRequest(in, m, std, bm, bad)
		bm.Response = b.response(meth, m, false, bad)
		if bm.Response == ResponseWrapper {
			bm.ResponseField = wrapperField(out, m)
		}
	case BatchCreate, BatchUpdate, BatchDelete:
		b.batchShape(meth, m, bm, bad) // bind_batch.go
	}
	for _, f := range []*protogen.Field{bm.KeyField, bm.VersionField, bm.ModelField, bm.IDField, bm.MaskField,
		bm.PageSize, bm.PageToken, bm.NextPageToken, bm.ResponseField, bm.ParentField, bm.ParentFilter, bm.EtagField, bm.FilterField, bm.OrderByField} {
		if f != nil && inRealOneof(f) {
			bad(f, "field %q of %s is in oneof %q; a field the standard %s reads or writes cannot be a oneof member",
				f.Desc.Name(), f.Parent.Desc.FullName(), f.Oneof.Desc.Name(), std)
		}
	}
	for _, fl := range bm.Filters {
		if inRealOneof(fl.Request) {
			bad(fl.Request, "list request field %q is in oneof %q; a filter cannot be a oneof member", fl.Request.Desc.Name(), fl.Request.Oneof.Desc.Name())
		}
	}
	if !ok {
		return nil
	}
	return bm
}

// writeRequest finds the fields of a Create or Update request in: the
// model, and Create's <model>_id or Update's update_mask.
func (b *binder) writeRequest(in *protogen.Message, m *Model, std Standard, bm *Method, bad func(*protogen.Field, string, ...any)) {
	bm.ModelField = modelField(in, m)
	if bm.ModelField == nil {
		bad(nil, "%s request %s has no %s field; it must carry the model (AIP-13%d)",
			strings.ToLower(std.String()), in.Desc.FullName(), m.FullName(), map[Standard]int{Create: 3, Update: 4}[std])
	}
	if std == Create {
		if len(m.Patterns) > 0 {
			bm.ParentField = stringField(in, parentScope, "create request", bad)
		}
		idName := snake(m.Name()) + "_id"
		if f := fieldByName(in, idName); f != nil {
			if m.Key != nil && !keyCompatible(f, m.Key) {
				bad(f, "create request field %q is %s but the key of %s is %s", idName, describeType(f), m.Name(), describeType(m.Key))
			} else {
				bm.IDField = f
			}
		}
	} else {
		f := fieldByName(in, "update_mask")
		switch {
		case f == nil:
			bad(nil, "update request %s has no update_mask field; add google.protobuf.FieldMask update_mask (AIP-134)", in.Desc.FullName())
		case f.Message == nil || f.Message.Desc.FullName() != fieldMaskName || f.Desc.IsList():
			bad(f, "update request field %q is %s; it must be a google.protobuf.FieldMask", "update_mask", describeType(f))
		default:
			bm.MaskField = f
		}
	}
}

// keyField finds the field of a Get or Delete request that holds the key:
// the model's key name, "id" or "name".
func (b *binder) keyField(in *protogen.Message, verb string, m *Model, bad func(*protogen.Field, string, ...any)) *protogen.Field {
	if m.Key == nil {
		return nil // the model's problem is reported already
	}
	for _, name := range []string{string(m.Key.Desc.Name()), "id", "name"} {
		f := fieldByName(in, name)
		if f == nil {
			continue
		}
		if !keyCompatible(f, m.Key) {
			bad(f, "request field %q is %s but the key of %s is %s", name, describeType(f), m.Name(), describeType(m.Key))
			return nil
		}
		return f
	}
	bad(nil, "%s request %s has no key field; add %s %s = 1 (the key of %s)",
		verb, in.Desc.FullName(), scalarName(m.Key), m.Key.Desc.Name(), m.Name())
	return nil
}

func splitVerb(meth *protogen.Method) string {
	if s, _ := splitStandard(string(meth.Desc.Name())); s != 0 {
		return s.String()
	}
	return string(meth.Desc.Name())
}

// response classifies the response of a Get, Create, Update or Delete.
func (b *binder) response(meth *protogen.Method, m *Model, allowEmpty bool, bad func(*protogen.Field, string, ...any)) ResponseShape {
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
		bad(nil, "response %s is neither %s, a message wrapping it in one field, nor empty", out.Desc.FullName(), m.FullName())
	} else {
		bad(nil, "response %s is neither %s nor a message wrapping it in one field", out.Desc.FullName(), m.FullName())
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
			presence, signals := goPresenceNames(m)
			if presence != "" {
				add(presence, m.Message.Desc, "typed presence")
			}
			if signals != "" {
				add(signals, m.Message.Desc, "typed signals")
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
