package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlrelay"
	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlrows"

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
	tables      map[string]*sqlschema.Table
	list        []*sqlschema.Table

	wakers sqlrelay.Wakers // relays of this store, woken after a commit

	afterCommit func(*ssotws.Write)
}

var _ ssotws.Store = (*TableStore)(nil)

// OpenTables connects to the database named by connString, with every
// connection's search_path set to opts.Schema (default "public"), and
// brings the schema to models' tables: the bookkeeping tables and trigger
// functions, each model's table, indexes and triggers when missing, the
// columns a newer schema adds. A table whose columns do not match its
// model is refused. Columns the models do not declare are left alone.
func OpenTables(ctx context.Context, connString string, models []*ssotws.Model, opts *Options) (*TableStore, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = DefaultMaxRequests
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Schema == "" {
		o.Schema = "public"
	}
	tables, err := sqlschema.NewTables(models, sqlschema.Postgres)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
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
	s := &TableStore{pool: pool, schema: o.Schema, maxRequests: int64(o.MaxRequests), maxAttempts: o.MaxAttempts,
		tables: map[string]*sqlschema.Table{}, list: tables}
	for _, t := range tables {
		s.tables[t.Model] = t
	}
	return s, nil
}

// Close closes the connection pool.
func (s *TableStore) Close() error {
	s.pool.Close()
	return nil
}

// Schema returns the schema that holds the tables.
func (s *TableStore) Schema() string { return s.schema }

func migrateTables(ctx context.Context, pool *pgxpool.Pool, schema string, tables []*sqlschema.Table) error {
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
	if _, err := tx.Exec(ctx, sqlschema.Core(sqlschema.Postgres)); err != nil {
		return fmt.Errorf("pgstore: create bookkeeping tables: %w", err)
	}
	for _, t := range tables {
		ddl, err := reconcile(ctx, tx, t)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, ddl); err != nil {
			return fmt.Errorf("pgstore: migrate table %s: %w", t.Name, err)
		}
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

func reconcile(ctx context.Context, tx pgx.Tx, t *sqlschema.Table) (string, error) {
	rows, err := tx.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped`, t.Name)
	if err != nil {
		return "", fmt.Errorf("pgstore: open: %w", err)
	}
	have := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return "", fmt.Errorf("pgstore: open: %w", err)
		}
		have[name] = typ
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("pgstore: open: %w", err)
	}
	if len(have) == 0 {
		return t.CreateTable(), nil
	}
	var (
		b        strings.Builder
		problems []string
	)
	for _, c := range t.Columns {
		typ, ok := have[c.Name]
		switch {
		case !ok && c == t.Key:
			problems = append(problems, fmt.Sprintf("the key column %s is missing", c.Name))
		case !ok:
			b.WriteString(t.AddColumn(c))
		case typ != pgType(c.Type):
			problems = append(problems, fmt.Sprintf("column %s is %s, field %s wants %s", c.Name, typ, c.Field.FullName(), c.Type))
		}
	}
	var missing []string
	for _, name := range []string{t.Version, sqlschema.SeqColumn} {
		typ, ok := have[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case typ != "bigint":
			problems = append(problems, fmt.Sprintf("column %s is %s, not bigint", name, typ))
		}
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("pgstore: table %q does not match model %s: %s; migrate it (the migration files the plugin writes) before opening the store",
			t.Name, t.Model, strings.Join(problems, "; "))
	}
	b.WriteString(t.AddBookkeeping(missing...))
	b.WriteString(t.CreateIndexes())
	fmt.Fprintf(&b, "INSERT INTO ssotws_models (name) VALUES (%s) ON CONFLICT (name) DO NOTHING;\n", sqlschema.Literal(t.Model))
	b.WriteString(t.CreateTriggers())
	return b.String(), nil
}

func (s *TableStore) table(model string) (*sqlschema.Table, error) {
	t, ok := s.tables[model]
	if !ok {
		return nil, fmt.Errorf("pgstore: model %q has no table: it is not one of the models the store was opened with", model)
	}
	return t, nil
}

// Get implements [ssotws.Store].
func (s *TableStore) Get(ctx context.Context, model, key string) (*ssotws.Record, error) {
	t, err := s.table(model)
	if err != nil {
		return nil, err
	}
	k, err := t.KeyArg(key)
	if err != nil {
		return nil, ssotws.ErrNotFound
	}
	var (
		version int64
		image   []byte
	)
	err = s.pool.QueryRow(ctx, t.GetSQL(), k).Scan(&version, &image)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ssotws.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: get: %w", err)
	}
	return sqlrows.Record(t, key, version, image, false)
}

// List implements [ssotws.Store], in creation order (ssotws_seq).
func (s *TableStore) List(ctx context.Context, q ssotws.Query) (*ssotws.Page, error) {
	after, err := ssotws.ParsePageToken(q.PageToken)
	if err != nil {
		return nil, err
	}
	t, err := s.table(q.Model)
	if err != nil {
		return nil, err
	}
	size := q.PageSize
	if size <= 0 {
		size = ssotws.DefaultPageSize
	}
	size = min(size, maxPageSize)
	query, args, ok := t.ListQuery(q.Filters, after, size+1)
	if !ok {
		return &ssotws.Page{}, nil
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
	}
	defer rows.Close()
	page, err := sqlrows.ReadPage(t, rows, size)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
	}
	return page, nil
}

// NextSequence implements [ssotws.Store].
func (s *TableStore) NextSequence(ctx context.Context, model string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `INSERT INTO ssotws_models AS m (name, key_seq) VALUES ($1, 1)
ON CONFLICT (name) DO UPDATE SET key_seq = m.key_seq + 1 RETURNING key_seq`, model).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pgstore: next sequence: %w", err)
	}
	return n, nil
}

// Apply implements [ssotws.Store]: one READ COMMITTED transaction that
// locks the key's row (or tombstone), plans with [ssotws.PlanWrite] and
// writes the model's table; its triggers write the change log. A try that
// lost a race (a concurrent create of the key, a deadlock) runs again.
func (s *TableStore) Apply(ctx context.Context, w *ssotws.Write) (*ssotws.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := s.table(w.Model)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		res, err := s.applyOnce(ctx, t, w)
		if err == nil {
			if !res.Replayed {
				if s.afterCommit != nil {
					s.afterCommit(w)
				}
				s.wakers.Wake()
			}
			return res, nil
		}
		if !tableRetryable(err) {
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

func (s *TableStore) applyOnce(ctx context.Context, t *sqlschema.Table, w *ssotws.Write) (*ssotws.WriteResult, error) {
	key, err := t.KeyArg(w.Key)
	if err != nil {
		return nil, fmt.Errorf("pgstore: apply: %w", err)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, fmt.Errorf("pgstore: apply: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
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
	var cur *ssotws.Record
	if remembered == nil {
		if cur, err = lockRow(ctx, tx, t, w.Key, key); err != nil {
			return nil, err
		}
	}
	plan, err := ssotws.PlanWrite(w, remembered, cur)
	if err != nil {
		return nil, err
	}
	res := plan.Result
	if plan.Step == ssotws.StepReplay {
		return res, nil
	}
	rec := res.Record
	tbl, keyCol := sqlschema.Ident(t.Name), sqlschema.Ident(t.Key.Name)
	switch plan.Step {
	case ssotws.StepInsert, ssotws.StepRecreate, ssotws.StepUpdate:
		args, err := t.RowArgs(rec.Data, key, rec.Version)
		if err != nil {
			return nil, fmt.Errorf("pgstore: apply: %w", err)
		}
		stmt := t.InsertSQL()
		if plan.Step == ssotws.StepUpdate {
			stmt = t.UpdateSQL()
		}
		if _, err := tx.Exec(ctx, stmt, args...); err != nil {
			return nil, fmt.Errorf("pgstore: apply: %w", err)
		}
	case ssotws.StepDelete:
		if _, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s = $1`, tbl, keyCol), key); err != nil {
			return nil, fmt.Errorf("pgstore: apply: %w", err)
		}
		if w.Data != nil {
			image, err := t.TombstoneImage(w.Key, w.Data)
			if err != nil {
				return nil, fmt.Errorf("pgstore: apply: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE ssotws_tombstones SET image = $1::jsonb WHERE model = $2 AND key = $3`, string(image), w.Model, w.Key); err != nil {
				return nil, fmt.Errorf("pgstore: apply: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE ssotws_changes SET image = $1::jsonb WHERE xid = pg_current_xact_id() AND model = $2 AND key = $3`, string(image), w.Model, w.Key); err != nil {
				return nil, fmt.Errorf("pgstore: apply: %w", err)
			}
		}
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
	if err := tx.Commit(ctx); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("pgstore: apply: %w", err)
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

func lockRow(ctx context.Context, tx pgx.Tx, t *sqlschema.Table, key string, keyArg any) (*ssotws.Record, error) {
	var (
		version int64
		image   []byte
	)
	err := tx.QueryRow(ctx, t.GetSQL()+" FOR UPDATE", keyArg).Scan(&version, &image)
	deleted := false
	if errors.Is(err, pgx.ErrNoRows) {
		deleted = true
		err = tx.QueryRow(ctx, `SELECT version, image FROM ssotws_tombstones WHERE model = $1 AND key = $2 FOR UPDATE`, t.Model, key).Scan(&version, &image)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: apply: %w", err)
	}
	return sqlrows.Record(t, key, version, image, deleted)
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
