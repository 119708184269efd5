package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlstore"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
)

// CopyFromSingleTable copies a database of the single-table layout (the
// one Open created before the per-model tables: tables records, models
// and requests, PRAGMA user_version 1) into dst's tables, in one
// transaction: each live record becomes a row of its model's table with
// the same key and version, in the same creation order; each deleted
// record a tombstone with its version (so a re-create goes on from it);
// each model's NextSequence counter and each remembered request carry
// over. The copy is not news: it leaves nothing in the change log for a
// relay to publish.
//
// Run it once, before serving, from a small program that opens old with
// database/sql (driver "sqlite", modernc.org/sqlite) and dst with
// [OpenTables] and the models of every record old holds: a record of
// another model, or a key dst already has, fails the copy and nothing is
// written.
func CopyFromSingleTable(ctx context.Context, old *sql.DB, dst *TableStore) (sqlschema.Copied, error) {
	var n sqlschema.Copied
	fail := func(err error) (sqlschema.Copied, error) {
		return sqlschema.Copied{}, fmt.Errorf("sqlitestore: copy from the single-table layout: %w", err)
	}
	var v int
	if err := old.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fail(err)
	}
	if v != 1 {
		return fail(fmt.Errorf("the old database's schema version is %d, not 1", v))
	}
	tx, err := dst.w.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	var before int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM ssotws_changes`).Scan(&before); err != nil {
		return fail(err)
	}

	if err := dst.tables.CopyRecords(ctx, sqlDB{old}, sqlDB{tx}, `SELECT model, key, version, deleted, data FROM records ORDER BY id`, &n); err != nil {
		return fail(err)
	}
	if err := sqlstore.CopySequences(ctx, sqlDB{old}, sqlDB{tx}, `SELECT name, key_seq FROM models`, `INSERT INTO ssotws_models (name, key_seq) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET key_seq = max(key_seq, excluded.key_seq)`, &n); err != nil {
		return fail(err)
	}

	// The requests tables have the same columns; seq is given anew, in
	// the same order.
	const cols = `model, request_id, kind, key, version, deleted, data, fields, prev_version, prev_deleted, prev_data, prev_fields`
	reqs, err := old.QueryContext(ctx, `SELECT `+cols+` FROM requests ORDER BY seq`)
	if err != nil {
		return fail(err)
	}
	defer reqs.Close()
	for reqs.Next() {
		vals := make([]any, 12)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := reqs.Scan(ptrs...); err != nil {
			return fail(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ssotws_requests (`+cols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, vals...); err != nil {
			return fail(err)
		}
		n.Requests++
	}
	if err := reqs.Err(); err != nil {
		return fail(err)
	}
	reqs.Close()

	if _, err := tx.ExecContext(ctx, `DELETE FROM ssotws_changes WHERE seq > ?`, before); err != nil {
		return fail(err)
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return n, nil
}
