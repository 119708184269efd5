package sqlschema

import (
	"fmt"
	"strconv"
	"strings"
)

// mark is the dialect's placeholder for the i-th argument (from 1):
// numbered in both, so that an argument may be used out of order.
func (t *Table) mark(i int) string {
	if t.Dialect == Postgres {
		return "$" + strconv.Itoa(i)
	}
	return "?" + strconv.Itoa(i)
}

// RowArgs returns the arguments of [Table.InsertSQL] and
// [Table.UpdateSQL] for a record: data (the model's protobuf encoding)
// spread over the field columns, key (from [Table.KeyArg]) in the key
// column, and version. Both stores and the copy from the single-table
// layout write rows through it.
func (t *Table) RowArgs(data []byte, key any, version int64) ([]any, error) {
	msg, err := t.Unmarshal(data)
	if err != nil {
		return nil, err
	}
	vals, err := t.Values(msg)
	if err != nil {
		return nil, err
	}
	vals[t.KeyIndex()] = key
	return append(vals, version), nil
}

// InsertSQL inserts a row: its arguments are [Table.RowArgs].
//
// On SQLite the row also gets the creation number the insert trigger
// will give it (one past the model's counter: the writer holds the
// database's write lock), so that the trigger finds the row numbered and
// does not write it, and each index holding the creation number, again.
func (t *Table) InsertSQL() string {
	cols := make([]string, 0, len(t.Columns)+2)
	marks := make([]string, 0, len(t.Columns)+2)
	for i, c := range t.Columns {
		cols = append(cols, Ident(c.Name))
		marks = append(marks, t.mark(i+1))
	}
	cols = append(cols, Ident(t.Version))
	marks = append(marks, t.mark(len(marks)+1))
	if t.Dialect == SQLite {
		cols = append(cols, Ident(SeqColumn))
		marks = append(marks, t.nextCreateSeq())
	}
	return fmt.Sprintf(`INSERT INTO %s (%s) VALUES (%s)`, Ident(t.Name), strings.Join(cols, ", "), strings.Join(marks, ", "))
}

// nextCreateSeq is the SQL expression of the creation number the model's
// next insert takes.
func (t *Table) nextCreateSeq() string {
	return fmt.Sprintf("coalesce((SELECT create_seq FROM ssotws_models WHERE name = %s), 0) + 1", Literal(t.Model))
}

// UpdateSQL updates the row of a key: its arguments are [Table.RowArgs]
// (the key's argument, at its column's place, selects the row).
func (t *Table) UpdateSQL() string {
	sets := make([]string, 0, len(t.Columns))
	for i, c := range t.Columns {
		if c != t.Key {
			sets = append(sets, Ident(c.Name)+" = "+t.mark(i+1))
		}
	}
	sets = append(sets, Ident(t.Version)+" = "+t.mark(len(t.Columns)+1))
	return fmt.Sprintf(`UPDATE %s SET %s WHERE %s = %s`, Ident(t.Name), strings.Join(sets, ", "), Ident(t.Key.Name), t.mark(t.KeyIndex()+1))
}

// TombstoneImage is the image a tombstone keeps for a record deleted
// with data (the model's protobuf encoding; nil is an empty message): the
// data with its key.
func (t *Table) TombstoneImage(key string, data []byte) ([]byte, error) {
	msg, err := t.Unmarshal(data)
	if err != nil {
		return nil, fmt.Errorf("tombstone %s %q: %w", t.Model, key, err)
	}
	return t.Image(msg, key)
}
