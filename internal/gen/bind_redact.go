package gen

import (
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
)

// Field-level redaction: (ssot.ws.v1.field).read on a model field says
// who may see it (the runtime reads the option from the model's
// descriptor, so the generated code carries nothing for it). Binding
// checks the declaration: OWNER needs the model's owner field, and the
// fields that name a record or its channels (the key, the owner, the
// scopes, the version) cannot be redacted.

// fieldRead returns the read option of field f, ACCESS_UNSPECIFIED when
// it has none.
func fieldRead(f *protogen.Field) wsv1.Access {
	opts := f.Desc.Options()
	if opts == nil || !proto.HasExtension(opts, wsv1.E_Field) {
		return wsv1.Access_ACCESS_UNSPECIFIED
	}
	return proto.GetExtension(opts, wsv1.E_Field).(*wsv1.FieldOptions).GetRead()
}

// checkRedaction reports the malformed read options of m's fields.
// ownerDeclared says that the model option names an owner (even one that
// is malformed, which is reported already).
func (b *binder) checkRedaction(m *Model, ownerDeclared bool) {
	for _, f := range m.Message.Fields {
		a := fieldRead(f)
		if a == wsv1.Access_ACCESS_UNSPECIFIED || a == wsv1.Access_PUBLIC {
			continue
		}
		var role string
		switch {
		case f == m.Key:
			role = "the key"
		case f == m.Owner:
			role = "the owner field"
		case f == m.Version:
			role = "the version field"
		}
		for _, s := range m.Scopes {
			if s.Field == f {
				role = "a scope"
			}
		}
		switch {
		case role != "":
			b.probs.addf(f.Desc, "field read: %s is %s of %s, which names records and channels; it cannot be redacted", f.Desc.Name(), role, m.Name())
		case a == wsv1.Access_OWNER && !ownerDeclared:
			b.probs.addf(f.Desc, "field read: OWNER needs an owner field on %s; set owner in its model option to the string field holding the owner's identity", m.Name())
		case a != wsv1.Access_AUTHENTICATED && a != wsv1.Access_OWNER:
			b.probs.addf(f.Desc, "field read: unknown access %d; use PUBLIC, AUTHENTICATED or OWNER", a)
		}
	}
}
