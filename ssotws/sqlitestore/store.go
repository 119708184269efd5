package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Options tunes a [Store]. The zero value (or a nil *Options) is the
// default.
type Options struct {
	// MaxRequests bounds how many results of writes with a request id are
	// remembered for idempotency, across all models; the oldest beyond it
	// are forgotten. Zero or less means 100,000, as [ssotws.MemoryStore].
	MaxRequests int
	// BusyTimeout is how long a connection waits for a lock held by another
	// process before failing with SQLITE_BUSY. Zero means 5 seconds.
	BusyTimeout time.Duration
	// MaxReadConns bounds the pool of read connections. Zero or less means
	// max(4, GOMAXPROCS).
	MaxReadConns int
	// FullSync makes every commit wait for the disk (PRAGMA synchronous =
	// FULL). By default commits use synchronous = NORMAL, which in WAL mode
	// survives a crash of the process but may lose the last commits on a
	// power failure or an operating-system crash.
	FullSync bool
}

// DefaultMaxRequests is the number of request results remembered for
// idempotency when [Options.MaxRequests] is not set.
const DefaultMaxRequests = ssotws.DefaultMaxRequests

// schemaVersion is stored in PRAGMA user_version.
const schemaVersion = 1

// maxPageSize keeps LIMIT from overflowing.
const maxPageSize = 1 << 30

// Store is an [ssotws.Store] kept in a SQLite database file. It is safe for
// concurrent use. Open it with [Open] and close it with [Store.Close].
type Store struct {
	w           *sql.DB // exactly one connection: the writer
	r           *sql.DB // read-only connections
	maxRequests int64
}

var _ ssotws.Store = (*Store)(nil)

// schema is version 1 of the database.
//
//   - models holds each model's NextSequence counter.
//   - records holds one row per (model, key), live or tombstone. Its id is the
//     creation order (AUTOINCREMENT, so an id is never reused); a re-created
//     key gets a new row, and so goes to the end of the order, as in
//     ssotws.MemoryStore. records_live, a partial index of the live rows
//     by (model, id), serves a List without filters in creation order
//     without stepping over tombstones.
//   - record_fields holds the non-empty field values of live records, for
//     equality filters.
//   - requests remembers the results of writes with a request id; seq is
//     dense, so pruning is a range delete on the primary key.
const schema = `
CREATE TABLE models (
	name    TEXT PRIMARY KEY,
	key_seq INTEGER NOT NULL
);
CREATE TABLE records (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	model   TEXT NOT NULL,
	key     TEXT NOT NULL,
	version INTEGER NOT NULL,
	deleted INTEGER NOT NULL,
	data    BLOB,
	fields  TEXT
);
CREATE UNIQUE INDEX records_model_key ON records (model, key);
CREATE INDEX records_live ON records (model, id) WHERE deleted = 0;
CREATE TABLE record_fields (
	record_id INTEGER NOT NULL,
	model     TEXT NOT NULL,
	name      TEXT NOT NULL,
	value     TEXT NOT NULL,
	PRIMARY KEY (record_id, name)
) WITHOUT ROWID;
CREATE INDEX record_fields_filter ON record_fields (model, name, value, record_id);
CREATE TABLE requests (
	seq          INTEGER PRIMARY KEY,
	model        TEXT NOT NULL,
	request_id   TEXT NOT NULL,
	kind         INTEGER NOT NULL,
	key          TEXT NOT NULL,
	version      INTEGER NOT NULL,
	deleted      INTEGER NOT NULL,
	data         BLOB,
	fields       TEXT,
	prev_version INTEGER,
	prev_deleted INTEGER,
	prev_data    BLOB,
	prev_fields  TEXT
);
CREATE UNIQUE INDEX requests_model_request ON requests (model, request_id);
`

// Open opens the SQLite database at path, creating the file and the schema
// if needed. path is a file name; SQLite also creates path-wal and path-shm
// beside it. opts may be nil.
func Open(ctx context.Context, path string, opts *Options) (*Store, error) {
	o := withDefaults(opts)
	w, r, err := openPools(ctx, path, o, migrate)
	if err != nil {
		return nil, err
	}
	return &Store{w: w, r: r, maxRequests: int64(o.MaxRequests)}, nil
}

// withDefaults fills in the defaults of opts (which may be nil).
func withDefaults(opts *Options) Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxRequests <= 0 {
		o.MaxRequests = DefaultMaxRequests
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.MaxReadConns <= 0 {
		o.MaxReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	return o
}

// openPools opens the writer (one connection, BEGIN IMMEDIATE
// transactions), runs setup on it, then opens the read-only pool.
func openPools(ctx context.Context, path string, o Options, setup func(context.Context, *sql.DB) error) (w, r *sql.DB, err error) {
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil, nil, fmt.Errorf("sqlitestore: path %q is not a file name", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlitestore: %w", err)
	}
	sync := "NORMAL"
	if o.FullSync {
		sync = "FULL"
	}
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", sync)
	q.Set("_txlock", "immediate")
	// The file: URI form escapes any character of the path (a '?' would
	// otherwise start the query).
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive: file:///C:/...
	}
	dsn := (&url.URL{Scheme: "file", Path: p}).String()

	w, err = sql.Open("sqlite", dsn+"?"+q.Encode())
	if err != nil {
		return nil, nil, fmt.Errorf("sqlitestore: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := setup(ctx, w); err != nil {
		w.Close()
		return nil, nil, err
	}

	q.Del("_txlock")
	q.Set("_query_only", "1")
	r, err = sql.Open("sqlite", dsn+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("sqlitestore: %w", err)
	}
	r.SetMaxOpenConns(o.MaxReadConns)
	r.SetMaxIdleConns(o.MaxReadConns)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, nil, fmt.Errorf("sqlitestore: %w", err)
	}
	return w, r, nil
}

// migrate creates the schema or checks that the file's is known.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: open: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("sqlitestore: open: %w", err)
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("sqlitestore: the database's schema version %d is newer than this build's %d", v, schemaVersion)
	}
	// v == 0: a new file. (Later versions add steps from v here.)
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("sqlitestore: create schema: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("sqlitestore: create schema: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: create schema: %w", err)
	}
	return nil
}

// Close closes the database. Calls in flight may fail.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// Get implements [ssotws.Store].
func (s *Store) Get(ctx context.Context, model, key string) (*ssotws.Record, error) {
	var (
		rec    = &ssotws.Record{Key: key}
		fields sql.NullString
	)
	err := s.r.QueryRowContext(ctx,
		`SELECT version, data, fields FROM records WHERE model = ? AND key = ? AND deleted = 0`,
		model, key).Scan(&rec.Version, &rec.Data, &fields)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ssotws.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get: %w", err)
	}
	if rec.Fields, err = decodeFields(fields); err != nil {
		return nil, err
	}
	return rec, nil
}

// List implements [ssotws.Store]. Records come in creation order; the page
// token is the creation id of the page's last record.
func (s *Store) List(ctx context.Context, q ssotws.Query) (*ssotws.Page, error) {
	after, err := ssotws.ParsePageToken(q.PageToken)
	if err != nil {
		return nil, err
	}
	size := q.PageSize
	if size <= 0 {
		size = ssotws.DefaultPageSize
	}
	size = min(size, maxPageSize)

	query, args := listQuery(q.Model, q.Filters, after, size+1)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list: %w", err)
	}
	defer rows.Close()
	page := &ssotws.Page{}
	var lastID int64
	for rows.Next() {
		if len(page.Records) == size {
			page.NextPageToken = ssotws.FormatPageToken(lastID)
			break
		}
		var (
			rec    ssotws.Record
			fields sql.NullString
		)
		if err := rows.Scan(&lastID, &rec.Key, &rec.Version, &rec.Data, &fields); err != nil {
			return nil, fmt.Errorf("sqlitestore: list: %w", err)
		}
		if rec.Fields, err = decodeFields(fields); err != nil {
			return nil, err
		}
		page.Records = append(page.Records, &rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list: %w", err)
	}
	return page, nil
}

// listQuery builds the List statement. When a filter asks for a non-empty
// value, the first such filter drives the query through the
// record_fields_filter index (CROSS JOIN fixes the join order), which yields
// the matching records already in creation order; the other filters are
// checked per record on record_fields' primary key. A filter on the empty
// value matches a record with no row for the field (empty values are not
// stored).
func listQuery(model string, filters []ssotws.Filter, after int64, limit int) (string, []any) {
	var (
		b    strings.Builder
		args []any
	)
	drive := -1
	for i, f := range filters {
		if f.Value != "" {
			drive = i
			break
		}
	}
	if drive >= 0 {
		f := filters[drive]
		b.WriteString(`SELECT r.id, r.key, r.version, r.data, r.fields
FROM record_fields d CROSS JOIN records r ON r.id = d.record_id
WHERE d.model = ? AND d.name = ? AND d.value = ? AND d.record_id > ? AND r.deleted = 0`)
		args = append(args, model, f.Field, f.Value, after)
	} else {
		b.WriteString(`SELECT r.id, r.key, r.version, r.data, r.fields
FROM records r
WHERE r.model = ? AND r.id > ? AND r.deleted = 0`)
		args = append(args, model, after)
	}
	for i, f := range filters {
		if i == drive {
			continue
		}
		if f.Value == "" {
			b.WriteString("\nAND NOT EXISTS (SELECT 1 FROM record_fields f WHERE f.record_id = r.id AND f.name = ?)")
			args = append(args, f.Field)
		} else {
			b.WriteString("\nAND EXISTS (SELECT 1 FROM record_fields f WHERE f.record_id = r.id AND f.name = ? AND f.value = ?)")
			args = append(args, f.Field, f.Value)
		}
	}
	if drive >= 0 {
		b.WriteString("\nORDER BY d.record_id")
	} else {
		b.WriteString("\nORDER BY r.id")
	}
	b.WriteString("\nLIMIT ?")
	args = append(args, limit)
	return b.String(), args
}

// NextSequence implements [ssotws.Store].
func (s *Store) NextSequence(ctx context.Context, model string) (int64, error) {
	var n int64
	err := s.w.QueryRowContext(ctx,
		`INSERT INTO models (name, key_seq) VALUES (?, 1)
ON CONFLICT (name) DO UPDATE SET key_seq = key_seq + 1
RETURNING key_seq`, model).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: next sequence: %w", err)
	}
	return n, nil
}

// Apply implements [ssotws.Store]: one BEGIN IMMEDIATE transaction on the
// writer connection.
func (s *Store) Apply(ctx context.Context, w *ssotws.Write) (*ssotws.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: apply: %w", err)
	}
	defer tx.Rollback()
	res, err := s.apply(ctx, tx, w)
	if err != nil {
		return nil, err
	}
	if !res.Replayed {
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
	}
	return res, nil
}

// apply reads what [ssotws.PlanWrite] needs and persists its plan.
func (s *Store) apply(ctx context.Context, tx *sql.Tx, w *ssotws.Write) (*ssotws.WriteResult, error) {
	var (
		remembered *ssotws.WriteResult
		id         int64          // of the key's row (of the new row, once inserted)
		cur        *ssotws.Record // the key's row, live or tombstone; nil if none
		err        error
	)
	if w.RequestID != "" {
		if remembered, err = replay(ctx, tx, "requests", w.Model, w.RequestID); err != nil {
			return nil, err
		}
	}
	if remembered == nil {
		if id, cur, err = load(ctx, tx, w.Model, w.Key); err != nil {
			return nil, err
		}
	}
	plan, err := ssotws.PlanWrite(w, remembered, cur)
	if err != nil {
		return nil, err
	}
	res := plan.Result
	rec := res.Record
	switch plan.Step {
	case ssotws.StepReplay:
		return res, nil
	case ssotws.StepInsert, ssotws.StepRecreate:
		if plan.Step == ssotws.StepRecreate {
			// The re-created record takes a new place in the creation
			// order: a new row.
			if _, err := tx.ExecContext(ctx, `DELETE FROM records WHERE id = ?`, id); err != nil {
				return nil, fmt.Errorf("sqlitestore: apply: %w", err)
			}
		}
		fields, err := encodeFields(rec.Fields)
		if err != nil {
			return nil, err
		}
		err = tx.QueryRowContext(ctx,
			`INSERT INTO records (model, key, version, deleted, data, fields) VALUES (?, ?, ?, 0, ?, ?) RETURNING id`,
			w.Model, rec.Key, rec.Version, rec.Data, fields).Scan(&id)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
		if err := insertFields(ctx, tx, id, w.Model, rec.Fields); err != nil {
			return nil, err
		}
	case ssotws.StepUpdate:
		fields, err := encodeFields(rec.Fields)
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE records SET version = ?, data = ?, fields = ? WHERE id = ?`,
			rec.Version, rec.Data, fields, id); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM record_fields WHERE record_id = ?`, id); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
		if err := insertFields(ctx, tx, id, w.Model, rec.Fields); err != nil {
			return nil, err
		}
	case ssotws.StepDelete:
		if _, err := tx.ExecContext(ctx,
			`UPDATE records SET version = ?, deleted = 1, data = ? WHERE id = ?`,
			rec.Version, rec.Data, id); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM record_fields WHERE record_id = ?`, id); err != nil {
			return nil, fmt.Errorf("sqlitestore: apply: %w", err)
		}
	}
	if plan.Remember {
		if err := remember(ctx, tx, "requests", s.maxRequests, w, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// load reads the row of (model, key): its id and its record, live or
// tombstone; a nil record if there is none.
func load(ctx context.Context, tx *sql.Tx, model, key string) (int64, *ssotws.Record, error) {
	var (
		id     int64
		rec    = &ssotws.Record{Key: key}
		fields sql.NullString
	)
	err := tx.QueryRowContext(ctx,
		`SELECT id, version, deleted, data, fields FROM records WHERE model = ? AND key = ?`,
		model, key).Scan(&id, &rec.Version, &rec.Deleted, &rec.Data, &fields)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("sqlitestore: apply: %w", err)
	}
	if rec.Fields, err = decodeFields(fields); err != nil {
		return 0, nil, err
	}
	return id, rec, nil
}

// insertFields adds the non-empty field values of a live record to the
// filter index.
func insertFields(ctx context.Context, tx *sql.Tx, id int64, model string, fields map[string]string) error {
	for name, value := range fields {
		if value == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO record_fields (record_id, model, name, value) VALUES (?, ?, ?, ?)`,
			id, model, name, value); err != nil {
			return fmt.Errorf("sqlitestore: apply: %w", err)
		}
	}
	return nil
}

// replay returns the remembered result of (model, requestID), or nil.
func replay(ctx context.Context, tx *sql.Tx, table, model, requestID string) (*ssotws.WriteResult, error) {
	var (
		rec                ssotws.Record
		fields, prevFields sql.NullString
		prevVersion        sql.NullInt64
		prevDeleted        sql.NullBool
		prevData           []byte
		kind               int
	)
	err := tx.QueryRowContext(ctx,
		`SELECT kind, key, version, deleted, data, fields, prev_version, prev_deleted, prev_data, prev_fields
FROM `+table+` WHERE model = ? AND request_id = ?`, model, requestID).Scan(
		&kind, &rec.Key, &rec.Version, &rec.Deleted, &rec.Data, &fields,
		&prevVersion, &prevDeleted, &prevData, &prevFields)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: apply: %w", err)
	}
	if rec.Fields, err = decodeFields(fields); err != nil {
		return nil, err
	}
	res := &ssotws.WriteResult{Record: &rec}
	if prevVersion.Valid {
		prev := &ssotws.Record{Key: rec.Key, Version: prevVersion.Int64, Deleted: prevDeleted.Bool, Data: prevData}
		if prev.Fields, err = decodeFields(prevFields); err != nil {
			return nil, err
		}
		res.Previous = prev
	}
	return res, nil
}

// remember stores the result of w for idempotency and forgets the oldest
// results beyond the bound. Request rows are inserted with dense seq values
// (rowid = max + 1, and only the oldest are ever deleted), so the rows to
// forget are those at or below seq - maxRequests.
func remember(ctx context.Context, tx *sql.Tx, table string, maxRequests int64, w *ssotws.Write, res *ssotws.WriteResult) error {
	fields, err := encodeFields(res.Record.Fields)
	if err != nil {
		return err
	}
	var (
		prevVersion, prevDeleted, prevData, prevFields any
	)
	if p := res.Previous; p != nil {
		pf, err := encodeFields(p.Fields)
		if err != nil {
			return err
		}
		prevVersion, prevDeleted, prevData, prevFields = p.Version, p.Deleted, p.Data, pf
	}
	var seq int64
	err = tx.QueryRowContext(ctx,
		`INSERT INTO `+table+` (model, request_id, kind, key, version, deleted, data, fields,
	prev_version, prev_deleted, prev_data, prev_fields)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
		w.Model, w.RequestID, int(w.Kind), res.Record.Key, res.Record.Version, res.Record.Deleted,
		res.Record.Data, fields, prevVersion, prevDeleted, prevData, prevFields).Scan(&seq)
	if err != nil {
		return fmt.Errorf("sqlitestore: apply: %w", err)
	}
	if seq > maxRequests {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE seq <= ?`, seq-maxRequests); err != nil {
			return fmt.Errorf("sqlitestore: apply: %w", err)
		}
	}
	return nil
}

// encodeFields is the JSON form of fields; nil stays NULL.
func encodeFields(fields map[string]string) (any, error) {
	if fields == nil {
		return nil, nil
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: encode fields: %w", err)
	}
	return string(b), nil
}

func decodeFields(s sql.NullString) (map[string]string, error) {
	if !s.Valid {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s.String), &m); err != nil {
		return nil, fmt.Errorf("sqlitestore: decode fields: %w", err)
	}
	return m, nil
}
