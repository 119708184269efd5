// Package sqlstore holds what the SQLite and PostgreSQL table stores
// (sqlitestore.TableStore, pgstore.TableStore) do alike: reading records
// and pages; planning a write on the row it loads and carrying out the
// planned step (this file); bringing the database to the models' tables
// (migrate.go); publishing a batch of the change log (publish.go); and
// copying the single-table layout (copy.go). Each store keeps what really
// differs: its driver, its transactions and retries, its SQL texts
// (placeholders, row locks, the change log's bookkeeping), which it hands
// over in a [Dialect], and its relay's wake-up source.
package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlrelay"
	"github.com/ssot-codegen/ssot-ws/ssotws/internal/sqlrows"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlschema"
)

// MaxPageSize keeps LIMIT from overflowing.
const MaxPageSize = 1 << 30

// Row is one row of a query: *sql.Row and pgx.Row.
type Row interface {
	Scan(dest ...any) error
}

// Rows are the rows of a query; Close releases them.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// DB is a pool, connection or transaction of either driver, adapted by its
// store.
type DB interface {
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	Exec(ctx context.Context, query string, args ...any) error
}

// Dialect is what differs between the engines in the code they share.
type Dialect struct {
	// Name starts every error: the store's package name.
	Name string
	// NoRows is the driver's error for a query that found no row.
	NoRows error
	// LockRow follows a table's get query when a write loads its row
	// (" FOR UPDATE" where the engine locks rows).
	LockRow string
	// Tombstone reads the version and image of a tombstone by model and
	// key, locking it where the engine locks rows.
	Tombstone string
	// Delete is the format of the statement deleting a row by its key,
	// given the quoted table and key column.
	Delete string
	// SetTombstoneImage stores the data a delete carries as the image of
	// the tombstone and of the change the triggers logged.
	SetTombstoneImage func(ctx context.Context, tx DB, w *ssotws.Write, image string) error
	// ColumnType is the form in which the engine's catalog names a column
	// type of the DDL.
	ColumnType func(string) string
	// Integer is the type of the bookkeeping columns, as the catalog names
	// it.
	Integer string
	// KeyIsPrimary: the catalog tells whether a column is the primary
	// key, and the key column must be.
	KeyIsPrimary bool
	// SequenceSQL increments a model's key sequence and returns the new
	// value; its one parameter is the model.
	SequenceSQL string
}

// Tables are a store's model tables, its dialect and what runs after
// each of its commits.
type Tables struct {
	Dialect
	All     []*sqlschema.Table // in the order the store was opened with
	byModel map[string]*sqlschema.Table
	texts   map[*sqlschema.Table]*texts

	// Wakers are the store's relays, woken after a commit.
	Wakers sqlrelay.Wakers
	// AfterCommit, when set (by tests), runs after a write commits and
	// before Apply returns: a crash there loses nothing.
	AfterCommit func(*ssotws.Write)
}

// NewTables returns the tables of a store of d.
func NewTables(d Dialect, tables []*sqlschema.Table) *Tables {
	ts := &Tables{Dialect: d, All: tables, byModel: make(map[string]*sqlschema.Table, len(tables)), texts: make(map[*sqlschema.Table]*texts, len(tables))}
	for _, t := range tables {
		ts.byModel[t.Model] = t
		ts.texts[t] = &texts{
			get:    t.GetSQL(),
			load:   t.GetSQL() + d.LockRow,
			insert: t.InsertSQL(),
			update: t.UpdateSQL(),
			delete: fmt.Sprintf(d.Delete, sqlschema.Ident(t.Name), sqlschema.Ident(t.Key.Name)),
		}
	}
	return ts
}

// texts are a table's statements, built once: a write's are the same
// each time.
type texts struct {
	get, load, insert, update, delete string
}

// Table returns the table of model, or an error naming it.
func (ts *Tables) Table(model string) (*sqlschema.Table, error) {
	t, ok := ts.byModel[model]
	if !ok {
		return nil, fmt.Errorf("%s: model %q has no table: it is not one of the models the store was opened with", ts.Name, model)
	}
	return t, nil
}

// Writable returns the tables the writes ws go to, unless ctx is done.
// With batch set, the error of a write names its index.
func (ts *Tables) Writable(ctx context.Context, ws []*ssotws.Write, batch bool) ([]*sqlschema.Table, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tables := make([]*sqlschema.Table, len(ws))
	for i, w := range ws {
		t, err := ts.Table(w.Model)
		if err != nil {
			return nil, AtIndex(batch, i, err)
		}
		tables[i] = t
	}
	return tables, nil
}

// Apply writes ws through applyTx, which writes them in one transaction
// of the store's (with batch set, naming the index of a failed write),
// then runs [Tables.Committed].
func (ts *Tables) Apply(ctx context.Context, ws []*ssotws.Write, batch bool,
	applyTx func(context.Context, []*sqlschema.Table, []*ssotws.Write, bool) ([]*ssotws.WriteResult, error)) ([]*ssotws.WriteResult, error) {
	tables, err := ts.Writable(ctx, ws, batch)
	if err != nil {
		return nil, err
	}
	res, err := applyTx(ctx, tables, ws, batch)
	if err != nil {
		return nil, err
	}
	ts.Committed(ws, res)
	return res, nil
}

// NextSequence implements [ssotws.Store.NextSequence] on db.
func (ts *Tables) NextSequence(ctx context.Context, db DB, model string) (int64, error) {
	var n int64
	if err := db.QueryRow(ctx, ts.SequenceSQL, model).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: next sequence: %w", ts.Name, err)
	}
	return n, nil
}

// One is the result of the one write a store's Apply hands its batch path.
func One(res []*ssotws.WriteResult, err error) (*ssotws.WriteResult, error) {
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// AtIndex names the index of the failed write of a batch.
func AtIndex(batch bool, i int, err error) error {
	if batch {
		return ssotws.AtIndex(i, err)
	}
	return err
}

// Committed runs after the writes ws committed with the results res: the
// test hook for each that was not a replay, then the relays' wake-up. It
// reports whether anything was written.
func (ts *Tables) Committed(ws []*ssotws.Write, res []*ssotws.WriteResult) bool {
	wrote := false
	for i, w := range ws {
		if res[i].Replayed {
			continue
		}
		wrote = true
		if ts.AfterCommit != nil {
			ts.AfterCommit(w)
		}
	}
	if wrote {
		ts.Wakers.Wake()
	}
	return wrote
}

// Get implements [ssotws.Store.Get] on db.
func (ts *Tables) Get(ctx context.Context, db DB, model, key string) (*ssotws.Record, error) {
	t, err := ts.Table(model)
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
	err = db.QueryRow(ctx, ts.texts[t].get, k).Scan(&version, &image)
	if errors.Is(err, ts.NoRows) {
		return nil, ssotws.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get: %w", ts.Name, err)
	}
	return sqlrows.Record(t, key, version, image, false)
}

// List implements [ssotws.Store.List] on db, in creation order
// (ssotws_seq).
func (ts *Tables) List(ctx context.Context, db DB, q ssotws.Query) (*ssotws.Page, error) {
	after, err := ssotws.ParsePageToken(q.PageToken)
	if err != nil {
		return nil, err
	}
	t, err := ts.Table(q.Model)
	if err != nil {
		return nil, err
	}
	size := q.PageSize
	if size <= 0 {
		size = ssotws.DefaultPageSize
	}
	size = min(size, MaxPageSize)
	query, args, ok := t.ListQuery(q.Filters, after, size+1)
	if !ok {
		return &ssotws.Page{}, nil
	}
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: list: %w", ts.Name, err)
	}
	defer rows.Close()
	page, err := sqlrows.ReadPage(t, rows, size)
	if err != nil {
		return nil, fmt.Errorf("%s: list: %w", ts.Name, err)
	}
	return page, nil
}

// load reads, inside a write's transaction, the record of key (keyArg as
// the key column holds it), live or tombstone; nil if there is none.
func (ts *Tables) load(ctx context.Context, tx DB, t *sqlschema.Table, key string, keyArg any) (*ssotws.Record, error) {
	var (
		version int64
		image   []byte
	)
	err := tx.QueryRow(ctx, ts.texts[t].load, keyArg).Scan(&version, &image)
	deleted := false
	if errors.Is(err, ts.NoRows) {
		deleted = true
		err = tx.QueryRow(ctx, ts.Tombstone, t.Model, key).Scan(&version, &image)
		if errors.Is(err, ts.NoRows) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: apply: %w", ts.Name, err)
	}
	return sqlrows.Record(t, key, version, image, deleted)
}

// Plan decides w inside its transaction and carries it out unless it is
// a replay: it loads the row of w's key unless remembered (the result of
// the same request, if the store remembers one) answers it, plans with
// [ssotws.PlanWrite] and writes the table (keyArg is the key as the key
// column holds it).
func (ts *Tables) Plan(ctx context.Context, tx DB, t *sqlschema.Table, w *ssotws.Write, remembered *ssotws.WriteResult, keyArg any) (ssotws.WritePlan, error) {
	var cur *ssotws.Record
	if remembered == nil {
		var err error
		if cur, err = ts.load(ctx, tx, t, w.Key, keyArg); err != nil {
			return ssotws.WritePlan{}, err
		}
	}
	plan, err := ssotws.PlanWrite(w, remembered, cur)
	if err != nil || plan.Step == ssotws.StepReplay {
		return plan, err
	}
	return plan, ts.write(ctx, tx, t, w, &plan, keyArg)
}

// write carries out the step plan decided for w on t's table, inside the
// write's transaction; keyArg is the key as the key column holds it. The
// triggers log the change.
func (ts *Tables) write(ctx context.Context, tx DB, t *sqlschema.Table, w *ssotws.Write, plan *ssotws.WritePlan, keyArg any) error {
	fail := func(err error) error { return fmt.Errorf("%s: apply: %w", ts.Name, err) }
	rec := plan.Result.Record
	switch plan.Step {
	case ssotws.StepInsert, ssotws.StepRecreate, ssotws.StepUpdate:
		args, err := t.RowArgs(rec.Data, keyArg, rec.Version)
		if err != nil {
			return fail(err)
		}
		stmt := ts.texts[t].insert
		if plan.Step == ssotws.StepUpdate {
			stmt = ts.texts[t].update
		}
		if err := tx.Exec(ctx, stmt, args...); err != nil {
			return fail(err)
		}
	case ssotws.StepDelete:
		if err := tx.Exec(ctx, ts.texts[t].delete, keyArg); err != nil {
			return fail(err)
		}
		if w.Data != nil {
			// The tombstone holds the data the delete carries.
			image, err := t.TombstoneImage(w.Key, w.Data)
			if err != nil {
				return fail(err)
			}
			if err := ts.SetTombstoneImage(ctx, tx, w, string(image)); err != nil {
				return fail(err)
			}
		}
	}
	return nil
}
