package sqlschema

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TimeLayout is how SQLite columns hold timestamps: RFC 3339 in UTC with
// nine fractional digits, so that text order is time order and SQLite's
// date functions read them.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// NewMessage returns an empty message of the table's model: of its
// generated type when one is linked in, else a dynamic message.
func (t *Table) NewMessage() protoreflect.Message {
	desc := t.model.Descriptor()
	if mt, err := protoregistryFind(desc.FullName()); err == nil && mt.Descriptor() == desc {
		return mt.New()
	}
	return dynamicpb.NewMessage(desc)
}

// Unmarshal decodes a record's data (the model's protobuf encoding).
func (t *Table) Unmarshal(data []byte) (protoreflect.Message, error) {
	m := t.NewMessage()
	if err := proto.Unmarshal(data, m.Interface()); err != nil {
		return nil, fmt.Errorf("sqlschema: %s: %w", t.Model, err)
	}
	return m, nil
}

// Marshal is the record data of msg: its deterministic protobuf encoding.
func Marshal(msg protoreflect.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(msg.Interface())
}

// Values returns the arguments that store msg in t's field columns, in
// the order of t.Columns.
func (t *Table) Values(msg protoreflect.Message) ([]any, error) {
	out := make([]any, len(t.Columns))
	for i, c := range t.Columns {
		v, err := t.value(c, msg)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (t *Table) value(c *Column, msg protoreflect.Message) (any, error) {
	fd := c.Field
	if c.Encoding == EncJSON {
		if !fd.IsList() && !fd.IsMap() && !msg.Has(fd) {
			return nil, nil
		}
		s, err := fieldJSON(msg, fd)
		if err != nil {
			return nil, fmt.Errorf("sqlschema: %s: %w", fd.FullName(), err)
		}
		return s, nil
	}
	if c.Nullable && !msg.Has(fd) {
		return nil, nil
	}
	return t.Arg(c, msg.Get(fd)), nil
}

// Arg is the argument that stores or compares v, a value of c's field.
func (t *Table) Arg(c *Column, v protoreflect.Value) any {
	pg := t.Dialect == Postgres
	switch c.Encoding {
	case EncString:
		return v.String()
	case EncBool:
		if pg {
			return v.Bool()
		}
		if v.Bool() {
			return int64(1)
		}
		return int64(0)
	case EncInt:
		if c.Field.Kind() == protoreflect.EnumKind {
			return int64(v.Enum())
		}
		return v.Int()
	case EncUint:
		return int64(v.Uint())
	case EncUint64:
		if pg {
			return strconv.FormatUint(v.Uint(), 10)
		}
		return int64(v.Uint())
	case EncFloat:
		return v.Float()
	case EncBytes:
		if b := v.Bytes(); b != nil {
			return b
		}
		return []byte{}
	case EncTimestamp:
		ts := v.Message().Interface()
		var tm time.Time
		if x, ok := ts.(*timestamppb.Timestamp); ok {
			tm = x.AsTime()
		} else {
			fs := v.Message().Descriptor().Fields()
			tm = time.Unix(v.Message().Get(fs.ByName("seconds")).Int(), v.Message().Get(fs.ByName("nanos")).Int()).UTC()
		}
		if pg {
			return tm
		}
		return tm.UTC().Format(TimeLayout)
	}
	return nil
}

// KeyArg is the argument that finds the row of the record whose key is
// key (its canonical text form).
func (t *Table) KeyArg(key string) (any, error) {
	v, err := protocol.ParseValue(t.Key.Field, key)
	if err != nil {
		return nil, fmt.Errorf("sqlschema: %s: key %q: %w", t.Model, key, err)
	}
	return t.Arg(t.Key, v), nil
}

// fieldJSON is the compact protojson form of msg's field fd.
func fieldJSON(msg protoreflect.Message, fd protoreflect.FieldDescriptor) (string, error) {
	one := msg.Type().New()
	one.Set(fd, msg.Get(fd))
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: fd.IsList() || fd.IsMap()}.Marshal(one.Interface())
	if err != nil {
		return "", err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return "", err
	}
	raw, ok := obj[string(fd.Name())]
	if !ok {
		if fd.IsList() {
			return "[]", nil
		}
		if fd.IsMap() {
			return "{}", nil
		}
		return "null", nil
	}
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return "", err
	}
	return out.String(), nil
}

// Decode reads the JSON image of a row (from a change-log row, a tombstone
// or [Table.SelectImage]) into a message of the model. Columns the model
// does not declare are ignored; the version is not set (the caller knows
// it).
func (t *Table) Decode(image []byte) (protoreflect.Message, error) {
	dec := json.NewDecoder(bytes.NewReader(image))
	dec.UseNumber()
	var row map[string]any
	if err := dec.Decode(&row); err != nil {
		return nil, fmt.Errorf("sqlschema: %s: row image: %w", t.Model, err)
	}
	msg := t.NewMessage()
	for _, c := range t.Columns {
		raw, ok := row[c.Name]
		if !ok || raw == nil {
			continue
		}
		if err := t.set(msg, c, raw); err != nil {
			return nil, fmt.Errorf("sqlschema: %s column %s: %w", t.Name, c.Name, err)
		}
	}
	return msg, nil
}

func (t *Table) set(msg protoreflect.Message, c *Column, raw any) error {
	fd := c.Field
	if c.Encoding == EncJSON {
		var text []byte
		if s, ok := raw.(string); ok && t.Dialect == SQLite {
			text = []byte(s)
		} else {
			b, err := json.Marshal(raw)
			if err != nil {
				return err
			}
			text = b
		}
		obj := append(append([]byte(`{`+strconv.Quote(string(fd.Name()))+`:`), text...), '}')
		one := msg.Type().New()
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(obj, one.Interface()); err != nil {
			return err
		}
		if one.Has(fd) {
			msg.Set(fd, one.Get(fd))
		}
		return nil
	}
	switch c.Encoding {
	case EncString:
		s, ok := raw.(string)
		if !ok {
			s = fmt.Sprint(raw)
		}
		msg.Set(fd, protoreflect.ValueOfString(s))
	case EncBool:
		switch x := raw.(type) {
		case bool:
			msg.Set(fd, protoreflect.ValueOfBool(x))
		case json.Number:
			msg.Set(fd, protoreflect.ValueOfBool(x.String() != "0"))
		default:
			return fmt.Errorf("not a boolean: %v", raw)
		}
	case EncInt, EncUint, EncUint64:
		n, err := number(raw)
		if err != nil {
			return err
		}
		v, err := intValue(fd, n)
		if err != nil {
			return err
		}
		msg.Set(fd, v)
	case EncFloat:
		var f float64
		switch x := raw.(type) {
		case json.Number:
			var err error
			if f, err = x.Float64(); err != nil {
				return err
			}
		case string: // PostgreSQL's NaN and infinities
			switch x {
			case "NaN":
				f = math.NaN()
			case "Infinity":
				f = math.Inf(1)
			case "-Infinity":
				f = math.Inf(-1)
			default:
				return fmt.Errorf("not a number: %q", x)
			}
		default:
			return fmt.Errorf("not a number: %v", raw)
		}
		if fd.Kind() == protoreflect.FloatKind {
			msg.Set(fd, protoreflect.ValueOfFloat32(float32(f)))
		} else {
			msg.Set(fd, protoreflect.ValueOfFloat64(f))
		}
	case EncBytes:
		s, ok := raw.(string)
		if !ok {
			return fmt.Errorf("not bytes: %v", raw)
		}
		var (
			b   []byte
			err error
		)
		if t.Dialect == Postgres {
			b, err = hex.DecodeString(strings.TrimPrefix(s, `\x`))
		} else {
			b, err = hex.DecodeString(s)
		}
		if err != nil {
			return err
		}
		msg.Set(fd, protoreflect.ValueOfBytes(b))
	case EncTimestamp:
		tm, err := parseTime(raw)
		if err != nil {
			return err
		}
		ts := msg.NewField(fd).Message()
		fs := ts.Descriptor().Fields()
		ts.Set(fs.ByName("seconds"), protoreflect.ValueOfInt64(tm.Unix()))
		ts.Set(fs.ByName("nanos"), protoreflect.ValueOfInt32(int32(tm.Nanosecond())))
		msg.Set(fd, protoreflect.ValueOfMessage(ts))
	}
	return nil
}

// number reads an integer that SQLite or PostgreSQL wrote (a JSON number;
// a string for text that a writer put in an integer column).
func number(raw any) (string, error) {
	switch x := raw.(type) {
	case json.Number:
		return x.String(), nil
	case string:
		return x, nil
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	}
	return "", fmt.Errorf("not an integer: %v", raw)
}

func intValue(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if strings.HasPrefix(s, "-") { // SQLite: two's complement
			n, err := strconv.ParseInt(s, 10, 64)
			return protoreflect.ValueOfUint64(uint64(n)), err
		}
	case protoreflect.EnumKind:
		n, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), err
	}
	return protocol.ParseValue(fd, s)
}

// parseTime reads a timestamp as SQLite (RFC 3339, or SQLite's
// "YYYY-MM-DD HH:MM:SS[.fff]" that a shell writer may use, or Unix
// seconds) or PostgreSQL (RFC 3339 with an offset) wrote it.
func parseTime(raw any) (time.Time, error) {
	switch x := raw.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return time.Time{}, err
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
			if tm, err := time.Parse(layout, x); err == nil {
				return tm.UTC(), nil
			}
		}
		return time.Time{}, fmt.Errorf("not a timestamp: %q", x)
	}
	return time.Time{}, fmt.Errorf("not a timestamp: %v", raw)
}

// Image is the JSON image of msg as a row of t, in the form the table's
// triggers write (and [Table.Decode] reads), with key as the key column.
func (t *Table) Image(msg protoreflect.Message, key string) ([]byte, error) {
	vals, err := t.Values(msg)
	if err != nil {
		return nil, err
	}
	if vals[t.keyIndex()], err = t.KeyArg(key); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(c.Name)
		b.Write(name)
		b.WriteByte(':')
		var v any = vals[i]
		switch x := v.(type) {
		case []byte:
			if t.Dialect == Postgres {
				v = `\x` + hex.EncodeToString(x)
			} else {
				v = strings.ToUpper(hex.EncodeToString(x))
			}
		case time.Time:
			v = x.UTC().Format(time.RFC3339Nano)
		case string:
			if c.Encoding == EncJSON && t.Dialect == Postgres {
				b.WriteString(x)
				continue
			}
			if c.Encoding == EncUint64 {
				b.WriteString(x)
				continue
			}
		}
		enc, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (t *Table) keyIndex() int {
	for i, c := range t.Columns {
		if c == t.Key {
			return i
		}
	}
	return -1
}

// KeyIndex is the index of the key column in t.Columns (and in the
// arguments of [Table.Values]).
func (t *Table) KeyIndex() int { return t.keyIndex() }
