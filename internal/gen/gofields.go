package gen

import (
	"strings"

	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/gofeaturespb"
)

// How the generated Go code reads and writes the fields of protoc-gen-go's
// messages, whatever their presence and API level: proto3 implicit
// presence (plain fields), explicit presence (proto2 and proto3 optional,
// editions' default: pointer fields in the open API) and the opaque API
// (edition 2024's default: unexported fields, accessor methods). Reads
// always go through the getters, which every API level has.

const protoPackage = protogen.GoImportPath("google.golang.org/protobuf/proto")

// fieldValue is a field and the Go expression of the value to set it to,
// of the field's Go scalar type (string, int32…), never a pointer.
type fieldValue struct {
	field *protogen.Field
	value string
}

// isOpaque reports whether protoc-gen-go gives msg the opaque API: no
// exported fields, setters instead.
func isOpaque(msg *protogen.Message) bool {
	return msg.APILevel == gofeaturespb.GoFeatures_API_OPAQUE
}

// newMessage returns the Go expression of a new msg with the given fields
// set. A message of the opaque API is built by statements first, into a
// variable called name, and the expression is name. With multiline the
// composite literal of the open API has one field per line.
func newMessage(g *protogen.GeneratedFile, name string, msg *protogen.Message, multiline bool, vals ...fieldValue) string {
	typ := g.QualifiedGoIdent(msg.GoIdent)
	if isOpaque(msg) {
		g.P(name, " := &", typ, "{}")
		for _, v := range vals {
			set, _ := v.field.MethodName("Set")
			g.P(name, ".", set, "(", v.value, ")")
		}
		return name
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = v.field.GoName + ": " + openValue(g, v.field, v.value)
	}
	if multiline && len(parts) > 0 {
		return "&" + typ + "{\n" + strings.Join(parts, ",\n") + ",\n}"
	}
	return "&" + typ + "{" + strings.Join(parts, ", ") + "}"
}

// openValue is the expression assigning value to field f of the open API:
// the value itself, or a pointer to it for a scalar with explicit presence.
func openValue(g *protogen.GeneratedFile, f *protogen.Field, value string) string {
	if !hasPointer(f) {
		return value
	}
	var fn string
	switch f.Desc.Kind() {
	case protoreflect.StringKind:
		fn = "String"
	case protoreflect.BoolKind:
		fn = "Bool"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		fn = "Int32"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		fn = "Int64"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		fn = "Uint32"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		fn = "Uint64"
	case protoreflect.FloatKind:
		fn = "Float32"
	case protoreflect.DoubleKind:
		fn = "Float64"
	case protoreflect.EnumKind:
		return value + ".Enum()"
	default:
		return value
	}
	return g.QualifiedGoIdent(protoPackage.Ident(fn)) + "(" + value + ")"
}

// getter is the expression reading field f of the message held in recv.
func getter(recv string, f *protogen.Field) string {
	get, _ := f.MethodName("Get")
	return recv + "." + get + "()"
}

// inRealOneof reports whether f is a member of a oneof the user declared
// (not the synthetic oneof of a proto3 optional field).
func inRealOneof(f *protogen.Field) bool {
	return f.Oneof != nil && !f.Oneof.Desc.IsSynthetic()
}
