package gen

import (
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Batch methods (AIP-233, AIP-234, AIP-235) are bound like the standard
// methods, by their names (BatchCreateBooks, BatchUpdateBooks,
// BatchDeleteBooks) or by a method option, when their shapes are the
// AIPs':
//
//   - BatchCreate<Ms>(Request{repeated Create<M>Request requests})
//     returns (Response{repeated <M> <ms>}), each item request carrying
//     the model and optionally its <model>_id;
//   - BatchUpdate<Ms>(Request{repeated Update<M>Request requests})
//     returns (Response{repeated <M> <ms>}), each item with the model and
//     its update_mask;
//   - BatchDelete<Ms>(Request{repeated string names} or {repeated
//     Delete<M>Request requests}) returns google.protobuf.Empty, a
//     message without fields, or Response{repeated <M> <ms>}.
//
// A parent field of the request is left to the user (the runtime does
// not check it).

// isBatch reports whether s is a batch method.
func (s Standard) isBatch() bool { return s == BatchCreate || s == BatchUpdate || s == BatchDelete }

// itemStandard is the standard method each item of batch method s is.
func (s Standard) itemStandard() Standard {
	return map[Standard]Standard{BatchCreate: Create, BatchUpdate: Update, BatchDelete: Delete}[s]
}

// batchShape checks the request and response of batch method bm.
func (b *binder) batchShape(meth *protogen.Method, m *Model, bm *Method, bad func(*protogen.Field, string, ...any)) {
	in, out := meth.Input, meth.Output
	std := bm.Standard
	aip := map[Standard]int{BatchCreate: 233, BatchUpdate: 234, BatchDelete: 235}[std]
	item := std.itemStandard()
	reported := false
	if req := fieldByName(in, "requests"); req != nil {
		if req.Message == nil || !req.Desc.IsList() || req.Desc.IsMap() {
			bad(req, "batch request field %q is %s; it must be a repeated %s request message (AIP-%d)", "requests", describeType(req), item, aip)
			reported = true
		} else {
			bm.Requests = req
			bm.Item = b.itemShape(req.Message, m, item, bad)
		}
	} else if std == BatchDelete {
		bm.Keys, reported = b.batchKeys(in, m, bad)
	}
	if bm.Requests == nil && bm.Keys == nil && !reported && (std != BatchDelete || m.Key != nil) {
		if std == BatchDelete {
			bad(nil, "batch delete request %s has neither repeated %s %s nor repeated Delete%sRequest requests (AIP-235)",
				in.Desc.FullName(), scalarName(m.Key), plural(string(m.Key.Desc.Name())), m.Name())
		} else {
			bad(nil, "batch %s request %s has no field requests; it must carry repeated %s%sRequest requests (AIP-%d)",
				lowerVerb(item), in.Desc.FullName(), item, m.Name(), aip)
		}
	}
	for _, f := range out.Fields {
		if f.Message == m.Message && f.Desc.IsList() && !f.Desc.IsMap() {
			bm.ResponseField = f
			break
		}
	}
	switch {
	case bm.ResponseField != nil:
		bm.Response = ResponseBatch
	case std == BatchDelete && (out.Desc.FullName() == emptyName || len(out.Fields) == 0):
		bm.Response = ResponseEmpty
	case std == BatchDelete:
		bad(nil, "batch delete response %s is neither empty nor a message with a repeated %s field", out.Desc.FullName(), m.FullName())
	default:
		bad(nil, "batch %s response %s has no repeated %s field (AIP-%d)", lowerVerb(item), out.Desc.FullName(), m.FullName(), aip)
	}
	for _, f := range []*protogen.Field{bm.Requests, bm.Keys, bm.ResponseField} {
		if f != nil && inRealOneof(f) {
			bad(f, "field %q of %s is in oneof %q; a field the batch method reads or writes cannot be a oneof member",
				f.Desc.Name(), f.Parent.Desc.FullName(), f.Oneof.Desc.Name())
		}
	}
}

// itemShape checks one item request of a batch: the request of the
// standard method item, as its shape says (the model and <model>_id of a
// Create, the model and update_mask of an Update, the key and version of
// a Delete).
func (b *binder) itemShape(msg *protogen.Message, m *Model, item Standard, bad func(*protogen.Field, string, ...any)) *Method {
	it := &Method{Model: m, Standard: item}
	switch item {
	case Create, Update:
		b.writeRequest(msg, m, item, it, bad)
	case Delete:
		it.KeyField = b.keyField(msg, "batch item", m, bad)
		if v := fieldByName(msg, "version"); v != nil {
			if !isIntegerField(v) {
				bad(v, "delete request field %q is %s; version must be an integer field", "version", describeType(v))
			} else {
				it.VersionField = v
			}
		}
	}
	for _, f := range []*protogen.Field{it.ModelField, it.IDField, it.MaskField, it.KeyField, it.VersionField} {
		if f != nil && inRealOneof(f) {
			bad(f, "field %q of %s is in oneof %q; a field the batch method reads cannot be a oneof member",
				f.Desc.Name(), f.Parent.Desc.FullName(), f.Oneof.Desc.Name())
		}
	}
	return it
}

// batchKeys finds the repeated key field of a BatchDelete request: the
// plural of the model's key field, "ids" or "names". It returns nil when
// there is none; reported says that one of those names is a field of
// another type, and was reported.
func (b *binder) batchKeys(in *protogen.Message, m *Model, bad func(*protogen.Field, string, ...any)) (_ *protogen.Field, reported bool) {
	if m.Key == nil {
		return nil, false // the model's problem is reported already
	}
	for _, name := range []string{plural(string(m.Key.Desc.Name())), "ids", "names"} {
		f := fieldByName(in, name)
		if f == nil {
			continue
		}
		if !f.Desc.IsList() || f.Desc.IsMap() || !keyKind(f.Desc.Kind(), m.Key) {
			bad(f, "batch delete request field %q is %s but the key of %s is %s; it must be repeated %s", name, describeType(f), m.Name(), describeType(m.Key), scalarName(m.Key))
			return nil, true
		}
		return f, false
	}
	return nil, false
}

// keyKind reports whether a field of kind k can carry key field key.
func keyKind(k protoreflect.Kind, key *protogen.Field) bool {
	if key.Desc.Kind() == protoreflect.StringKind {
		return k == protoreflect.StringKind
	}
	return isIntegerKind(k)
}

func lowerVerb(s Standard) string {
	return map[Standard]string{Create: "create", Update: "update", Delete: "delete"}[s]
}
