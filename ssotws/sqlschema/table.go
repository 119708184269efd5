// Package sqlschema derives SQL tables from ssot-ws models: one table per
// model, a column per top-level field with the engine's natural type, the
// key as primary key, a version column and indexes on the scope and owner
// fields and on the fields List requests filter on. The SQL stores (sqlitestore, pgstore) create and check their
// tables with it, and the plugin's migration command writes the same DDL
// into reviewable migration files, so what is reviewed is what runs.
//
// It also converts between a model's protobuf message and its row: the
// values a statement binds ([Table.Values]) and the JSON image of a row
// that triggers write to the change log and stores read back
// ([Table.Decode]).
package sqlschema

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Dialect is a SQL engine.
type Dialect string

// The dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ParseDialect reads a dialect name.
func ParseDialect(s string) (Dialect, error) {
	switch Dialect(s) {
	case SQLite, Postgres:
		return Dialect(s), nil
	}
	return "", fmt.Errorf("sqlschema: unknown dialect %q (want sqlite or postgres)", s)
}

// Names of the bookkeeping columns every model table has besides its
// fields.
const (
	// SeqColumn orders the model's records by creation: a create takes the
	// model's next number (a trigger assigns it), a re-create a new one.
	SeqColumn = "ssotws_seq"
	// VersionColumn is the record's version, unless a field that is not
	// the model's version field is called "version" (then
	// [AltVersionColumn]). A model whose version field is "version" keeps
	// it in this column.
	VersionColumn    = "version"
	AltVersionColumn = "ssotws_version"
)

// Encoding is how a column holds its field's values.
type Encoding int

// The encodings.
const (
	EncString    Encoding = iota + 1
	EncBool               // SQLite INTEGER 0/1, PostgreSQL boolean
	EncInt                // signed integers and enum numbers
	EncUint               // uint32/fixed32
	EncUint64             // uint64/fixed64: PostgreSQL numeric(20), SQLite INTEGER (two's complement above 2^63-1)
	EncFloat              // float and double
	EncBytes              // BLOB / bytea
	EncTimestamp          // google.protobuf.Timestamp: SQLite TEXT (RFC 3339, UTC), PostgreSQL timestamptz
	EncJSON               // messages, repeated and map fields: their protojson form
)

// Column is one column of a model table.
type Column struct {
	Name string
	// Field is the model field the column holds.
	Field protoreflect.FieldDescriptor
	// Type is the column's SQL type in the table's dialect.
	Type     string
	Encoding Encoding
	// Nullable: the field has explicit presence (or is a message), and
	// NULL is its absence.
	Nullable bool
	// Default is the SQL default of a NOT NULL column (the field's zero
	// value), empty for the key and nullable columns.
	Default string
}

// Index is a secondary index of a model table.
type Index struct {
	Name    string
	Columns []string
	// Collate, when set, is the collation of the index's columns: "C" on
	// PostgreSQL for the key of an AIP resource, whose Lists by parent
	// read a range of names in byte order.
	Collate string `json:",omitempty"`
}

// Table is the table of one model in one dialect.
type Table struct {
	Dialect Dialect
	// Model is the model's full protobuf name, the name stores and change
	// log rows use.
	Model string
	Name  string
	// Key is the primary key column (also in Columns).
	Key *Column
	// Columns are the field columns in field declaration order (the model's
	// version field is the Version column, not one of these).
	Columns []*Column
	// Version names the version column.
	Version string
	Indexes []Index
	// Existing is set when the model's table option names the table: a
	// table the team may already have, which migrations adopt rather than
	// create (see [Table.AdoptTable]).
	Existing bool

	model *protocol.Model
}

// ModelOf returns the model the table was derived from.
func (t *Table) ModelOf() *protocol.Model { return t.model }

// Column returns the column of the field named name, or nil.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if string(c.Field.Name()) == name {
			return c
		}
	}
	return nil
}

// columnNamed returns the column called name in SQL, or nil.
func (t *Table) columnNamed(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// NewTable derives the table of m in dialect d. The model option table
// and the field option column (ssot.ws.v1.field) name the table and the
// columns when the defaults (the model's snake_case plural, the field's
// name) do not fit, for example a table the team already has.
func NewTable(m *protocol.Model, d Dialect) (*Table, error) {
	if _, err := ParseDialect(string(d)); err != nil {
		return nil, err
	}
	t := &Table{Dialect: d, Model: m.FullName(), Name: TableName(m.Name()), Version: VersionColumn, model: m}
	if name := tableOption(m.Descriptor()); name != "" {
		t.Name, t.Existing = name, true
	}
	fields := m.Descriptor().Fields()
	vf := m.VersionField()
	if vf != nil {
		if name := columnOption(vf); name != "" {
			t.Version = name
		}
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd == vf {
			continue
		}
		c := newColumn(fd, d)
		if name := columnOption(fd); name != "" {
			c.Name = name
		}
		if c.Name == t.Version && t.Version == VersionColumn {
			t.Version = AltVersionColumn
		}
		if c.Name == SeqColumn || c.Name == AltVersionColumn || c.Name == t.Version {
			return nil, fmt.Errorf("sqlschema: %s: field %q has column %q, the name of a bookkeeping column", m.FullName(), fd.Name(), c.Name)
		}
		if other := t.columnNamed(c.Name); other != nil {
			return nil, fmt.Errorf("sqlschema: %s: fields %q and %q both have column %q", m.FullName(), other.Field.Name(), fd.Name(), c.Name)
		}
		if fd == m.KeyField() {
			c.Nullable, c.Default = false, ""
			t.Key = c
		}
		t.Columns = append(t.Columns, c)
	}
	// Scope fields (List by a scope walks this index in creation order),
	// then the owner (an OWNER model's List filters by it), then the
	// fields List requests filter on.
	indexed := slices.Concat(m.ScopeFields(), m.FilterFields())
	if o := m.OwnerField(); o != nil {
		indexed = slices.Insert(indexed, len(m.ScopeFields()), o)
	}
	for _, fd := range indexed {
		c := t.Column(string(fd.Name()))
		if c == nil || c == t.Key || !filterable(c) || slices.ContainsFunc(t.Indexes, func(ix Index) bool { return ix.Columns[0] == c.Name }) {
			continue
		}
		t.Indexes = append(t.Indexes, Index{Name: t.Name + "_" + c.Name + "_idx", Columns: []string{c.Name, SeqColumn}})
	}
	if len(m.Patterns()) > 0 && d == Postgres {
		// A List by parent reads the range of the parent's names; the
		// primary key's index follows the database's collation, in which
		// a prefix need not be one range (parent.go).
		t.Indexes = append(t.Indexes, Index{Name: t.Name + "_" + t.Key.Name + "_c_idx", Columns: []string{t.Key.Name}, Collate: "C"})
	}
	return t, nil
}

// NewTables derives the tables of models, refusing two models that map to
// one table.
func NewTables(models []*protocol.Model, d Dialect) ([]*Table, error) {
	var out []*Table
	seen := map[string]string{}
	for _, m := range models {
		t, err := NewTable(m, d)
		if err != nil {
			return nil, err
		}
		if other, ok := seen[t.Name]; ok && other != t.Model {
			return nil, fmt.Errorf("sqlschema: models %s and %s both map to table %q (set the table option of one)", other, t.Model, t.Name)
		} else if ok {
			continue
		}
		seen[t.Name] = t.Model
		out = append(out, t)
	}
	return out, nil
}

func newColumn(fd protoreflect.FieldDescriptor, d Dialect) *Column {
	c := &Column{Name: string(fd.Name()), Field: fd}
	pg := d == Postgres
	pick := func(sqlite, postgres string) string {
		if pg {
			return postgres
		}
		return sqlite
	}
	switch {
	case fd.IsList():
		c.Encoding, c.Type, c.Default = EncJSON, pick("TEXT", "jsonb"), pick("'[]'", "'[]'::jsonb")
		return c
	case fd.IsMap():
		c.Encoding, c.Type, c.Default = EncJSON, pick("TEXT", "jsonb"), pick("'{}'", "'{}'::jsonb")
		return c
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		c.Encoding, c.Type, c.Default = EncString, pick("TEXT", "text"), "''"
	case protoreflect.BoolKind:
		c.Encoding, c.Type, c.Default = EncBool, pick("INTEGER", "boolean"), pick("0", "false")
	case protoreflect.EnumKind:
		c.Encoding, c.Type, c.Default = EncInt, pick("INTEGER", "integer"), "0"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		c.Encoding, c.Type, c.Default = EncInt, pick("INTEGER", "integer"), "0"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		c.Encoding, c.Type, c.Default = EncInt, pick("INTEGER", "bigint"), "0"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		c.Encoding, c.Type, c.Default = EncUint, pick("INTEGER", "bigint"), "0"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		c.Encoding, c.Type, c.Default = EncUint64, pick("INTEGER", "numeric(20,0)"), "0"
	case protoreflect.FloatKind:
		c.Encoding, c.Type, c.Default = EncFloat, pick("REAL", "real"), "0"
	case protoreflect.DoubleKind:
		c.Encoding, c.Type, c.Default = EncFloat, pick("REAL", "double precision"), "0"
	case protoreflect.BytesKind:
		c.Encoding, c.Type, c.Default = EncBytes, pick("BLOB", "bytea"), pick("X''", "''::bytea")
	case protoreflect.MessageKind, protoreflect.GroupKind:
		c.Nullable = true
		if fd.Message().FullName() == "google.protobuf.Timestamp" {
			c.Encoding, c.Type = EncTimestamp, pick("TEXT", "timestamptz")
		} else {
			c.Encoding, c.Type = EncJSON, pick("TEXT", "jsonb")
		}
		return c
	}
	if fd.HasPresence() {
		c.Nullable, c.Default = true, ""
	}
	return c
}

// TableName is the table of a model called name: its snake_case plural
// ("ChatMessage" → "chat_messages").
func TableName(name string) string {
	s := snake(name)
	switch {
	case strings.HasSuffix(s, "s"), strings.HasSuffix(s, "x"), strings.HasSuffix(s, "z"),
		strings.HasSuffix(s, "ch"), strings.HasSuffix(s, "sh"):
		return s + "es"
	case strings.HasSuffix(s, "y") && len(s) > 1 && !strings.ContainsRune("aeiou", rune(s[len(s)-2])):
		return s[:len(s)-1] + "ies"
	}
	return s + "s"
}

func snake(s string) string {
	var b strings.Builder
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			if i > 0 && !(s[i-1] >= 'A' && s[i-1] <= 'Z') {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// tableOption is the table the model option names, or "".
func tableOption(d protoreflect.MessageDescriptor) string {
	opts, _ := d.Options().(*descriptorpb.MessageOptions)
	if opts == nil || !proto.HasExtension(opts, wsv1.E_Model) {
		return ""
	}
	mo, _ := proto.GetExtension(opts, wsv1.E_Model).(*wsv1.ModelOptions)
	return mo.GetTable()
}

// columnOption is the column the field option names, or "".
func columnOption(fd protoreflect.FieldDescriptor) string {
	opts, _ := fd.Options().(*descriptorpb.FieldOptions)
	if opts == nil || !proto.HasExtension(opts, wsv1.E_Field) {
		return ""
	}
	fo, _ := proto.GetExtension(opts, wsv1.E_Field).(*wsv1.FieldOptions)
	return fo.GetColumn()
}
