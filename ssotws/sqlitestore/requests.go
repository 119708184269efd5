package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// replay returns the remembered result of (model, requestID), or nil.
func replay(ctx context.Context, tx dbtx, model, requestID string) (*ssotws.WriteResult, error) {
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
FROM ssotws_requests WHERE model = ? AND request_id = ?`, model, requestID).Scan(
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
func remember(ctx context.Context, tx dbtx, maxRequests int64, w *ssotws.Write, res *ssotws.WriteResult) error {
	var prevVersion, prevDeleted, prevData, prevFields any
	if p := res.Previous; p != nil {
		prevVersion, prevDeleted, prevData, prevFields = p.Version, p.Deleted, p.Data, encodeFields(p.Fields)
	}
	// seq is the rowid: LastInsertId reads it without the rows of a
	// RETURNING clause.
	r, err := tx.ExecContext(ctx,
		`INSERT INTO ssotws_requests (model, request_id, kind, key, version, deleted, data, fields,
	prev_version, prev_deleted, prev_data, prev_fields)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.Model, w.RequestID, int(w.Kind), res.Record.Key, res.Record.Version, res.Record.Deleted,
		res.Record.Data, encodeFields(res.Record.Fields), prevVersion, prevDeleted, prevData, prevFields)
	if err != nil {
		return fmt.Errorf("sqlitestore: apply: %w", err)
	}
	seq, err := r.LastInsertId()
	if err != nil {
		return fmt.Errorf("sqlitestore: apply: %w", err)
	}
	if seq > maxRequests {
		if _, err := tx.ExecContext(ctx, `DELETE FROM ssotws_requests WHERE seq <= ?`, seq-maxRequests); err != nil {
			return fmt.Errorf("sqlitestore: apply: %w", err)
		}
	}
	return nil
}

// encodeFields is the form in which ssotws_requests keeps a record's
// fields: nil stays NULL; otherwise each name and value, names in order,
// as "<length>:<bytes>" (a netstring without its comma), so "room" = "r1"
// is "4:room2:r1" and an empty map is "". Values are copied as they are:
// JSON would escape each control character into six bytes and cost a
// create more CPU and pages than the rest of its request row.
func encodeFields(fields map[string]string) any {
	if fields == nil {
		return nil
	}
	names := make([]string, 0, len(fields))
	n := 0
	for name, v := range fields {
		names = append(names, name)
		n += len(name) + len(v) + 8
	}
	slices.Sort(names)
	b := make([]byte, 0, n)
	for _, name := range names {
		b = appendNetstring(appendNetstring(b, name), fields[name])
	}
	return string(b)
}

func appendNetstring(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	return append(append(b, ':'), s...)
}

// decodeFields reads what [encodeFields] wrote, and the JSON object that
// earlier versions and the copy from the single-table layout wrote (it
// starts with '{', which no length does).
func decodeFields(s sql.NullString) (map[string]string, error) {
	if !s.Valid {
		return nil, nil
	}
	m := map[string]string{}
	if strings.HasPrefix(s.String, "{") {
		if err := json.Unmarshal([]byte(s.String), &m); err != nil {
			return nil, fmt.Errorf("sqlitestore: decode fields: %w", err)
		}
		return m, nil
	}
	rest := s.String
	for rest != "" {
		name, after, err := cutNetstring(rest)
		if err != nil {
			return nil, err
		}
		v, after, err := cutNetstring(after)
		if err != nil {
			return nil, err
		}
		m[name], rest = v, after
	}
	return m, nil
}

// cutNetstring splits "<length>:<bytes>..." after its bytes.
func cutNetstring(s string) (v, rest string, err error) {
	n, body, ok := strings.Cut(s, ":")
	size, perr := strconv.Atoi(n)
	if !ok || perr != nil || size < 0 || size > len(body) {
		return "", "", fmt.Errorf("sqlitestore: decode fields: malformed entry at %q", truncate(s, 20))
	}
	return body[:size], body[size:], nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
