package sqlstore

import (
	"context"
	"fmt"

	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
)

// CopyRecords copies the records of the single-table layout, which query
// reads from old (model, key, version, deleted, data; in creation
// order), into their models' tables through tx, counting them in n.
func (ts *Tables) CopyRecords(ctx context.Context, old, tx DB, query string, n *sqlschema.Copied) error {
	rows, err := old.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			model   string
			key     []byte
			version int64
			deleted bool
			data    []byte
		)
		if err := rows.Scan(&model, &key, &version, &deleted, &data); err != nil {
			return err
		}
		t, err := ts.Table(model)
		if err != nil {
			return err
		}
		stmt, args, tombstone, err := t.CopyRow(string(key), version, deleted, data)
		if err != nil {
			return err
		}
		if err := tx.Exec(ctx, stmt, args...); err != nil {
			return fmt.Errorf("%s %q: %w", model, key, err)
		}
		if tombstone {
			n.Tombstones++
		} else {
			n.Records++
		}
	}
	return rows.Err()
}

// CopySequences copies each model's NextSequence counter, which query
// reads from old (name, counter), through tx with upsert (name, counter;
// keeping the larger counter), counting them in n.
func CopySequences(ctx context.Context, old, tx DB, query, upsert string, n *sqlschema.Copied) error {
	seqs, err := old.Query(ctx, query)
	if err != nil {
		return err
	}
	defer seqs.Close()
	for seqs.Next() {
		var (
			name string
			seq  int64
		)
		if err := seqs.Scan(&name, &seq); err != nil {
			return err
		}
		if err := tx.Exec(ctx, upsert, name, seq); err != nil {
			return err
		}
		n.Sequences++
	}
	return seqs.Err()
}
