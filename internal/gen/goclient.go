package gen

import (
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Import paths the Go client constructors use.
const (
	clientPackage    = protogen.GoImportPath("github.com/ssot-codegen/ssot-ws/ssotws/client")
	httpPackage      = protogen.GoImportPath("net/http")
	fmtPackage       = protogen.GoImportPath("fmt")
	strconvPackage   = protogen.GoImportPath("strconv")
	fieldmaskPackage = protogen.GoImportPath("google.golang.org/protobuf/types/known/fieldmaskpb")
)

// genClients declares, for each model a service of the file serves, the
// adapter between the generic client and the service's connect-go client
// (the type <Model>HTTP, a client.HTTP) and the typed client constructor
// (New<Model>Client), which returns the hybrid DataClient whether the
// model is realtime or not.
func genClients(g *protogen.GeneratedFile, f *File, p *Params) {
	for _, s := range f.Services {
		for _, m := range s.Models {
			var methods [Delete + 1]*Method
			for _, bm := range s.Methods {
				if bm.Model == m && !bm.Standard.isBatch() { // batch methods: the Connect client
					methods[bm.Standard] = bm
				}
			}
			genAdapter(g, f, s, m, methods, p)
			genClientConstructor(g, f, s, m, p)
		}
	}
}

func genAdapter(g *protogen.GeneratedFile, f *File, s *Service, m *Model, methods [Delete + 1]*Method, p *Params) {
	n := newClientNames(m, s, f.SharedModel(m))
	connectClient := subPackage(f.Proto, p.ConnectPackageSuffix).Ident(s.Proto.GoName + "Client")
	typ := "*" + g.QualifiedGoIdent(m.Message.GoIdent)
	api := g.QualifiedGoIdent(clientPackage.Ident("HTTP")) + "[" + typ + "]"
	header := g.QualifiedGoIdent(httpPackage.Ident("Header"))
	ctxType := g.QualifiedGoIdent(contextPackage.Ident("Context"))
	cs := clientShapeOf(p)

	g.P("// ", n.HTTP, " calls the standard methods of ", m.FullName(), " on a connect-go")
	g.P("// ", connectClient.GoName, ": the [", clientPackage.Ident("HTTP"), "] the Go clients of ", m.Name(), " use.")
	var missing []string
	for std := Get; std <= Delete; std++ {
		if methods[std] == nil {
			missing = append(missing, std.String())
		}
	}
	if len(missing) > 0 {
		g.P("//")
		g.P("// ", s.Proto.Desc.Name(), " has no standard ", joinAnd(missing), " of ", m.Name(), ":")
		g.P("// ", plainOr(missing, "that method fails", "those methods fail"), " with [", clientPackage.Ident("ErrNoMethod"), "].")
	}
	g.P("type ", n.HTTP, " struct {")
	if len(missing) > 0 {
		g.P(clientPackage.Ident("UnimplementedHTTP"), "[", typ, "]")
		g.P()
	}
	g.P("c ", connectClient)
	g.P("}")
	g.P()
	g.P("var _ ", api, " = (*", n.HTTP, ")(nil)")
	g.P()
	g.P("// ", n.NewHTTP, " returns the [", clientPackage.Ident("HTTP"), "] of ", m.FullName(), " over c.")
	g.P("func ", n.NewHTTP, "(c ", connectClient, ") *", n.HTTP, " {")
	g.P("return &", n.HTTP, "{c: c}")
	g.P("}")
	g.P()
	method := func(bm *Method, name string) {
		g.P("// ", name, " implements [", clientPackage.Ident("HTTP"), "]: it calls ", bm.Proto.GoName, ".")
	}
	if bm := methods[Get]; bm != nil {
		method(bm, "Get")
		g.P("func (a *", n.HTTP, ") Get(ctx ", ctxType, ", key string, h ", header, ") (", typ, ", ", header, ", error) {")
		key := parseKey(g, m, bm.KeyField, "nil, nil, ", cs)
		in := newMessage(g, "req", bm.Proto.Input, false, fieldValue{bm.KeyField, key})
		callAndReturn(g, cs.call(g, "res", ":=", bm.Proto.GoName, in, true), "nil, nil", responseExpr(bm, cs.msg)+", "+cs.header)
	}
	if bm := methods[List]; bm != nil {
		method(bm, "List")
		g.P("func (a *", n.HTTP, ") List(ctx ", ctxType, ", p ", clientPackage.Ident("ListParams"), ", h ", header, ") ([]", typ, ", string, ", header, ", error) {")
		var init []fieldValue
		if bm.PageSize != nil {
			init = append(init, fieldValue{bm.PageSize, "p.PageSize"})
		}
		if bm.PageToken != nil {
			init = append(init, fieldValue{bm.PageToken, "p.PageToken"})
		}
		if in := newMessage(g, "req", bm.Proto.Input, false, init...); in != "req" {
			g.P("req := ", in)
		}
		g.P("if err := ", clientPackage.Ident("SetFilters"), "(req, p.Filters); err != nil {")
		g.P(`return nil, "", nil, err`)
		g.P("}")
		callAndReturn(g, cs.call(g, "res", ":=", bm.Proto.GoName, "req", true), `nil, "", nil`,
			getter(cs.msg, bm.ResponseField)+", "+getter(cs.msg, bm.NextPageToken)+", "+cs.header)
	}
	if bm := methods[Create]; bm != nil {
		method(bm, "Create")
		g.P("func (a *", n.HTTP, ") Create(ctx ", ctxType, ", item ", typ, ", h ", header, ") (", typ, ", error) {")
		in := newMessage(g, "req", bm.Proto.Input, false, fieldValue{bm.ModelField, "item"})
		callAndReturn(g, cs.call(g, "res", ":=", bm.Proto.GoName, in, false), "nil", responseExpr(bm, cs.msg))
	}
	if bm := methods[Update]; bm != nil {
		method(bm, "Update")
		g.P("func (a *", n.HTTP, ") Update(ctx ", ctxType, ", item ", typ, ", paths []string, h ", header, ") (", typ, ", error) {")
		if in := newMessage(g, "req", bm.Proto.Input, false, fieldValue{bm.ModelField, "item"}); in != "req" {
			g.P("req := ", in)
		}
		g.P("if len(paths) > 0 {")
		if isOpaque(bm.Proto.Input) {
			set, _ := bm.MaskField.MethodName("Set")
			g.P("req.", set, "(&", fieldmaskPackage.Ident("FieldMask"), "{Paths: paths})")
		} else {
			g.P("req.", bm.MaskField.GoName, " = &", fieldmaskPackage.Ident("FieldMask"), "{Paths: paths}")
		}
		g.P("}")
		callAndReturn(g, cs.call(g, "res", ":=", bm.Proto.GoName, "req", false), "nil", responseExpr(bm, cs.msg))
	}
	if bm := methods[Delete]; bm != nil {
		method(bm, "Delete")
		g.P("func (a *", n.HTTP, ") Delete(ctx ", ctxType, ", key string, h ", header, ") error {")
		key := parseKey(g, m, bm.KeyField, "", cs)
		assign := ":="
		if key != "key" {
			assign = "=" // err is declared by the key's parse
		}
		in := newMessage(g, "req", bm.Proto.Input, false, fieldValue{bm.KeyField, key})
		g.P(cs.call(g, "_", assign, bm.Proto.GoName, in, false))
		g.P("return err")
		g.P("}")
		g.P()
	}
}

// callAndReturn writes the end of an adapter method: call, the error
// returned with zero (the other results' zero values), else result and a
// nil error.
func callAndReturn(g *protogen.GeneratedFile, call, zero, result string) {
	g.P(call)
	g.P("if err != nil {")
	g.P("return ", zero, ", err")
	g.P("}")
	g.P("return ", result, ", nil")
	g.P("}")
	g.P()
}

// responseExpr is the expression giving the model from res, a response of
// a Get, Create or Update, whose message is msg.
func responseExpr(bm *Method, msg string) string {
	if bm.Response == ResponseWrapper {
		return getter(msg, bm.ResponseField)
	}
	return msg
}

// parseKey writes the statements parsing the text key of an adapter
// function into the type of request field f, and returns the expression
// holding it. ret precedes the error in the function's return statement.
func parseKey(g *protogen.GeneratedFile, m *Model, f *protogen.Field, ret string, cs clientShape) string {
	kind := f.Desc.Kind()
	if kind == protoreflect.StringKind {
		return "key"
	}
	var parse, bits, conv string
	switch kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		parse, bits, conv = "ParseInt", "32", "int32"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		parse, bits = "ParseInt", "64"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		parse, bits, conv = "ParseUint", "32", "uint32"
	default:
		parse, bits = "ParseUint", "64"
	}
	g.P("k, err := ", strconvPackage.Ident(parse), "(key, 10, ", bits, ")")
	g.P("if err != nil {")
	cs.invalidKey(g, ret, `("`+string(m.FullName())+` key %q is not a valid `+goType(g, f)+`: %w", key, err)`)
	g.P("}")
	if conv != "" {
		return conv + "(k)"
	}
	return "k"
}

func genClientConstructor(g *protogen.GeneratedFile, f *File, s *Service, m *Model, p *Params) {
	n := newClientNames(m, s, f.SharedModel(m))
	typ := "*" + g.QualifiedGoIdent(m.Message.GoIdent)
	modelVar := subPackage(m.File, p.PackageSuffix).Ident(newModelNames(m).Var)
	cc := g.QualifiedGoIdent(subPackage(f.Proto, p.ConnectPackageSuffix).Ident(s.Proto.GoName + "Client"))
	opts := g.QualifiedGoIdent(clientPackage.Ident("Options"))
	g.P("// ", n.NewClient, " returns the hybrid [", clientPackage.Ident("DataClient"), "] of")
	if m.Realtime {
		g.P("// ", m.FullName(), ": it reads from the cache of what conn subscribes when")
		g.P("// it can and over c otherwise, and mutates over c. conn and opts may be nil.")
	} else {
		g.P("// ", m.FullName(), ": ", m.Name(), " is HTTP only, so every call goes over c")
		g.P("// and conn is not used until ", m.Name(), " turns realtime; the signature stays")
		g.P("// the same then. conn and opts may be nil.")
	}
	g.P("func ", n.NewClient, "(c ", cc, ", conn *", clientPackage.Ident("Conn"), ", opts *", opts, ") *", clientPackage.Ident("Hybrid"), "[", typ, "] {")
	g.P("return ", clientPackage.Ident("NewHybrid"), "(", modelVar, ", ", n.NewHTTP, "(c), conn, opts)")
	g.P("}")
	g.P()
}

// joinAnd joins words as English does: "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// plainOr picks the singular or the plural phrase for words.
func plainOr(words []string, one, many string) string {
	if len(words) == 1 {
		return one
	}
	return many
}
