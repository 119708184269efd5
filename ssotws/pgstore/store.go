package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// Options tunes a [Store]. The zero value (or a nil *Options) is the
// default.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables; it is
	// created if missing. Empty means the connection's current schema
	// (the first of its search_path that exists, usually "public").
	Schema string
	// MaxRequests bounds how many results of writes with a request id are
	// remembered for idempotency, across all models; the oldest beyond it
	// are forgotten. Zero or less means [DefaultMaxRequests], as
	// [ssotws.MemoryStore]. Each node prunes to its own bound.
	MaxRequests int
	// MaxAttempts bounds how many times a write that lost a race to
	// another transaction (a serialization failure, a deadlock, a
	// concurrent create of the same key) is tried. Zero or less means
	// [DefaultMaxAttempts].
	MaxAttempts int
}

// DefaultMaxRequests is the number of request results remembered for
// idempotency when [Options.MaxRequests] is not set.
const DefaultMaxRequests = ssotws.DefaultMaxRequests

// DefaultMaxAttempts is the number of tries of a write when
// [Options.MaxAttempts] is not set.
const DefaultMaxAttempts = 20

// maxPageSize keeps LIMIT reasonable.
const maxPageSize = 1 << 30

// Store is an [ssotws.Store] kept in a PostgreSQL database. It is safe for
// concurrent use, and several Stores (on several nodes) may share one
// database and schema. Create it with [Open] or [New] and release it with
// [Store.Close].
type Store struct {
	pool        *pgxpool.Pool
	ownPool     bool
	schema      string
	maxRequests int64
	maxAttempts int
	q           queries
}

var _ ssotws.Store = (*Store)(nil)

// Open connects to the database named by connString (a PostgreSQL URL or
// key=value string, as [pgxpool.ParseConfig] takes), creates or migrates
// the store's tables, and returns the store. [Store.Close] closes the
// connection pool. opts may be nil.
func Open(ctx context.Context, connString string, opts *Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	s, err := New(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = true
	return s, nil
}

// New returns a store on pool, creating or migrating its tables. The pool
// stays the caller's: [Store.Close] does not close it. opts may be nil.
func New(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
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
		var cur *string
		if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&cur); err != nil {
			return nil, fmt.Errorf("pgstore: open: %w", err)
		}
		if cur == nil {
			return nil, errors.New("pgstore: open: the connection has no current schema (empty search_path): set Options.Schema")
		}
		o.Schema = *cur
	}
	if err := migrate(ctx, pool, o.Schema); err != nil {
		return nil, err
	}
	return &Store{
		pool:        pool,
		schema:      o.Schema,
		maxRequests: int64(o.MaxRequests),
		maxAttempts: o.MaxAttempts,
		q:           newQueries(o.Schema),
	}, nil
}

// Schema returns the name of the schema that holds the store's tables.
func (s *Store) Schema() string { return s.schema }

// Close closes the connection pool if [Open] made it; a pool handed to
// [New] stays open. Calls in flight may fail.
func (s *Store) Close() error {
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}

// queries are the statements, qualified with the store's schema.
type queries struct {
	get, nextSeq                              string
	listAll, listDriven, probeEq, probeAbsent string
	claim, replay, lock                       string
	insertRecord, recreateRecord              string
	updateRecord, deleteRecord                string
	insertFields, insertFieldsByKey           string
	deleteFields, finishRequest, pruneRequest string
}

func newQueries(schema string) queries {
	q := func(s string) string { return qualify(s, schema) }
	// modelSeq takes the model's next creation number, locking the model's
	// row to the commit.
	const modelSeq = `WITH m AS (
	INSERT INTO {{s}}ssotws_models AS m (name, create_seq) VALUES ($1, 1)
	ON CONFLICT (name) DO UPDATE SET create_seq = m.create_seq + 1
	RETURNING create_seq)
`
	return queries{
		get: q(`SELECT version, data, field_names, field_values FROM {{s}}ssotws_records
WHERE model = $1 AND key_hash = $2 AND key = $3 AND NOT deleted`),
		nextSeq: q(`INSERT INTO {{s}}ssotws_sequences AS s (model, value) VALUES ($1, 1)
ON CONFLICT (model) DO UPDATE SET value = s.value + 1 RETURNING value`),
		listAll: q(`SELECT r.id, r.key, r.version, r.data, r.field_names, r.field_values
FROM {{s}}ssotws_records r
WHERE r.model = $1 AND r.id > $2 AND NOT r.deleted`),
		listDriven: q(`SELECT r.id, r.key, r.version, r.data, r.field_names, r.field_values
FROM {{s}}ssotws_record_fields d JOIN {{s}}ssotws_records r ON r.model = d.model AND r.id = d.record_id
WHERE d.model = $1 AND d.record_id > $2 AND d.name = $3 AND d.hash = $4 AND d.value = $5 AND NOT r.deleted`),
		probeEq: q(`
AND EXISTS (SELECT 1 FROM {{s}}ssotws_record_fields f WHERE f.model = r.model AND f.record_id = r.id AND f.name = $%d AND f.value = $%d)`),
		probeAbsent: q(`
AND NOT EXISTS (SELECT 1 FROM {{s}}ssotws_record_fields f WHERE f.model = r.model AND f.record_id = r.id AND f.name = $%d)`),
		claim: q(`INSERT INTO {{s}}ssotws_requests (model, request_hash) VALUES ($1, $2)
ON CONFLICT (model, request_hash) DO NOTHING`),
		replay: q(`SELECT key, version, deleted, data, field_names, field_values,
	prev_version, prev_deleted, prev_data, prev_field_names, prev_field_values
FROM {{s}}ssotws_requests WHERE model = $1 AND request_hash = $2 AND seq IS NOT NULL`),
		lock: q(`SELECT id, version, deleted, data, field_names, field_values FROM {{s}}ssotws_records
WHERE model = $1 AND key_hash = $2 AND key = $3 FOR UPDATE`),
		insertRecord: q(modelSeq + `INSERT INTO {{s}}ssotws_records
	(model, id, key_hash, key, version, deleted, data, field_names, field_values)
SELECT $1, m.create_seq, $2, $3, $4, false, $5, $6, $7 FROM m`),
		recreateRecord: q(modelSeq + `UPDATE {{s}}ssotws_records r
SET id = m.create_seq, version = $3, deleted = false, data = $4, field_names = $5, field_values = $6
FROM m WHERE r.model = $1 AND r.id = $2`),
		updateRecord: q(`UPDATE {{s}}ssotws_records
SET version = $3, deleted = $4, data = $5, field_names = $6, field_values = $7
WHERE model = $1 AND id = $2`),
		insertFields: q(`INSERT INTO {{s}}ssotws_record_fields (model, record_id, name, hash, value)
SELECT $1, $2, f.name, f.hash, f.value FROM unnest($3::text[], $4::bigint[], $5::bytea[]) AS f(name, hash, value)`),
		insertFieldsByKey: q(`INSERT INTO {{s}}ssotws_record_fields (model, record_id, name, hash, value)
SELECT $1, r.id, f.name, f.hash, f.value
FROM {{s}}ssotws_records r, unnest($3::text[], $4::bigint[], $5::bytea[]) AS f(name, hash, value)
WHERE r.model = $1 AND r.key_hash = $2`),
		deleteFields: q(`DELETE FROM {{s}}ssotws_record_fields WHERE model = $1 AND record_id = $2`),
		finishRequest: q(`UPDATE {{s}}ssotws_requests SET seq = nextval({{seq}}),
	kind = $3, key = $4, version = $5, deleted = $6, data = $7, field_names = $8, field_values = $9,
	prev_version = $10, prev_deleted = $11, prev_data = $12, prev_field_names = $13, prev_field_values = $14
WHERE model = $1 AND request_hash = $2`),
		// Pruning skips rows that another writer is pruning, so that
		// concurrent writers do not queue on the oldest rows; what one
		// skips, a later one deletes.
		pruneRequest: q(`DELETE FROM {{s}}ssotws_requests WHERE (model, request_hash) IN (
	SELECT model, request_hash FROM {{s}}ssotws_requests
	WHERE seq <= currval({{seq}}) - $1 FOR UPDATE SKIP LOCKED)`),
	}
}

// hashKey is the SHA-256 of a key or request id: their unique index is on
// it, as a B-tree entry cannot hold a long key.
func hashKey(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// hashValue is the filter index's hash of a field value; the value itself
// is compared too, so a collision costs a row read, not a wrong answer.
func hashValue(s string) int64 {
	h := sha256.Sum256([]byte(s))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// bytesOf is s as a non-nil slice (a nil slice would be NULL).
func bytesOf(s string) []byte {
	if s == "" {
		return []byte{}
	}
	return []byte(s)
}

// encodeFields splits fields into parallel name and value arrays, sorted by
// name; nil stays NULL.
func encodeFields(fields map[string]string) ([]string, [][]byte) {
	if fields == nil {
		return nil, nil
	}
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	values := make([][]byte, len(names))
	for i, n := range names {
		values[i] = bytesOf(fields[n])
	}
	return names, values
}

func decodeFields(names []string, values [][]byte) (map[string]string, error) {
	if names == nil {
		return nil, nil
	}
	if len(names) != len(values) {
		return nil, errors.New("pgstore: field names and values differ in length")
	}
	m := make(map[string]string, len(names))
	for i, n := range names {
		m[n] = string(values[i])
	}
	return m, nil
}

// filterRows are the non-empty values of fields as the arrays of
// insertFields.
func filterRows(fields map[string]string) (names []string, hashes []int64, values [][]byte) {
	names, hashes, values = []string{}, []int64{}, [][]byte{}
	for n, v := range fields {
		if v == "" {
			continue
		}
		names = append(names, n)
		hashes = append(hashes, hashValue(v))
		values = append(values, []byte(v))
	}
	return names, hashes, values
}

// Get implements [ssotws.Store].
func (s *Store) Get(ctx context.Context, model, key string) (*ssotws.Record, error) {
	var (
		rec    = &ssotws.Record{Key: key}
		names  []string
		values [][]byte
	)
	err := s.pool.QueryRow(ctx, s.q.get, model, hashKey(key), bytesOf(key)).Scan(&rec.Version, &rec.Data, &names, &values)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ssotws.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: get: %w", err)
	}
	if rec.Fields, err = decodeFields(names, values); err != nil {
		return nil, err
	}
	return rec, nil
}

// List implements [ssotws.Store]. Records come in creation order; the page
// token is the creation number of the page's last record.
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

	query, args := s.listQuery(q.Model, q.Filters, after, size+1)
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
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
			key    []byte
			names  []string
			values [][]byte
		)
		if err := rows.Scan(&lastID, &key, &rec.Version, &rec.Data, &names, &values); err != nil {
			return nil, fmt.Errorf("pgstore: list: %w", err)
		}
		rec.Key = string(key)
		if rec.Fields, err = decodeFields(names, values); err != nil {
			return nil, err
		}
		page.Records = append(page.Records, &rec)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
	}
	return page, nil
}

// listQuery builds the List statement. The first filter on a non-empty
// value drives the query through the filter index, which yields the
// matching records in creation order; the other filters are probes on
// ssotws_record_fields' primary key. A filter on the empty value matches a
// record with no row for the field (empty values are not stored).
func (s *Store) listQuery(model string, filters []ssotws.Filter, after int64, limit int) (string, []any) {
	var b strings.Builder
	args := []any{model, after}
	drive := slices.IndexFunc(filters, func(f ssotws.Filter) bool { return f.Value != "" })
	if drive >= 0 {
		f := filters[drive]
		b.WriteString(s.q.listDriven)
		args = append(args, f.Field, hashValue(f.Value), []byte(f.Value))
	} else {
		b.WriteString(s.q.listAll)
	}
	for i, f := range filters {
		if i == drive {
			continue
		}
		if f.Value == "" {
			fmt.Fprintf(&b, s.q.probeAbsent, len(args)+1)
			args = append(args, f.Field)
		} else {
			fmt.Fprintf(&b, s.q.probeEq, len(args)+1, len(args)+2)
			args = append(args, f.Field, []byte(f.Value))
		}
	}
	if drive >= 0 {
		b.WriteString("\nORDER BY d.record_id")
	} else {
		b.WriteString("\nORDER BY r.id")
	}
	fmt.Fprintf(&b, "\nLIMIT $%d", len(args)+1)
	args = append(args, limit)
	return b.String(), args
}

// NextSequence implements [ssotws.Store]: one upsert of the model's
// counter, which is never handed out twice, whichever node asks.
func (s *Store) NextSequence(ctx context.Context, model string) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, s.q.nextSeq, model).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: next sequence: %w", err)
	}
	return n, nil
}

// errRetry asks Apply to try again: a remembered request was pruned
// between the claim and its read.
var errRetry = errors.New("pgstore: retry")

// retryable reports whether err means that the transaction lost a race and
// was rolled back, so that running it again is safe and may succeed.
func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01": // serialization_failure, deadlock_detected
		return true
	case "23505": // unique_violation: a concurrent create of the same key
		return pe.ConstraintName == "ssotws_records_key"
	}
	return false
}

// Apply implements [ssotws.Store]. Each try is one transaction in two
// round trips: the first begins it, claims the request id and locks the
// record's row; the second writes and commits. A try that lost a race to
// another transaction is run again.
func (s *Store) Apply(ctx context.Context, w *ssotws.Write) (*ssotws.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		res, err := s.applyOnce(ctx, w)
		if err == nil || !retryable(err) {
			return res, err
		}
		if attempt >= s.maxAttempts {
			return nil, fmt.Errorf("pgstore: apply: gave up after %d tries: %w", attempt, err)
		}
		// Jittered backoff, growing to about 50 ms.
		d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Store) applyOnce(ctx context.Context, w *ssotws.Write) (res *ssotws.WriteResult, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: apply: %w", err)
	}
	defer func() {
		// Roll back whatever is left open: a failed or refused write, or a
		// replay (which wrote nothing). A connection that cannot be rolled
		// back is closed rather than returned to the pool.
		if conn.Conn().PgConn().TxStatus() != 'I' {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if _, rerr := conn.Exec(rctx, "ROLLBACK"); rerr != nil {
				conn.Conn().Close(rctx)
			}
			cancel()
		}
		conn.Release()
	}()

	model, key := w.Model, bytesOf(w.Key)
	keyHash := hashKey(w.Key)
	var reqHash []byte
	if w.RequestID != "" {
		reqHash = hashKey(w.RequestID)
	}

	// Round trip 1: begin, claim the request id (waiting for a transaction
	// that holds it), read its result if it was already done, lock the
	// record's row.
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	if reqHash != nil {
		b.Queue(s.q.claim, model, reqHash)
		b.Queue(s.q.replay, model, reqHash)
	}
	b.Queue(s.q.lock, model, keyHash, key)
	br := conn.SendBatch(ctx, b)
	id, cur, remembered, err := s.readFirst(br, w, reqHash != nil)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("pgstore: apply: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	plan, err := ssotws.PlanWrite(w, remembered, cur)
	if err != nil {
		return nil, err
	}
	res = plan.Result
	if plan.Step == ssotws.StepReplay {
		return res, nil
	}

	// Round trip 2: write, remember the result, commit.
	b = &pgx.Batch{}
	rec := res.Record
	names, values := encodeFields(rec.Fields)
	switch plan.Step {
	case ssotws.StepInsert, ssotws.StepRecreate:
		if plan.Step == ssotws.StepRecreate {
			// The re-created record takes a new place in the creation
			// order. Updating the row (rather than deleting it) makes a
			// concurrent create that waits for its lock see the new live
			// record.
			b.Queue(s.q.recreateRecord, model, id, rec.Version, rec.Data, names, values)
		} else {
			b.Queue(s.q.insertRecord, model, keyHash, key, rec.Version, rec.Data, names, values)
		}
		if fn, fh, fv := filterRows(rec.Fields); len(fn) > 0 {
			b.Queue(s.q.insertFieldsByKey, model, keyHash, fn, fh, fv)
		}
	case ssotws.StepUpdate:
		b.Queue(s.q.updateRecord, model, id, rec.Version, false, rec.Data, names, values)
		b.Queue(s.q.deleteFields, model, id)
		if fn, fh, fv := filterRows(rec.Fields); len(fn) > 0 {
			b.Queue(s.q.insertFields, model, id, fn, fh, fv)
		}
	case ssotws.StepDelete:
		b.Queue(s.q.updateRecord, model, id, rec.Version, true, rec.Data, names, values)
		b.Queue(s.q.deleteFields, model, id)
	}
	if plan.Remember {
		r, p := res.Record, res.Previous
		names, values := encodeFields(r.Fields)
		var (
			pVersion *int64
			pDeleted *bool
			pData    []byte
			pNames   []string
			pValues  [][]byte
		)
		if p != nil {
			pVersion, pDeleted, pData = &p.Version, &p.Deleted, p.Data
			pNames, pValues = encodeFields(p.Fields)
		}
		b.Queue(s.q.finishRequest, model, reqHash, int16(w.Kind), key, r.Version, r.Deleted, r.Data, names, values,
			pVersion, pDeleted, pData, pNames, pValues)
		b.Queue(s.q.pruneRequest, s.maxRequests)
	}
	b.Queue("COMMIT")
	br = conn.SendBatch(ctx, b)
	for range b.Len() {
		if _, err = br.Exec(); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("pgstore: apply: %w", err)
	}
	return res, nil
}

// readFirst reads the results of the first round trip: the id and the
// record of the key's row, live or tombstone (a nil record if none), or
// the remembered result of the request (then no row).
func (s *Store) readFirst(br pgx.BatchResults, w *ssotws.Write, withRequest bool) (int64, *ssotws.Record, *ssotws.WriteResult, error) {
	wrap := func(err error) error {
		return fmt.Errorf("pgstore: apply: %w", err)
	}
	if _, err := br.Exec(); err != nil { // BEGIN
		return 0, nil, nil, wrap(err)
	}
	if withRequest {
		tag, err := br.Exec()
		if err != nil {
			return 0, nil, nil, wrap(err)
		}
		claimed := tag.RowsAffected() == 1
		res, err := scanReplay(br.QueryRow())
		if err != nil {
			return 0, nil, nil, err
		}
		if !claimed {
			if res == nil {
				// Done by another transaction, then pruned: try again.
				return 0, nil, nil, errRetry
			}
			return 0, nil, res, nil
		}
	}
	var (
		id     int64
		rec    = &ssotws.Record{Key: w.Key}
		names  []string
		values [][]byte
	)
	err := br.QueryRow().Scan(&id, &rec.Version, &rec.Deleted, &rec.Data, &names, &values)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, nil, nil
	}
	if err != nil {
		return 0, nil, nil, wrap(err)
	}
	if rec.Fields, err = decodeFields(names, values); err != nil {
		return 0, nil, nil, err
	}
	return id, rec, nil, nil
}

// scanReplay reads a remembered result, nil if there is none.
func scanReplay(row pgx.Row) (*ssotws.WriteResult, error) {
	var (
		rec             ssotws.Record
		key             []byte
		names, pNames   []string
		values, pValues [][]byte
		pVersion        *int64
		pDeleted        *bool
		pData           []byte
	)
	err := row.Scan(&key, &rec.Version, &rec.Deleted, &rec.Data, &names, &values,
		&pVersion, &pDeleted, &pData, &pNames, &pValues)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: apply: %w", err)
	}
	rec.Key = string(key)
	if rec.Fields, err = decodeFields(names, values); err != nil {
		return nil, err
	}
	res := &ssotws.WriteResult{Record: &rec}
	if pVersion != nil {
		prev := &ssotws.Record{Key: rec.Key, Version: *pVersion, Deleted: pDeleted != nil && *pDeleted, Data: pData}
		if prev.Fields, err = decodeFields(pNames, pValues); err != nil {
			return nil, err
		}
		res.Previous = prev
	}
	return res, nil
}
