package sqlschema

import "fmt"

// Copied counts what a copy from the single-table layout (the layout of
// sqlitestore.Open and pgstore.Open before the tables) wrote.
type Copied struct {
	Records    int // live records, now rows of their model's table
	Tombstones int // deleted records, now rows of ssotws_tombstones
	Requests   int // remembered results of writes with a request id
	Sequences  int // models whose NextSequence counter was carried over
}

// CopyRow is the statement that copies one record of the single-table
// layout into t: a row of t with the same key and version for a live
// record, a tombstone with its version for a deleted one (its data, if
// any, kept as the tombstone's image). tombstone tells which.
func (t *Table) CopyRow(key string, version int64, deleted bool, data []byte) (stmt string, args []any, tombstone bool, err error) {
	if deleted {
		image, err := t.TombstoneImage(key, data)
		if err != nil {
			return "", nil, true, err
		}
		cast := ""
		if t.Dialect == Postgres {
			cast = "::jsonb"
		}
		stmt = fmt.Sprintf(`INSERT INTO ssotws_tombstones (model, key, version, image) VALUES (%s, %s, %s, %s%s)`,
			t.mark(1), t.mark(2), t.mark(3), t.mark(4), cast)
		return stmt, []any{t.Model, key, version, string(image)}, true, nil
	}
	k, err := t.KeyArg(key)
	if err != nil {
		return "", nil, false, fmt.Errorf("%s %q: %w", t.Model, key, err)
	}
	args, err = t.RowArgs(data, k, version)
	if err != nil {
		return "", nil, false, fmt.Errorf("%s %q: %w", t.Model, key, err)
	}
	return t.InsertSQL(), args, false, nil
}
