package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The suite's records are opaque: a payload and a map of fields. A store
// that keeps each model in a table of its own ([RunTables]) stores real
// messages of a schema instead; tableFields are the fields of the suite's
// two models, test.v1.Alpha and test.v1.Beta, besides the key (id) and
// the payload.
var tableFields = []string{"title", "n", "x", "y", "i", "g", "room", "author", "pinned", "by"}

// Models returns the suite's models as a store that keeps each model in a
// table of its own sees them: test.v1.Alpha (scope room, owner author)
// and test.v1.Beta, every field a string.
func Models() []*ssotws.Model {
	fields := []*descriptorpb.FieldDescriptorProto{
		{Name: proto.String("id"), Number: proto.Int32(1)},
		{Name: proto.String("payload"), Number: proto.Int32(2)},
	}
	for i, f := range tableFields {
		fields = append(fields, &descriptorpb.FieldDescriptorProto{Name: proto.String(f), Number: proto.Int32(int32(i + 3))})
	}
	for _, f := range fields {
		f.Type = descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
		f.Label = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
		f.JsonName = proto.String(f.GetName())
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("ssotws/storetest/test.proto"),
		Package: proto.String("test.v1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Alpha"), Field: fields},
			{Name: proto.String("Beta"), Field: fields},
		},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		panic(err)
	}
	msgs := fd.Messages()
	return []*ssotws.Model{
		protocol.MustModel(msgs.ByName("Alpha"), protocol.ModelConfig{Key: "id", Scopes: []string{"room"}, Owner: "author", Realtime: true}),
		protocol.MustModel(msgs.ByName("Beta"), protocol.ModelConfig{Key: "id", Realtime: true}),
	}
}

// RunTables runs the suite on a store that keeps each model in a table of
// its own, made by newStore for [Models]. Each record of the suite is
// stored as a message of its model: the key in id, the payload in
// payload, the fields in their fields; what the store returns is read
// back the same way. A table store holds only the fields its model
// declares, so the suite's cases on arbitrary field names are left out;
// and it refuses models it does not serve, so a List of one is taken as
// empty.
func RunTables(t *testing.T, newStore func(t *testing.T, models []*ssotws.Model) ssotws.Store) {
	t.Helper()
	models := Models()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newTableAdapter(newStore(t, models), models))
		})
	}
}

// Opaque wraps a store opened with [Models] so that it takes records as
// the suite writes them: opaque bytes (kept in the payload field) and a
// map of fields (those the models declare). Tests written against the
// single-table layout run on the tables through it.
func Opaque(s ssotws.Store) ssotws.Store { return newTableAdapter(s, Models()) }

// tableAdapter turns the suite's opaque records into messages of Models
// and back.
type tableAdapter struct {
	s      ssotws.Store
	models map[string]*ssotws.Model
}

func newTableAdapter(s ssotws.Store, models []*ssotws.Model) *tableAdapter {
	a := &tableAdapter{s: s, models: map[string]*ssotws.Model{}}
	for _, m := range models {
		a.models[m.FullName()] = m
	}
	return a
}

func (a *tableAdapter) encode(m *ssotws.Model, key string, payload []byte, fields map[string]string) ([]byte, map[string]string, error) {
	msg := dynamicpb.NewMessage(m.Descriptor())
	fs := m.Descriptor().Fields()
	msg.Set(fs.ByName("id"), protoreflect.ValueOfString(key))
	msg.Set(fs.ByName("payload"), protoreflect.ValueOfString(string(payload)))
	for name, v := range fields {
		fd := fs.ByName(protoreflect.Name(name))
		if fd == nil {
			continue // not in the schema: a table cannot hold it
		}
		msg.Set(fd, protoreflect.ValueOfString(v))
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	return data, m.FieldValues(msg), err
}

func (a *tableAdapter) decode(m *ssotws.Model, rec *ssotws.Record) (*ssotws.Record, error) {
	if rec == nil {
		return nil, nil
	}
	msg := dynamicpb.NewMessage(m.Descriptor())
	if err := proto.Unmarshal(rec.Data, msg); err != nil {
		return nil, fmt.Errorf("stored %q: %w", rec.Key, err)
	}
	out := *rec
	out.Data = []byte(msg.Get(m.Descriptor().Fields().ByName("payload")).String())
	if rec.Fields != nil {
		out.Fields = map[string]string{}
		for k, v := range rec.Fields {
			if v != "" && k != "id" && k != "payload" {
				out.Fields[k] = v
			}
		}
	}
	return &out, nil
}

func (a *tableAdapter) Get(ctx context.Context, model, key string) (*ssotws.Record, error) {
	m, ok := a.models[model]
	if !ok {
		return nil, ssotws.ErrNotFound
	}
	rec, err := a.s.Get(ctx, model, key)
	if err != nil {
		return nil, err
	}
	return a.decode(m, rec)
}

func (a *tableAdapter) List(ctx context.Context, q ssotws.Query) (*ssotws.Page, error) {
	m, ok := a.models[q.Model]
	if !ok {
		if _, err := ssotws.ParsePageToken(q.PageToken); err != nil {
			return nil, err
		}
		return &ssotws.Page{}, nil
	}
	p, err := a.s.List(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &ssotws.Page{NextPageToken: p.NextPageToken}
	for _, r := range p.Records {
		d, err := a.decode(m, r)
		if err != nil {
			return nil, err
		}
		out.Records = append(out.Records, d)
	}
	return out, nil
}

func (a *tableAdapter) Apply(ctx context.Context, w *ssotws.Write) (*ssotws.WriteResult, error) {
	enc, err := a.encodeWrite(w)
	if err != nil {
		return nil, err
	}
	res, err := a.s.Apply(ctx, enc)
	if err != nil {
		return nil, err
	}
	return a.decodeResult(w.Model, res)
}

func (a *tableAdapter) ApplyBatch(ctx context.Context, ws []*ssotws.Write) ([]*ssotws.WriteResult, error) {
	encs := make([]*ssotws.Write, len(ws))
	for i, w := range ws {
		var err error
		if encs[i], err = a.encodeWrite(w); err != nil {
			return nil, err
		}
	}
	res, err := a.s.ApplyBatch(ctx, encs)
	if err != nil {
		return nil, err
	}
	out := make([]*ssotws.WriteResult, len(res))
	for i, r := range res {
		if out[i], err = a.decodeResult(ws[i].Model, r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// encodeWrite turns a write of the suite's opaque records into one of
// messages of its model (a model the store does not serve is left as it is).
func (a *tableAdapter) encodeWrite(w *ssotws.Write) (*ssotws.Write, error) {
	m, ok := a.models[w.Model]
	if !ok {
		return w, nil
	}
	enc := *w
	if w.Kind != ssotws.WriteDelete || w.Data != nil {
		var err error
		if enc.Data, enc.Fields, err = a.encode(m, w.Key, w.Data, w.Fields); err != nil {
			return nil, err
		}
	}
	return &enc, nil
}

// decodeResult turns a result of the store back into opaque records.
func (a *tableAdapter) decodeResult(model string, res *ssotws.WriteResult) (*ssotws.WriteResult, error) {
	m, ok := a.models[model]
	if !ok {
		return res, nil
	}
	out := *res
	var err error
	if out.Record, err = a.decode(m, res.Record); err != nil {
		return nil, err
	}
	if out.Previous, err = a.decode(m, res.Previous); err != nil {
		return nil, err
	}
	return &out, nil
}

func (a *tableAdapter) NextSequence(ctx context.Context, model string) (int64, error) {
	return a.s.NextSequence(ctx, model)
}

// arbitraryFields reports whether s stores fields of any name.
func arbitraryFields(s ssotws.Store) bool {
	_, tables := s.(*tableAdapter)
	return !tables
}
