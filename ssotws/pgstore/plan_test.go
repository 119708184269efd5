package pgstore

import (
	"context"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListPlan: on a model with many rooms, listing one room's records
// walks the (room, creation) index in creation order (no sort of all the
// room's records, no scan of the model), and an unfiltered list walks the
// creation-order index.
func TestListPlan(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, newSchema(t), nil)
	// Bulk-load through plain SQL (the triggers run): 20,000 records in
	// 200 rooms.
	for _, stmt := range []string{
		`INSERT INTO alphas (id, room) SELECT 'm' || i, 'r' || (i % 200) FROM generate_series(1, 20000) i`,
		`ANALYZE alphas`,
	} {
		_, err := s.ts.pool.Exec(ctx, stmt)
		require.NoError(t, err)
	}
	tbl, err := s.ts.table(model)
	require.NoError(t, err)
	for _, c := range []struct {
		filters []ssotws.Filter
		want    string
	}{
		{[]ssotws.Filter{{Field: "room", Value: "r7"}}, "alphas_room_idx"},
		{nil, "alphas_ssotws_seq_idx"},
	} {
		q, args, ok := tbl.ListQuery(c.filters, 0, 51)
		require.True(t, ok)
		rows, err := s.ts.pool.Query(ctx, "EXPLAIN "+q, args...)
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var line string
			require.NoError(t, rows.Scan(&line))
			plan = append(plan, line)
		}
		require.NoError(t, rows.Err())
		text := strings.Join(plan, "\n")
		t.Logf("filters %v:\n%s", c.filters, text)
		assert.Contains(t, text, c.want, "filters %v: walks the index", c.filters)
		assert.NotContains(t, text, "Sort", "filters %v", c.filters)
		assert.NotContains(t, text, "Seq Scan", "filters %v", c.filters)
	}
	// The loaded rows are the store's: a list finds room r7's 100 records.
	assert.Len(t, listKeys(t, s, ssotws.Query{Model: model, PageSize: 40, Filters: []ssotws.Filter{{Field: "room", Value: "r7"}}}), 100)
}
