package gen

import (
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// genBatchCall writes the body of a batch method up to its error check:
// the items gathered from the request, then the call of the resource's
// batch method, which leaves the records in msgs.
func genBatchCall(g *protogen.GeneratedFile, bm *Method, recv, msgExpr, header string) {
	typ := "*" + g.QualifiedGoIdent(bm.Model.Message.GoIdent)
	var item, call string
	switch bm.Standard {
	case BatchCreate:
		item, call = g.QualifiedGoIdent(ssotwsPackage.Ident("CreateItem"))+"["+typ+"]", "BatchCreate"
	case BatchUpdate:
		item, call = g.QualifiedGoIdent(ssotwsPackage.Ident("UpdateItem"))+"["+typ+"]", "BatchUpdate"
	case BatchDelete:
		item, call = g.QualifiedGoIdent(ssotwsPackage.Ident("DeleteItem")), "BatchDelete"
	}
	source, elem := bm.Requests, "it"
	if bm.Keys != nil {
		source, elem = bm.Keys, "key"
	}
	g.P("items := make([]", item, ", 0, len(", getter(msgExpr, source), "))")
	g.P("for _, ", elem, " := range ", getter(msgExpr, source), " {")
	var fields string
	switch {
	case bm.Keys != nil:
		k := elem
		if bm.Keys.Desc.Kind() != protoreflect.StringKind {
			k = g.QualifiedGoIdent(ssotwsPackage.Ident("RequestKey")) + "(" + elem + ")"
		}
		fields = "Key: " + k
	case bm.Standard == BatchCreate:
		fields = "Record: " + getter(elem, bm.Item.ModelField)
		if bm.Item.IDField != nil {
			fields += ", Key: " + keyExpr(g, bm.Item.IDField, elem)
		}
	case bm.Standard == BatchUpdate:
		fields = "Record: " + getter(elem, bm.Item.ModelField) + ", Mask: " + getter(elem, bm.Item.MaskField)
	default:
		fields = "Key: " + keyExpr(g, bm.Item.KeyField, elem)
		if v := bm.Item.VersionField; v != nil {
			fields += ", Version: " + int64Expr(getter(elem, v), v)
		}
	}
	g.P("items = append(items, ", item, "{", fields, "})")
	g.P("}")
	lhs := "msgs, err := "
	if bm.Response == ResponseEmpty {
		lhs = "_, err := "
	}
	g.P(lhs, recv, ".", call, "(ctx, ", header, ", items)")
}

// int64Expr converts the integer expression v of field f to int64.
func int64Expr(v string, f *protogen.Field) string {
	switch f.Desc.Kind() {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return v
	}
	return "int64(" + v + ")"
}
