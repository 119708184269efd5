package pgstore

import (
	"context"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// TestListPlan: on a model with many rooms, listing one room's messages
// walks the filter index in creation order (no sort of all the room's
// messages, no scan of the model), and an unfiltered list walks the live
// index.
func TestListPlan(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, newSchema(t), nil)
	// Bulk-load through SQL: 20,000 messages in 200 rooms.
	load := qualify(`
INSERT INTO {{s}}ssotws_records (model, id, key_hash, key, version, deleted, data, field_names, field_values)
SELECT $1, i, sha256(convert_to('m' || i, 'UTF8')), convert_to('m' || i, 'UTF8'), 1, i % 10 = 0, NULL,
	ARRAY['room'], ARRAY[convert_to('r' || (i % 200), 'UTF8')]
FROM generate_series(1, 20000) i;
INSERT INTO {{s}}ssotws_record_fields (model, record_id, name, hash, value)
SELECT $1, id, 'room', ('x' || encode(substring(sha256(field_values[1]) FROM 1 FOR 8), 'hex'))::bit(64)::bigint, field_values[1] FROM {{s}}ssotws_records WHERE NOT deleted;
ANALYZE {{s}}ssotws_records; ANALYZE {{s}}ssotws_record_fields;`, s.schema)
	for _, stmt := range strings.Split(load, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		var args []any
		if strings.Contains(stmt, "$1") {
			args = []any{model}
		}
		if _, err := s.pool.Exec(ctx, stmt, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		filters []ssotws.Filter
		want    string
	}{
		{[]ssotws.Filter{{Field: "room", Value: "r7"}}, "ssotws_record_fields_filter"},
		{nil, "ssotws_records_live"},
	} {
		q, args := s.listQuery(model, c.filters, 0, 51)
		rows, err := s.pool.Query(ctx, "EXPLAIN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, line)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, c.want) || strings.Contains(text, "Sort") || strings.Contains(text, "Seq Scan") {
			t.Errorf("filters %v: plan does not walk %s in order:\n%s", c.filters, c.want, text)
		}
		t.Logf("filters %v:\n%s", c.filters, text)
	}
	// The loaded hashes are the store's: a list finds room r7's 100
	// messages.
	if got := listKeys(t, s, ssotws.Query{Model: model, PageSize: 40, Filters: []ssotws.Filter{{Field: "room", Value: "r7"}}}); len(got) != 100 {
		t.Errorf("room r7: %d messages, want 100", len(got))
	}
}
