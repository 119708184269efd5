package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlrelay"
	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlrows"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
)

// TableStore is an [ssotws.Store] that keeps each model in a table of its
// own, with a column per top-level field (see package sqlschema), so that
// the records can be queried, joined and written in SQL. Triggers on the
// tables write every change, by any writer, to a change log in the
// writing transaction; a [Relay] publishes it.
//
// Open it with [OpenTables] and close it with [TableStore.Close].
type TableStore struct {
	w           *sql.DB
	r           *sql.DB
	maxRequests int64
	tables      map[string]*sqlschema.Table // by model full name
	list        []*sqlschema.Table

	wakers sqlrelay.Wakers // relays of this store, woken after a commit
	stmts  stmtCache       // the writer's prepared statements

	// afterCommit, when set (by tests), runs after a write commits and
	// before Apply returns: a crash there loses nothing.
	afterCommit func(*ssotws.Write)
}

var _ ssotws.Store = (*TableStore)(nil)

// OpenTables opens the SQLite database at path as a store of models: it
// creates the bookkeeping tables and each model's table (with its indexes
// and triggers) when missing, adds the columns, indexes and triggers a
// newer schema adds, and refuses a table whose columns do not match the
// model (another type, no primary key on the key). Columns the models do
// not declare are left alone. opts may be nil.
func OpenTables(ctx context.Context, path string, models []*ssotws.Model, opts *Options) (*TableStore, error) {
	o := withDefaults(opts)
	tables, err := sqlschema.NewTables(models, sqlschema.SQLite)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	w, r, err := openPools(ctx, path, o, func(ctx context.Context, db *sql.DB) error {
		return migrateTables(ctx, db, tables)
	})
	if err != nil {
		return nil, err
	}
	s := &TableStore{w: w, r: r, maxRequests: int64(o.MaxRequests), tables: map[string]*sqlschema.Table{}, list: tables, stmts: stmtCache{db: w}}
	for _, t := range tables {
		s.tables[t.Model] = t
	}
	return s, nil
}

// Tables returns the store's tables.
func (s *TableStore) Tables() []*sqlschema.Table { return s.list }

// Close closes the database. Calls in flight may fail.
func (s *TableStore) Close() error {
	return errors.Join(s.stmts.Close(), s.r.Close(), s.w.Close())
}

// migrateTables brings the database to the tables, in one transaction.
func migrateTables(ctx context.Context, db *sql.DB, tables []*sqlschema.Table) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: open: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, sqlschema.Core(sqlschema.SQLite)); err != nil {
		return fmt.Errorf("sqlitestore: create bookkeeping tables: %w", err)
	}
	for _, t := range tables {
		stmts, err := reconcile(ctx, tx, t)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, stmts); err != nil {
			return fmt.Errorf("sqlitestore: migrate table %s: %w", t.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: open: %w", err)
	}
	return nil
}

// reconcile compares t with the table in the database and returns the
// statements that bring it there: the whole DDL for a missing table, the
// missing columns (additive) and the indexes and triggers otherwise. A
// column of another type is an error, never changed.
func reconcile(ctx context.Context, tx *sql.Tx, t *sqlschema.Table) (string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, type, pk FROM pragma_table_info(?)`, t.Name)
	if err != nil {
		return "", fmt.Errorf("sqlitestore: open: %w", err)
	}
	type col struct {
		typ string
		pk  bool
	}
	have := map[string]col{}
	for rows.Next() {
		var (
			name, typ string
			pk        int
		)
		if err := rows.Scan(&name, &typ, &pk); err != nil {
			rows.Close()
			return "", fmt.Errorf("sqlitestore: open: %w", err)
		}
		have[name] = col{strings.ToUpper(typ), pk > 0}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("sqlitestore: open: %w", err)
	}
	if len(have) == 0 {
		return t.CreateTable(), nil
	}
	var b strings.Builder
	var problems []string
	for _, c := range t.Columns {
		h, ok := have[c.Name]
		switch {
		case !ok && c == t.Key:
			problems = append(problems, fmt.Sprintf("the key column %s is missing", c.Name))
		case !ok:
			b.WriteString(t.AddColumn(c))
		case h.typ != strings.ToUpper(c.Type):
			problems = append(problems, fmt.Sprintf("column %s is %s, field %s wants %s", c.Name, h.typ, c.Field.FullName(), c.Type))
		case c == t.Key && !h.pk:
			problems = append(problems, fmt.Sprintf("the key column %s is not the primary key", c.Name))
		}
	}
	var missing []string
	for _, name := range []string{t.Version, sqlschema.SeqColumn} {
		h, ok := have[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case h.typ != "INTEGER":
			problems = append(problems, fmt.Sprintf("column %s is %s, not INTEGER", name, h.typ))
		}
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("sqlitestore: table %q does not match model %s: %s; migrate it (the migration files the plugin writes) before opening the store",
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
		return nil, fmt.Errorf("sqlitestore: model %q has no table: it is not one of the models the store was opened with", model)
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
	err = s.r.QueryRowContext(ctx, t.GetSQL(), k).Scan(&version, &image)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ssotws.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get: %w", err)
	}
	return sqlrows.Record(t, key, version, image, false)
}

// List implements [ssotws.Store]. Records come in creation order (the
// ssotws_seq column); the page token is the creation number of the page's
// last record. A filter on a scope or owner field walks its index.
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
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list: %w", err)
	}
	defer rows.Close()
	page, err := sqlrows.ReadPage(t, rows, size)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list: %w", err)
	}
	return page, nil
}

// NextSequence implements [ssotws.Store].
func (s *TableStore) NextSequence(ctx context.Context, model string) (int64, error) {
	var n int64
	err := s.w.QueryRowContext(ctx,
		`INSERT INTO ssotws_models (name, key_seq) VALUES (?, 1)
ON CONFLICT (name) DO UPDATE SET key_seq = key_seq + 1
RETURNING key_seq`, model).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: next sequence: %w", err)
	}
	return n, nil
}

// Apply implements [ssotws.Store]: one BEGIN IMMEDIATE transaction that
// writes the model's table; its triggers write the change log.
func (s *TableStore) Apply(ctx context.Context, w *ssotws.Write) (*ssotws.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := s.table(w.Model)
	if err != nil {
		return nil, err
	}
	defer s.stmts.fill(context.WithoutCancel(ctx)) // after the transaction
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: apply: %w", err)
	}
	defer tx.Rollback()
	res, err := s.apply(ctx, cachedTx{tx, &s.stmts}, t, w)
	if err != nil {
		return nil, err
	}
	if !res.Replayed {
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
		if s.afterCommit != nil {
			s.afterCommit(w)
		}
		s.wakers.Wake()
	}
	return res, nil
}

func (s *TableStore) apply(ctx context.Context, tx dbtx, t *sqlschema.Table, w *ssotws.Write) (*ssotws.WriteResult, error) {
	var (
		remembered *ssotws.WriteResult
		cur        *ssotws.Record
		err        error
	)
	key, err := t.KeyArg(w.Key)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: apply: %w", err)
	}
	if w.RequestID != "" {
		if remembered, err = replay(ctx, tx, w.Model, w.RequestID); err != nil {
			return nil, err
		}
	}
	if remembered == nil {
		if cur, err = loadRow(ctx, tx, t, w.Key, key); err != nil {
			return nil, err
		}
	}
	plan, err := ssotws.PlanWrite(w, remembered, cur)
	if err != nil {
		return nil, err
	}
	res := plan.Result
	rec := res.Record
	tbl, keyCol := sqlschema.Ident(t.Name), sqlschema.Ident(t.Key.Name)
	switch plan.Step {
	case ssotws.StepReplay:
		return res, nil
	case ssotws.StepInsert, ssotws.StepRecreate, ssotws.StepUpdate:
		args, err := t.RowArgs(rec.Data, key, rec.Version)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
		stmt := t.InsertSQL()
		if plan.Step == ssotws.StepUpdate {
			stmt = t.UpdateSQL()
		}
		if _, err := tx.ExecContext(ctx, stmt, args...); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
	case ssotws.StepDelete:
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s = ?`, tbl, keyCol), key); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
		if w.Data != nil {
			// The tombstone holds the data the delete carries.
			image, err := t.TombstoneImage(w.Key, w.Data)
			if err != nil {
				return nil, fmt.Errorf("sqlitestore: apply: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE ssotws_tombstones SET image = ? WHERE model = ? AND key = ?`, string(image), w.Model, w.Key); err != nil {
				return nil, fmt.Errorf("sqlitestore: apply: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE ssotws_changes SET image = ? WHERE seq = (SELECT max(seq) FROM ssotws_changes)`, string(image)); err != nil {
				return nil, fmt.Errorf("sqlitestore: apply: %w", err)
			}
		}
	}
	if w.RequestID != "" {
		// The change the triggers logged is this transaction's last (the
		// writer holds the database's write lock).
		if _, err := tx.ExecContext(ctx, `UPDATE ssotws_changes SET request_id = ? WHERE seq = (SELECT max(seq) FROM ssotws_changes)`, w.RequestID); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
	}
	if plan.Remember {
		if err := remember(ctx, tx, s.maxRequests, w, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// loadRow reads the record of key, live or tombstone; nil if none.
func loadRow(ctx context.Context, tx dbtx, t *sqlschema.Table, key string, keyArg any) (*ssotws.Record, error) {
	var (
		version int64
		image   []byte
	)
	err := tx.QueryRowContext(ctx, t.GetSQL(), keyArg).Scan(&version, &image)
	deleted := false
	if errors.Is(err, sql.ErrNoRows) {
		deleted = true
		err = tx.QueryRowContext(ctx, `SELECT version, image FROM ssotws_tombstones WHERE model = ? AND key = ?`, t.Model, key).Scan(&version, &image)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: apply: %w", err)
	}
	return sqlrows.Record(t, key, version, image, deleted)
}
