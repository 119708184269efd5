package protocol

import (
	"fmt"
	"strconv"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ModelConfig is what the ssot.ws.v1.model option declares. Generated code
// fills it in; the plugin has already validated it.
type ModelConfig struct {
	// Key names the key field. Empty means "id".
	Key string
	// Scopes name the fields that partition the model's list channels.
	Scopes []string
	// Owner names the string field holding the owner's identity, if any.
	Owner string
	// Realtime says whether mutations publish change events.
	Realtime bool
	// Read and Write say who may read and write records.
	Read, Write wsv1.Access
	// Presence and Signal are the declared types of the presence payload
	// and of the signals on the model's channels (the presence and signal
	// model options), or nil when the model leaves them bytes.
	Presence, Signal protoreflect.MessageType
	// Patterns are the resource name patterns of an AIP resource, from its
	// google.api.resource option ("shelves/{shelf}/books/{book}"). With
	// them, the key is the resource name: Create builds it from the
	// request's parent and id, and the parent a name derives is a scope
	// of its own, "parent" (see [Model.ParentOf]).
	Patterns []string
	// Filters name the fields besides the scopes and the owner that the
	// model's List requests filter on by equality; the SQL stores index
	// them as they index the scopes and the owner.
	Filters []string
}

// Model describes one model to the runtime. It is immutable and safe for
// concurrent use.
type Model struct {
	desc     protoreflect.MessageDescriptor
	name     string
	key      protoreflect.FieldDescriptor
	scopes   []protoreflect.FieldDescriptor
	owner    protoreflect.FieldDescriptor
	filters  []protoreflect.FieldDescriptor
	version  protoreflect.FieldDescriptor
	etag     protoreflect.FieldDescriptor
	patterns []string
	realtime bool
	read     wsv1.Access
	write    wsv1.Access
	presence protoreflect.MessageType
	signal   protoreflect.MessageType
}

// NewModel describes the message desc as a model. It checks cfg against the
// descriptor and returns an error naming the first problem.
func NewModel(desc protoreflect.MessageDescriptor, cfg ModelConfig) (*Model, error) {
	m := &Model{
		desc:     desc,
		name:     string(desc.Name()),
		realtime: cfg.Realtime,
		read:     cfg.Read,
		write:    cfg.Write,
		presence: cfg.Presence,
		signal:   cfg.Signal,
	}
	keyName := cfg.Key
	if keyName == "" {
		keyName = "id"
	}
	fields := desc.Fields()
	m.key = fields.ByName(protoreflect.Name(keyName))
	if m.key == nil {
		return nil, fmt.Errorf("ssotws: %s: key field %q does not exist", desc.FullName(), keyName)
	}
	if !isKeyKind(m.key) {
		return nil, fmt.Errorf("ssotws: %s: key field %q must be a string or integer", desc.FullName(), keyName)
	}
	for _, s := range cfg.Scopes {
		fd := fields.ByName(protoreflect.Name(s))
		if fd == nil || !isScalar(fd) {
			return nil, fmt.Errorf("ssotws: %s: scope %q is not a scalar field", desc.FullName(), s)
		}
		m.scopes = append(m.scopes, fd)
	}
	if cfg.Owner != "" {
		m.owner = fields.ByName(protoreflect.Name(cfg.Owner))
		if m.owner == nil || m.owner.Kind() != protoreflect.StringKind || m.owner.IsList() {
			return nil, fmt.Errorf("ssotws: %s: owner %q is not a string field", desc.FullName(), cfg.Owner)
		}
	}
	for _, f := range cfg.Filters {
		fd := fields.ByName(protoreflect.Name(f))
		if fd == nil || !isScalar(fd) {
			return nil, fmt.Errorf("ssotws: %s: filter %q is not a scalar field", desc.FullName(), f)
		}
		m.filters = append(m.filters, fd)
	}
	if v := fields.ByName("version"); v != nil && !v.IsList() {
		switch v.Kind() {
		case protoreflect.Int64Kind, protoreflect.Uint64Kind, protoreflect.Sint64Kind,
			protoreflect.Sfixed64Kind, protoreflect.Fixed64Kind:
			m.version = v
		}
	}
	if e := fields.ByName("etag"); e != nil && e.Kind() == protoreflect.StringKind && !e.IsList() {
		m.etag = e
	}
	if err := m.setPatterns(cfg.Patterns); err != nil {
		return nil, fmt.Errorf("ssotws: %s: %w", desc.FullName(), err)
	}
	return m, nil
}

// MustModel is like [NewModel] but panics on error. Generated code uses it
// for declarations the plugin has already checked.
func MustModel(desc protoreflect.MessageDescriptor, cfg ModelConfig) *Model {
	m, err := NewModel(desc, cfg)
	if err != nil {
		panic(err)
	}
	return m
}

// Name is the model's channel prefix, the message's short name ("Message").
func (m *Model) Name() string { return m.name }

// FullName is the message's full protobuf name ("chat.v1.Message"). Stores
// use it to keep models apart.
func (m *Model) FullName() string { return string(m.desc.FullName()) }

// Descriptor returns the message descriptor.
func (m *Model) Descriptor() protoreflect.MessageDescriptor { return m.desc }

// KeyField returns the key field.
func (m *Model) KeyField() protoreflect.FieldDescriptor { return m.key }

// ScopeFields returns the scope fields, in declaration order.
func (m *Model) ScopeFields() []protoreflect.FieldDescriptor { return m.scopes }

// OwnerField returns the owner field, or nil.
func (m *Model) OwnerField() protoreflect.FieldDescriptor { return m.owner }

// FilterFields returns the fields the model's List requests filter on
// ([ModelConfig.Filters]).
func (m *Model) FilterFields() []protoreflect.FieldDescriptor { return m.filters }

// VersionField returns the model's version field, or nil.
func (m *Model) VersionField() protoreflect.FieldDescriptor { return m.version }

// Realtime reports whether the model publishes change events.
func (m *Model) Realtime() bool { return m.realtime }

// ReadAccess says who may read the model. Unspecified reads as PUBLIC.
func (m *Model) ReadAccess() wsv1.Access { return orPublic(m.read) }

// WriteAccess says who may write the model. Unspecified reads as PUBLIC.
func (m *Model) WriteAccess() wsv1.Access { return orPublic(m.write) }

// PresenceType is the declared type of a presence payload on the model's
// channels, or nil when payloads are bytes.
func (m *Model) PresenceType() protoreflect.MessageType { return m.presence }

// SignalType is the declared type of the signals on the model's channels,
// or nil when signals carry bytes.
func (m *Model) SignalType() protoreflect.MessageType { return m.signal }

func orPublic(a wsv1.Access) wsv1.Access {
	if a == wsv1.Access_ACCESS_UNSPECIFIED {
		return wsv1.Access_PUBLIC
	}
	return a
}

// KeyOf returns the canonical text form of msg's key.
func (m *Model) KeyOf(msg protoreflect.Message) string {
	return FormatValue(m.key, msg.Get(m.key))
}

// OwnerOf returns msg's owner, or "" when the model has no owner field.
func (m *Model) OwnerOf(msg protoreflect.Message) string {
	if m.owner == nil {
		return ""
	}
	return msg.Get(m.owner).String()
}

// Channels returns the channels a record's change is published on: the
// model channel, the item channel and one channel per scope.
func (m *Model) Channels(msg protoreflect.Message) []string {
	chans := make([]string, 0, 2+len(m.scopes))
	key := m.KeyOf(msg)
	chans = append(chans, ModelChannel(m.name), ItemChannel(m.name, key))
	for _, s := range m.scopes {
		chans = append(chans, ScopeChannel(m.name, string(s.Name()), FormatValue(s, msg.Get(s))))
	}
	if parent := m.ParentOf(key); parent != "" {
		chans = append(chans, ScopeChannel(m.name, ParentScope, parent))
	}
	return chans
}

// FieldValues returns the text form ([FormatValue]) of every top-level
// scalar field of msg: what a store indexes for equality filters, and what
// a scope channel's value is compared with.
func (m *Model) FieldValues(msg protoreflect.Message) map[string]string {
	out := make(map[string]string)
	fields := m.desc.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if !isScalar(fd) {
			continue
		}
		out[string(fd.Name())] = FormatValue(fd, msg.Get(fd))
	}
	if m.HasParent() {
		out[ParentScope] = m.ParentOf(m.KeyOf(msg))
	}
	return out
}

func isKeyKind(fd protoreflect.FieldDescriptor) bool {
	if fd.IsList() || fd.IsMap() {
		return false
	}
	switch fd.Kind() {
	case protoreflect.StringKind,
		protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

func isScalar(fd protoreflect.FieldDescriptor) bool {
	if fd.IsList() || fd.IsMap() {
		return false
	}
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind, protoreflect.BytesKind,
		protoreflect.FloatKind, protoreflect.DoubleKind:
		return false
	}
	return true
}

// FormatValue gives the canonical text form of a scalar field's value:
// strings as they are, integers and enum numbers in decimal, bools as
// true/false. Channel names, filters and stores carry values in this form;
// [ParseValue] is its inverse.
func FormatValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BoolKind:
		return strconv.FormatBool(v.Bool())
	case protoreflect.EnumKind:
		return strconv.FormatInt(int64(v.Enum()), 10)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return strconv.FormatInt(v.Int(), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.FormatUint(v.Uint(), 10)
	}
	return v.String()
}

// ParseValue parses the canonical text form of a scalar field's value (a
// key, or a filter value): strings as they are, integers and enum numbers
// in decimal, bools as true/false. It is the inverse of [FormatValue].
func ParseValue(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		return protoreflect.ValueOfBool(b), err
	case protoreflect.EnumKind:
		n, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), err
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfInt32(int32(n)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		return protoreflect.ValueOfInt64(n), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		return protoreflect.ValueOfUint32(uint32(n)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		return protoreflect.ValueOfUint64(n), err
	}
	return protoreflect.Value{}, fmt.Errorf("ssotws: field %s of kind %s has no text form", fd.FullName(), fd.Kind())
}
