package ssotws

import (
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// decode unmarshals a record and exposes its version.
func (r *Resource[T]) decode(rec *Record) (T, error) {
	msg := r.newT()
	if err := proto.Unmarshal(rec.Data, msg); err != nil {
		return msg, connect.NewError(connect.CodeInternal, fmt.Errorf("ssotws: stored %s %q: %w", r.model.FullName(), rec.Key, err))
	}
	if vf := r.model.VersionField(); vf != nil {
		msg.ProtoReflect().Set(vf, versionValue(vf, rec.Version))
	}
	if ef := r.model.EtagField(); ef != nil {
		msg.ProtoReflect().Set(ef, protoreflect.ValueOfString(FormatEtag(rec.Version)))
	}
	return msg, nil
}

// marshal encodes a record to store, within the record size bound. An
// etag is not stored: reads derive it from the version.
func (r *Resource[T]) marshal(m T) ([]byte, error) {
	if ef := r.model.EtagField(); ef != nil {
		m.ProtoReflect().Clear(ef)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, invalidArgument("%s: %v", r.model.FullName(), err)
	}
	if max := r.opts.maxRecordBytes; max > 0 && len(data) > max {
		return nil, invalidArgument("%s %q is %d bytes, over the limit of %d bytes per record", r.model.FullName(), r.model.KeyOf(m.ProtoReflect()), len(data), max)
	}
	return data, nil
}

func versionValue(fd protoreflect.FieldDescriptor, v int64) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(v))
	}
	return protoreflect.ValueOfInt64(v)
}

func versionFrom(fd protoreflect.FieldDescriptor, msg protoreflect.Message) int64 {
	if fd == nil {
		return 0
	}
	switch fd.Kind() {
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return int64(msg.Get(fd).Uint())
	}
	return msg.Get(fd).Int()
}
