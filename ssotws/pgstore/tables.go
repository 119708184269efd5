package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlstore"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
)

// TableStore is an [ssotws.Store] that keeps each model in a table of its
// own in one PostgreSQL schema, with a column per top-level field (see
// package sqlschema). Triggers write every change, by any writer, to a
// change log in the writing transaction and notify the relays
// (LISTEN/NOTIFY); a [Relay] publishes it.
type TableStore struct {
	pool        *pgxpool.Pool
	schema      string
	maxRequests int64
	maxAttempts int
	tables      *sqlstore.Tables
}

var _ ssotws.Store = (*TableStore)(nil)

// OpenTables connects to the database named by connString, with every
// connection's search_path set to opts.Schema (default "public"), and
// brings the schema to models' tables: the bookkeeping tables and trigger
// functions, each model's table, indexes and triggers when missing, the
// columns a newer schema adds. A table whose columns do not match its
// model is refused. Columns the models do not declare are left alone.
func OpenTables(ctx context.Context, connString string, models []*ssotws.Model, opts *Options) (*TableStore, error) {
	o := sqlstore.Options(opts)
	o.MaxRequests = sqlstore.OrDefault(o.MaxRequests, DefaultMaxRequests)
	o.MaxAttempts = sqlstore.OrDefault(o.MaxAttempts, DefaultMaxAttempts)
	if o.Schema == "" {
		o.Schema = "public"
	}
	list, err := sqlschema.NewTables(models, sqlschema.Postgres)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	tables := sqlstore.NewTables(dialect, list)
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{o.Schema}.Sanitize()
	// Plan each statement with its arguments: a generic plan of a cached
	// List cannot know how selective its filter is, and may walk the
	// creation index instead of the filter's (see docs/engines.md).
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if err := migrateTables(ctx, pool, o.Schema, tables); err != nil {
		pool.Close()
		return nil, err
	}
	return &TableStore{pool: pool, schema: o.Schema, maxRequests: int64(o.MaxRequests), maxAttempts: o.MaxAttempts, tables: tables}, nil
}

// dialect is what PostgreSQL's texts and catalog look like to the code the
// stores share.
var dialect = sqlstore.Dialect{
	Name: "pgstore",
	SequenceSQL: `INSERT INTO ssotws_models AS m (name, key_seq) VALUES ($1, 1)
ON CONFLICT (name) DO UPDATE SET key_seq = m.key_seq + 1 RETURNING key_seq`,
	NoRows:    pgx.ErrNoRows,
	LockRow:   " FOR UPDATE",
	Tombstone: `SELECT version, image FROM ssotws_tombstones WHERE model = $1 AND key = $2 FOR UPDATE`,
	Delete:    `DELETE FROM %s WHERE %s = $1`,
	SetTombstoneImage: func(ctx context.Context, tx sqlstore.DB, w *ssotws.Write, image string) error {
		if err := tx.Exec(ctx, `UPDATE ssotws_tombstones SET image = $1::jsonb WHERE model = $2 AND key = $3`, image, w.Model, w.Key); err != nil {
			return err
		}
		return tx.Exec(ctx, `UPDATE ssotws_changes SET image = $1::jsonb WHERE xid = pg_current_xact_id() AND model = $2 AND key = $3`, image, w.Model, w.Key)
	},
	ColumnType: pgType,
	Integer:    "bigint",
}

// pgxDB adapts a pgx pool, connection or transaction to the shared code.
type pgxDB struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (d pgxDB) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.q.QueryRow(ctx, query, args...)
}

func (d pgxDB) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return d.q.Query(ctx, query, args...)
}

func (d pgxDB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := d.q.Exec(ctx, query, args...)
	return err
}

// Close closes the connection pool.
func (s *TableStore) Close() error {
	s.pool.Close()
	return nil
}

// Schema returns the schema that holds the tables.
func (s *TableStore) Schema() string { return s.schema }

func migrateTables(ctx context.Context, pool *pgxpool.Pool, schema string, tables *sqlstore.Tables) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "ssotws-schema:"+schema); err != nil {
		return fmt.Errorf("pgstore: open: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	if err := tables.Migrate(ctx, pgxDB{tx}, sqlschema.Core(sqlschema.Postgres), `SELECT a.attname, format_type(a.atttypid, a.atttypmod), 0
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped`); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	return nil
}

// pgType is how format_type names a type of the DDL.
func pgType(t string) string {
	if t == "timestamptz" {
		return "timestamp with time zone"
	}
	return t
}

func (s *TableStore) table(model string) (*sqlschema.Table, error) { return s.tables.Table(model) }

// Get implements [ssotws.Store].
func (s *TableStore) Get(ctx context.Context, model, key string) (*ssotws.Record, error) {
	return s.tables.Get(ctx, pgxDB{s.pool}, model, key)
}

// List implements [ssotws.Store], in creation order (ssotws_seq).
func (s *TableStore) List(ctx context.Context, q ssotws.Query) (*ssotws.Page, error) {
	return s.tables.List(ctx, pgxDB{s.pool}, q)
}

// NextSequence implements [ssotws.Store].
func (s *TableStore) NextSequence(ctx context.Context, model string) (int64, error) {
	return s.tables.NextSequence(ctx, pgxDB{s.pool}, model)
}

// Apply implements [ssotws.Store]: one READ COMMITTED transaction that
// locks the key's row (or tombstone), plans with [ssotws.PlanWrite] and
// writes the model's table; its triggers write the change log. A try that
// lost a race (a concurrent create of the key, a deadlock) runs again.
func (s *TableStore) Apply(ctx context.Context, w *ssotws.Write) (*ssotws.WriteResult, error) {
	return sqlstore.One(s.tables.Apply(ctx, []*ssotws.Write{w}, false, s.applyTx))
}

// ApplyBatch implements [ssotws.Store]: the writes of [TableStore.Apply],
// in one transaction, which runs again as a whole when it lost a race.
func (s *TableStore) ApplyBatch(ctx context.Context, ws []*ssotws.Write) ([]*ssotws.WriteResult, error) {
	return s.tables.Apply(ctx, ws, true, s.applyTx)
}

// applyTx applies ws to their tables in one transaction, tried again
// when it lost a race. With batch set, the error of a write names its
// index.
func (s *TableStore) applyTx(ctx context.Context, tables []*sqlschema.Table, ws []*ssotws.Write, batch bool) ([]*ssotws.WriteResult, error) {
	for attempt := 1; ; attempt++ {
		res, err := s.applyOnce(ctx, tables, ws)
		if err == nil {
			return res, nil
		}
		if !tableRetryable(err) {
			var be *ssotws.BatchError
			if !batch && errors.As(err, &be) {
				err = be.Err
			}
			return nil, err
		}
		if attempt >= s.maxAttempts {
			return nil, fmt.Errorf("pgstore: apply: gave up after %d tries: %w", attempt, err)
		}
		d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(d):
		}
	}
}

func tableRetryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01", "23505":
		return true
	}
	return false
}

// applyOnce is one try of applyTx: one transaction, committed when a
// write was not a replay. The error of a write is a [ssotws.BatchError].
func (s *TableStore) applyOnce(ctx context.Context, tables []*sqlschema.Table, ws []*ssotws.Write) ([]*ssotws.WriteResult, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, fmt.Errorf("pgstore: apply: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	out := make([]*ssotws.WriteResult, len(ws))
	wrote := false
	for i, w := range ws {
		res, err := s.applyIn(ctx, tx, tables[i], w)
		if err != nil {
			return nil, ssotws.AtIndex(i, err)
		}
		out[i] = res
		wrote = wrote || !res.Replayed
	}
	if !wrote {
		return out, nil
	}
	if err := tx.Commit(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("pgstore: apply: %w", err)
	}
	return out, nil
}

// applyIn plans w and writes it in tx.
func (s *TableStore) applyIn(ctx context.Context, tx pgx.Tx, t *sqlschema.Table, w *ssotws.Write) (*ssotws.WriteResult, error) {
	key, err := t.KeyArg(w.Key)
	if err != nil {
		return nil, fmt.Errorf("pgstore: apply: %w", err)
	}
	var reqHash []byte
	var remembered *ssotws.WriteResult
	if w.RequestID != "" {
		reqHash = hashKey(w.RequestID)
		if _, err := tx.Exec(ctx, `SELECT set_config('ssotws.request_id', $1, true)`, w.RequestID); err != nil {
			return nil, fmt.Errorf("pgstore: apply: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO ssotws_requests (model, request_hash) VALUES ($1, $2) ON CONFLICT (model, request_hash) DO NOTHING`, w.Model, reqHash)
		if err != nil {
			return nil, fmt.Errorf("pgstore: apply: %w", err)
		}
		if tag.RowsAffected() == 0 {
			if remembered, err = replayTable(ctx, tx, w.Model, reqHash); err != nil {
				return nil, err
			}
			if remembered == nil {
				return nil, errRetry // done, then pruned
			}
		}
	}
	plan, err := s.tables.Plan(ctx, pgxDB{tx}, t, w, remembered, key)
	if err != nil {
		return nil, err
	}
	res := plan.Result
	if plan.Step == ssotws.StepReplay {
		return res, nil
	}
	if plan.Remember {
		r, p := res.Record, res.Previous
		names, values := textFields(r.Fields)
		var (
			pVersion *int64
			pDeleted *bool
			pData    []byte
			pNames   []string
			pValues  []string
		)
		if p != nil {
			pVersion, pDeleted, pData = &p.Version, &p.Deleted, p.Data
			pNames, pValues = textFields(p.Fields)
		}
		if _, err := tx.Exec(ctx, `UPDATE ssotws_requests SET seq = nextval('ssotws_requests_seq'),
	kind = $3, key = $4, version = $5, deleted = $6, data = $7, field_names = $8, field_values = $9,
	prev_version = $10, prev_deleted = $11, prev_data = $12, prev_field_names = $13, prev_field_values = $14
WHERE model = $1 AND request_hash = $2`, w.Model, reqHash, int16(w.Kind), r.Key, r.Version, r.Deleted, r.Data, names, values,
			pVersion, pDeleted, pData, pNames, pValues); err != nil {
			return nil, fmt.Errorf("pgstore: apply: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM ssotws_requests WHERE (model, request_hash) IN (
	SELECT model, request_hash FROM ssotws_requests
	WHERE seq <= currval('ssotws_requests_seq') - $1 FOR UPDATE SKIP LOCKED)`, s.maxRequests); err != nil {
			return nil, fmt.Errorf("pgstore: apply: %w", err)
		}
	}
	return res, nil
}

// textFields splits fields into parallel name and value arrays, sorted
// by name; nil stays NULL.
func textFields(fields map[string]string) ([]string, []string) {
	if fields == nil {
		return nil, nil
	}
	names := slices.Sorted(maps.Keys(fields))
	values := make([]string, len(names))
	for i, n := range names {
		values[i] = fields[n]
	}
	return names, values
}

func replayTable(ctx context.Context, tx pgx.Tx, model string, reqHash []byte) (*ssotws.WriteResult, error) {
	var (
		rec             ssotws.Record
		names, pNames   []string
		values, pValues []string
		pVersion        *int64
		pDeleted        *bool
		pData           []byte
	)
	err := tx.QueryRow(ctx, `SELECT key, version, deleted, data, field_names, field_values,
	prev_version, prev_deleted, prev_data, prev_field_names, prev_field_values
FROM ssotws_requests WHERE model = $1 AND request_hash = $2 AND seq IS NOT NULL`, model, reqHash).Scan(
		&rec.Key, &rec.Version, &rec.Deleted, &rec.Data, &names, &values, &pVersion, &pDeleted, &pData, &pNames, &pValues)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: apply: %w", err)
	}
	zip := func(n, v []string) map[string]string {
		if n == nil {
			return nil
		}
		m := make(map[string]string, len(n))
		for i := range n {
			m[n[i]] = v[i]
		}
		return m
	}
	rec.Fields = zip(names, values)
	res := &ssotws.WriteResult{Record: &rec}
	if pVersion != nil {
		res.Previous = &ssotws.Record{Key: rec.Key, Version: *pVersion, Deleted: pDeleted != nil && *pDeleted, Data: pData, Fields: zip(pNames, pValues)}
	}
	return res, nil
}
