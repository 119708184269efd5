package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListByScopeUsesIndexExplain: with 20,000 chat messages over 100
// rooms and 50 authors, the List of one room (a scope) and the List of one
// author (a field a List request filters on), as the store runs them,
// search the field's index rather than scanning the messages table,
// before and after ANALYZE (the planner's statistics must not turn it
// into a walk of the whole table in creation order).
func TestListByScopeUsesIndexExplain(t *testing.T) {
	for _, tc := range []struct{ field, value string }{{"room_id", "r7"}, {"author", "a7"}} {
		t.Run(tc.field, func(t *testing.T) { testListUsesIndex(t, tc.field, tc.value) })
	}
}

// messageFilteredByAuthor is the chat Message model with a List that
// filters by author, as a ListMessagesRequest with an author field binds.
var messageFilteredByAuthor = ssotws.MustModel(chatv1ssotws.MessageModel.Descriptor(), ssotws.ModelConfig{
	Key: "id", Scopes: []string{"room_id"}, Filters: []string{"author"}, Realtime: true,
})

func testListUsesIndex(t *testing.T, field, value string) {
	ctx := context.Background()
	s, err := OpenTables(ctx, filepath.Join(t.TempDir(), "chat.db"), []*ssotws.Model{chatv1ssotws.RoomModel, messageFilteredByAuthor}, nil)
	require.NoError(t, err)
	defer s.Close()
	tbl, err := s.table("chat.v1.Message")
	require.NoError(t, err)
	index := ""
	for _, ix := range tbl.Indexes {
		if ix.Columns[0] == field {
			index = ix.Name
		}
	}
	require.NotEmpty(t, index, "%s has an index", field)

	// Bulk-load in one transaction with plain SQL (the store's triggers
	// number the rows as for any writer).
	tx, err := s.w.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO messages (id, room_id, author, text) SELECT 'm' || i, 'r' || (i % 100), 'a' || (i % 50), 'hello' FROM n`)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())

	filters := []ssotws.Filter{{Field: field, Value: value}}
	q, args, ok := tbl.ListQuery(filters, 0, 51)
	require.True(t, ok)
	// EXPLAIN runs on the writer, the connection that loaded the rows and
	// ran ANALYZE: EXPLAIN QUERY PLAN plans from the connection's cached
	// schema and statistics without checking that they are current, so
	// a reader opened before ANALYZE could show a plan without them (a
	// real List re-plans when they change).
	check := func(stage string) {
		plan := queryPlan(t, s.w, q, args...)
		all := strings.Join(plan, "\n")
		t.Logf("%s: %s\n%s", stage, q, all)
		assert.True(t, strings.Contains(all, "USING INDEX "+index) || strings.Contains(all, "USING COVERING INDEX "+index),
			"%s: the plan searches %s", stage, index)
		for _, line := range plan {
			assert.False(t, strings.HasPrefix(line, "SCAN"), "%s: no scan of the table: %q", stage, line)
		}
		assert.NotContains(t, all, "TEMP B-TREE", "%s: no sort", stage)
	}
	check("before ANALYZE")
	_, err = s.w.ExecContext(ctx, "ANALYZE")
	require.NoError(t, err)
	var stat string
	require.NoError(t, s.w.QueryRowContext(ctx, `SELECT stat FROM sqlite_stat1 WHERE idx = ?`, index).Scan(&stat))
	t.Logf("sqlite_stat1 %s: %s", index, stat)
	check("after ANALYZE")

	// The query finds the room's 200 messages, or the author's 400.
	q, args, ok = tbl.ListQuery(filters, 0, 1000)
	require.True(t, ok)
	rows, err := s.r.QueryContext(ctx, q, args...)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		n++
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	assert.Equal(t, 20000/map[string]int{"room_id": 100, "author": 50}[field], n)
}
