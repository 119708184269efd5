package sqlschema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Snapshot is the schema as of the last migration, kept beside the
// migration files (schema.json) so that the next migration is the
// difference from it. Field numbers are kept so that a renumbered field,
// which changes nothing in SQL but everything on the wire, is caught.
type Snapshot struct {
	Dialect Dialect         `json:"dialect"`
	Tables  []SnapshotTable `json:"tables"`
}

// SnapshotTable is one table of a [Snapshot].
type SnapshotTable struct {
	Model   string           `json:"model"`
	Name    string           `json:"name"`
	Key     string           `json:"key"`
	Version string           `json:"version"`
	Columns []SnapshotColumn `json:"columns"`
	Indexes []Index          `json:"indexes,omitempty"`
}

// SnapshotColumn is one column of a [SnapshotTable].
type SnapshotColumn struct {
	Name     string `json:"name"`
	Number   int32  `json:"number"`
	Type     string `json:"type"`
	Nullable bool   `json:"nullable,omitempty"`
}

// SnapshotOf is the snapshot of tables.
func SnapshotOf(d Dialect, tables []*Table) *Snapshot {
	s := &Snapshot{Dialect: d, Tables: []SnapshotTable{}}
	for _, t := range tables {
		st := SnapshotTable{Model: t.Model, Name: t.Name, Key: t.Key.Name, Version: t.Version, Indexes: t.Indexes}
		for _, c := range t.Columns {
			st.Columns = append(st.Columns, SnapshotColumn{Name: c.Name, Number: int32(c.Field.Number()), Type: c.Type, Nullable: c.Nullable})
		}
		s.Tables = append(s.Tables, st)
	}
	return s
}

// MarshalSnapshot is the committed form of s: indented JSON.
func MarshalSnapshot(s *Snapshot) ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	return append(b, '\n'), err
}

// UnmarshalSnapshot reads a snapshot written by [MarshalSnapshot].
func UnmarshalSnapshot(b []byte) (*Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("sqlschema: schema snapshot: %w", err)
	}
	return &s, nil
}

// DestructiveError lists the changes of a schema that a migration must
// not make silently: a removed, renumbered or retyped field, a removed
// model, another key. Each problem reads "file:line:col: message" when the
// descriptor carries its source position.
type DestructiveError struct {
	Problems []string
}

func (e *DestructiveError) Error() string {
	return strings.Join(e.Problems, "\n")
}

// Position is "file:line:col" of d in its .proto file, or the file's
// path when the descriptor has no source information.
func Position(d protoreflect.Descriptor) string {
	f := d.ParentFile()
	if f == nil {
		return string(d.FullName())
	}
	loc := f.SourceLocations().ByDescriptor(d)
	if loc.Path == nil {
		return f.Path()
	}
	return fmt.Sprintf("%s:%d:%d", f.Path(), loc.StartLine+1, loc.StartColumn+1)
}

// Migration is the DDL that brings a database at prev (nil: an empty
// database) to tables, and a short name for its file ("init",
// "add_messages_pinned"). It is empty when nothing changed. Additive
// changes only: a new model, field or scope. Anything else is a
// [*DestructiveError], and no DDL.
func Migration(prev *Snapshot, d Dialect, tables []*Table) (ddl, name string, err error) {
	var (
		b        strings.Builder
		names    []string
		problems []string
	)
	if prev == nil {
		b.WriteString(Core(d))
		for _, t := range tables {
			if t.Existing {
				b.WriteString("\n" + t.AdoptTable())
			} else {
				b.WriteString("\n" + t.CreateTable())
			}
		}
		return b.String(), "init", nil
	}
	if prev.Dialect != d {
		return "", "", fmt.Errorf("sqlschema: the snapshot is of dialect %s, not %s", prev.Dialect, d)
	}
	byModel := map[string]*SnapshotTable{}
	for i := range prev.Tables {
		byModel[prev.Tables[i].Model] = &prev.Tables[i]
	}
	for _, t := range tables {
		old, ok := byModel[t.Model]
		delete(byModel, t.Model)
		msg := t.ModelOf().Descriptor()
		if !ok && t.Existing {
			b.WriteString(t.AdoptTable())
			names = append(names, "adopt_"+t.Name)
			continue
		}
		if !ok {
			b.WriteString(t.CreateTable())
			names = append(names, "create_"+t.Name)
			continue
		}
		if old.Name != t.Name {
			problems = append(problems, fmt.Sprintf("%s: model %s was table %q, now %q: renaming a table is not a migration this tool writes", Position(msg), t.Model, old.Name, t.Name))
			continue
		}
		if old.Key != t.Key.Name {
			problems = append(problems, fmt.Sprintf("%s: the key of %s changed from %q to %q", Position(t.Key.Field), t.Model, old.Key, t.Key.Name))
		}
		if old.Version != t.Version {
			problems = append(problems, fmt.Sprintf("%s: the version column of %s changed from %q to %q", Position(msg), t.Model, old.Version, t.Version))
		}
		var added []*Column
		for _, oc := range old.Columns {
			c := t.columnNamed(oc.Name)
			switch {
			case c == nil:
				problems = append(problems, fmt.Sprintf("%s: field %s.%s (number %d) was removed: dropping column %s.%s loses its data; keep the field (reserve its number when you stop using it) or migrate by hand",
					Position(msg), t.Model, oc.Name, oc.Number, t.Name, oc.Name))
			case int32(c.Field.Number()) != oc.Number:
				problems = append(problems, fmt.Sprintf("%s: field %s was renumbered from %d to %d: stored records and clients would read it as another field",
					Position(c.Field), c.Field.FullName(), oc.Number, c.Field.Number()))
			case c.Type != oc.Type || c.Nullable != oc.Nullable:
				problems = append(problems, fmt.Sprintf("%s: field %s was retyped: column %s.%s is %s, the field now wants %s",
					Position(c.Field), c.Field.FullName(), t.Name, c.Name, describe(oc.Type, oc.Nullable), describe(c.Type, c.Nullable)))
			}
		}
		for _, c := range t.Columns {
			if !slices.ContainsFunc(old.Columns, func(oc SnapshotColumn) bool { return oc.Name == c.Name }) {
				for _, oc := range old.Columns {
					if oc.Number == int32(c.Field.Number()) {
						problems = append(problems, fmt.Sprintf("%s: field %s reuses number %d of the field %s that was removed", Position(c.Field), c.Field.FullName(), oc.Number, oc.Name))
					}
				}
				added = append(added, c)
			}
		}
		var changed strings.Builder
		for _, c := range added {
			changed.WriteString(t.AddColumn(c))
			names = append(names, "add_"+t.Name+"_"+c.Name)
		}
		for _, ix := range old.Indexes {
			if !slices.ContainsFunc(t.Indexes, func(n Index) bool { return n.Name == ix.Name }) {
				fmt.Fprintf(&changed, "DROP INDEX IF EXISTS %s;\n", Ident(ix.Name))
				names = append(names, "drop_"+ix.Name)
			}
		}
		newIndex := false
		for _, ix := range t.Indexes {
			if !slices.ContainsFunc(old.Indexes, func(o Index) bool { return o.Name == ix.Name }) {
				names = append(names, "index_"+ix.Name)
				newIndex = true
			}
		}
		if changed.Len() > 0 || newIndex {
			b.WriteString(changed.String())
			b.WriteString(t.CreateIndexes())
			if len(added) > 0 && d == SQLite {
				// SQLite's triggers name the columns of the row image.
				b.WriteString(t.CreateTriggers())
			}
		}
	}
	for _, old := range prev.Tables {
		if _, gone := byModel[old.Model]; gone {
			problems = append(problems, fmt.Sprintf("model %s (table %q) was removed: drop its table by hand if its data may go", old.Model, old.Name))
		}
	}
	if len(problems) > 0 {
		return "", "", &DestructiveError{Problems: problems}
	}
	if b.Len() == 0 {
		return "", "", nil
	}
	name = strings.Join(names, "_and_")
	if len(name) > 60 || len(names) > 2 {
		name = names[0] + "_and_more"
	}
	return b.String(), name, nil
}

func describe(typ string, nullable bool) string {
	if nullable {
		return typ + " (nullable)"
	}
	return typ + " NOT NULL"
}
