package gen

import (
	"strings"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"go.einride.tech/aip/resourcename"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Binding of AIP resources: the google.api.resource patterns a model's
// names follow, the request fields that carry a parent, a resource id or an
// etag, and which List request fields filter. docs/guide.md, "AIP
// resources", says what each becomes.

// parentScope is the scope a resource's parent gives it (the runtime's
// protocol.ParentScope; the plugin does not link the runtime).
const parentScope = "parent"

// bindResource reads the google.api.resource option of m's message: its
// patterns, and the etag field (AIP-154).
func (b *binder) bindResource(m *Model) {
	msg := m.Message
	if e := fieldByName(msg, "etag"); e != nil && e.Desc.Kind() == protoreflect.StringKind && !e.Desc.IsList() {
		m.Etag = e
	}
	opts, ok := msg.Desc.Options().(*descriptorpb.MessageOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, annotations.E_Resource) {
		return
	}
	rd, _ := proto.GetExtension(opts, annotations.E_Resource).(*annotations.ResourceDescriptor)
	d := msg.Desc
	for _, p := range rd.GetPattern() {
		if err := resourcename.ValidatePattern(p); err != nil {
			b.probs.addf(d, "google.api.resource pattern %q: %v", p, err)
			continue
		}
		if _, last := splitPattern(p); last == "" {
			b.probs.addf(d, "google.api.resource pattern %q does not end in a collection and a {variable}; ssot-ws builds names from such patterns only", p)
			continue
		}
		m.Patterns = append(m.Patterns, p)
	}
	if len(m.Patterns) > 0 && m.Key != nil && m.Key.Desc.Kind() != protoreflect.StringKind {
		b.probs.addf(d, "key field %q is %s; a resource with a google.api.resource pattern is keyed by its name, a string field", m.Key.Desc.Name(), describeType(m.Key))
	}
	if m.HasParent() {
		for _, s := range m.Scopes {
			if s.Method == "Parent" {
				b.probs.addf(d, "channel constructor name clash: scope %q gives %sChannels.Parent, which names the channel of the resource's parent; rename the field", s.Field.Desc.Name(), msg.GoIdent.GoName)
			}
		}
	}
}

// splitPattern splits "shelves/{shelf}/books/{book}" into the parent's
// pattern ("shelves/{shelf}", "" at the top level) and the last collection
// ("books"); last is "" when the pattern does not end in a collection and
// a variable.
func splitPattern(p string) (parent, last string) {
	segs := strings.Split(p, "/")
	n := len(segs)
	if n < 2 || !isVar(segs[n-1]) || isVar(segs[n-2]) {
		return "", ""
	}
	return strings.Join(segs[:n-2], "/"), segs[n-2]
}

func isVar(s string) bool { return len(s) > 1 && s[0] == '{' && s[len(s)-1] == '}' }

// HasParent reports whether the model's records have a parent derived from
// their names, which scopes its Lists and channels.
func (m *Model) HasParent() bool {
	if len(m.Patterns) == 0 || fieldByName(m.Message, parentScope) != nil {
		return false
	}
	for _, p := range m.Patterns {
		if pp, _ := splitPattern(p); pp != "" {
			return true
		}
	}
	return false
}

func fieldOptions(f *protogen.Field) *wsv1.FieldOptions {
	opts, ok := f.Desc.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, wsv1.E_Field) {
		return nil
	}
	fo, _ := proto.GetExtension(opts, wsv1.E_Field).(*wsv1.FieldOptions)
	return fo
}

// listFilterOf says whether List request field f filters, and on which
// model field: a field named like one of the model's scopes or its owner
// field, or one with (ssot.ws.v1.field).filter set. mf is nil and parent
// true for the parent of a resource. A field that only shares a model
// field's name is no filter (left to the user); one marked filter that
// names no model field is a problem, reported through bad.
func listFilterOf(m *Model, f *protogen.Field, bad func(*protogen.Field, string, ...any)) (mf *protogen.Field, parent bool) {
	name := string(f.Desc.Name())
	if name == parentScope && m.HasParent() {
		if f.Desc.Kind() != protoreflect.StringKind || f.Desc.IsList() {
			bad(f, "list request field %q is %s; the parent of %s is a resource name, a string", name, describeType(f), m.Name())
		}
		return nil, true
	}
	mf = fieldByName(m.Message, name)
	marked := fieldOptions(f).GetFilter()
	switch {
	case marked && mf == nil:
		bad(f, "list request field %q sets (ssot.ws.v1.field).filter but %s has no field %q to filter on", name, m.Name(), name)
		return nil, false
	case marked, mf != nil && (mf == m.Owner || isScope(m, mf)):
		return mf, false
	}
	return nil, false
}

func isScope(m *Model, f *protogen.Field) bool {
	for _, s := range m.Scopes {
		if s.Field == f {
			return true
		}
	}
	return false
}

// plainString returns msg's singular string field name outside a oneof,
// or nil: a filter, order_by or etag of another shape is not AIP's, and is
// left to the user.
func plainString(msg *protogen.Message, name string) *protogen.Field {
	f := fieldByName(msg, name)
	if f == nil || f.Desc.Kind() != protoreflect.StringKind || f.Desc.IsList() || inRealOneof(f) {
		return nil
	}
	return f
}

// stringField returns msg's singular string field name, or nil; a field of
// that name of another type is a problem, reported through bad.
func stringField(msg *protogen.Message, name, what string, bad func(*protogen.Field, string, ...any)) *protogen.Field {
	f := fieldByName(msg, name)
	if f == nil {
		return nil
	}
	if f.Desc.Kind() != protoreflect.StringKind || f.Desc.IsList() {
		bad(f, "%s field %q is %s; it must be a string field", what, name, describeType(f))
		return nil
	}
	return f
}
