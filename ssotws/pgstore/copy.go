package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlstore"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
)

// CopyFromSingleTable copies the single-table layout (the one Open created
// before the per-model tables: ssotws_records, ssotws_sequences and
// ssotws_requests, version 1 in ssotws_schema_version) from oldSchema,
// read through old, into dst's tables, in one transaction of dst: each
// live record becomes a row of its model's table with the same key and
// version, in the same creation order; each deleted record a tombstone
// with its version (a re-create goes on from it); each model's
// NextSequence counter and each remembered request carry over. The copy is
// not news: it leaves nothing in the change log for a relay to publish.
//
// Both layouts name bookkeeping tables ssotws_models and ssotws_requests,
// so dst must be in another schema than oldSchema (Options.Schema). Run
// the copy once, before serving, from a small program that opens dst with
// [OpenTables] and the models of every record the old schema holds: a
// record of another model, or a key dst already has, fails the copy and
// nothing is written.
func CopyFromSingleTable(ctx context.Context, old *pgxpool.Pool, oldSchema string, dst *TableStore) (sqlschema.Copied, error) {
	var n sqlschema.Copied
	fail := func(err error) (sqlschema.Copied, error) {
		return sqlschema.Copied{}, fmt.Errorf("pgstore: copy from the single-table layout: %w", err)
	}
	if oldSchema == dst.schema {
		return fail(fmt.Errorf("the store's schema %q is the old layout's: open the store in another schema", oldSchema))
	}
	q := func(table string) string { return pgx.Identifier{oldSchema, table}.Sanitize() }
	var v int
	if err := old.QueryRow(ctx, `SELECT version FROM `+q("ssotws_schema_version")).Scan(&v); err != nil {
		return fail(err)
	}
	if v != 1 {
		return fail(fmt.Errorf("the old schema's version is %d, not 1", v))
	}
	tx, err := dst.pool.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	if err := dst.tables.CopyRecords(ctx, pgxDB{old}, pgxDB{tx}, `SELECT model, key, version, deleted, data FROM `+q("ssotws_records")+` ORDER BY id`, &n); err != nil {
		return fail(err)
	}
	if err := sqlstore.CopySequences(ctx, pgxDB{old}, pgxDB{tx}, `SELECT model, value FROM `+q("ssotws_sequences"), `INSERT INTO ssotws_models AS m (name, key_seq) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET key_seq = greatest(m.key_seq, EXCLUDED.key_seq)`, &n); err != nil {
		return fail(err)
	}

	// Keys and field values were bytea, and are text now; seq is given
	// anew, in the same order. Claims of requests that never finished
	// (no seq) are left behind.
	reqs, err := old.Query(ctx, `SELECT model, request_hash, kind, convert_from(key, 'UTF8'), version, deleted, data,
	field_names, (SELECT array_agg(convert_from(v, 'UTF8') ORDER BY i) FROM unnest(field_values) WITH ORDINALITY AS f(v, i)),
	prev_version, prev_deleted, prev_data,
	prev_field_names, (SELECT array_agg(convert_from(v, 'UTF8') ORDER BY i) FROM unnest(prev_field_values) WITH ORDINALITY AS f(v, i))
FROM `+q("ssotws_requests")+` WHERE seq IS NOT NULL ORDER BY seq`)
	if err != nil {
		return fail(err)
	}
	defer reqs.Close()
	for reqs.Next() {
		vals, err := reqs.Values()
		if err != nil {
			return fail(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ssotws_requests (model, request_hash, seq, kind, key, version, deleted, data,
	field_names, field_values, prev_version, prev_deleted, prev_data, prev_field_names, prev_field_values)
VALUES ($1, $2, nextval('ssotws_requests_seq'), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, vals...); err != nil {
			return fail(err)
		}
		n.Requests++
	}
	if err := reqs.Err(); err != nil {
		return fail(err)
	}

	if _, err := tx.Exec(ctx, `DELETE FROM ssotws_changes WHERE xid = pg_current_xact_id()`); err != nil {
		return fail(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return n, nil
}
