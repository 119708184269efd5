package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlstore"

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
	tables      *sqlstore.Tables
	stmts       stmtCache // the writer's prepared statements
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
	list, err := sqlschema.NewTables(models, sqlschema.SQLite)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}
	tables := sqlstore.NewTables(dialect, list)
	w, r, err := openPools(ctx, path, o, func(ctx context.Context, db *sql.DB) error {
		return migrateTables(ctx, db, tables)
	})
	if err != nil {
		return nil, err
	}
	return &TableStore{w: w, r: r, maxRequests: int64(o.MaxRequests), tables: tables, stmts: stmtCache{db: w}}, nil
}

// dialect is what SQLite's texts and catalog look like to the code the
// stores share.
var dialect = sqlstore.Dialect{
	Name: "sqlitestore",
	SequenceSQL: `INSERT INTO ssotws_models (name, key_seq) VALUES (?, 1)
ON CONFLICT (name) DO UPDATE SET key_seq = key_seq + 1
RETURNING key_seq`,
	NoRows:    sql.ErrNoRows,
	Tombstone: `SELECT version, image FROM ssotws_tombstones WHERE model = ? AND key = ?`,
	Delete:    `DELETE FROM %s WHERE %s = ?`,
	SetTombstoneImage: func(ctx context.Context, tx sqlstore.DB, w *ssotws.Write, image string) error {
		if err := tx.Exec(ctx, `UPDATE ssotws_tombstones SET image = ? WHERE model = ? AND key = ?`, image, w.Model, w.Key); err != nil {
			return err
		}
		return tx.Exec(ctx, `UPDATE ssotws_changes SET image = ? WHERE seq = (SELECT max(seq) FROM ssotws_changes)`, image)
	},
	ColumnType:   strings.ToUpper,
	Integer:      "INTEGER",
	KeyIsPrimary: true,
}

// sqlDB adapts a database/sql pool or transaction to the shared code.
type sqlDB struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (d sqlDB) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return d.q.QueryRowContext(ctx, query, args...)
}

func (d sqlDB) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := d.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return closer{rows}, nil
}

func (d sqlDB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := d.q.ExecContext(ctx, query, args...)
	return err
}

// closer drops the error of Close, which rows.Err reports.
type closer struct{ *sql.Rows }

func (r closer) Close() { _ = r.Rows.Close() }

// Tables returns the store's tables.
func (s *TableStore) Tables() []*sqlschema.Table { return s.tables.All }

// Close closes the database. Calls in flight may fail.
func (s *TableStore) Close() error {
	return errors.Join(s.stmts.Close(), s.r.Close(), s.w.Close())
}

// migrateTables brings the database to the tables, in one transaction.
func migrateTables(ctx context.Context, db *sql.DB, tables *sqlstore.Tables) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: open: %w", err)
	}
	defer tx.Rollback()
	// The missing columns (additive), the indexes and the triggers; a
	// column of another type is an error, never changed.
	if err := tables.Migrate(ctx, sqlDB{tx}, sqlschema.Core(sqlschema.SQLite), `SELECT name, type, pk FROM pragma_table_info(?)`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: open: %w", err)
	}
	return nil
}

func (s *TableStore) table(model string) (*sqlschema.Table, error) { return s.tables.Table(model) }

// Get implements [ssotws.Store].
func (s *TableStore) Get(ctx context.Context, model, key string) (*ssotws.Record, error) {
	return s.tables.Get(ctx, sqlDB{s.r}, model, key)
}

// List implements [ssotws.Store]. Records come in creation order (the
// ssotws_seq column); the page token is the creation number of the page's
// last record. A filter on a scope or owner field walks its index.
func (s *TableStore) List(ctx context.Context, q ssotws.Query) (*ssotws.Page, error) {
	return s.tables.List(ctx, sqlDB{s.r}, q)
}

// NextSequence implements [ssotws.Store].
func (s *TableStore) NextSequence(ctx context.Context, model string) (int64, error) {
	return s.tables.NextSequence(ctx, sqlDB{s.w}, model)
}

// Apply implements [ssotws.Store]: one BEGIN IMMEDIATE transaction that
// writes the model's table; its triggers write the change log.
func (s *TableStore) Apply(ctx context.Context, w *ssotws.Write) (*ssotws.WriteResult, error) {
	return sqlstore.One(s.tables.Apply(ctx, []*ssotws.Write{w}, false, s.applyTx))
}

// ApplyBatch implements [ssotws.Store]: the writes of [TableStore.Apply],
// in one transaction.
func (s *TableStore) ApplyBatch(ctx context.Context, ws []*ssotws.Write) ([]*ssotws.WriteResult, error) {
	return s.tables.Apply(ctx, ws, true, s.applyTx)
}

// applyTx applies ws to their tables in one transaction. With batch set,
// the error of a write names its index.
func (s *TableStore) applyTx(ctx context.Context, tables []*sqlschema.Table, ws []*ssotws.Write, batch bool) ([]*ssotws.WriteResult, error) {
	defer s.stmts.fill(context.WithoutCancel(ctx)) // after the transaction
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: apply: %w", err)
	}
	defer tx.Rollback()
	out := make([]*ssotws.WriteResult, len(ws))
	wrote := false
	for i, w := range ws {
		res, err := s.apply(ctx, cachedTx{tx, &s.stmts}, tables[i], w)
		if err != nil {
			return nil, sqlstore.AtIndex(batch, i, err)
		}
		out[i] = res
		wrote = wrote || !res.Replayed
	}
	if wrote {
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
	}
	return out, nil
}

func (s *TableStore) apply(ctx context.Context, tx cachedTx, t *sqlschema.Table, w *ssotws.Write) (*ssotws.WriteResult, error) {
	var remembered *ssotws.WriteResult
	key, err := t.KeyArg(w.Key)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: apply: %w", err)
	}
	if w.RequestID != "" {
		if remembered, err = replay(ctx, tx, w.Model, w.RequestID); err != nil {
			return nil, err
		}
	}
	plan, err := s.tables.Plan(ctx, sqlDB{tx}, t, w, remembered, key)
	if err != nil {
		return nil, err
	}
	res := plan.Result
	if plan.Step == ssotws.StepReplay {
		return res, nil
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
