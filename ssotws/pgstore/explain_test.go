package pgstore

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// planNode is a node of EXPLAIN (FORMAT JSON)'s plan tree.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	Plans        []planNode `json:"Plans"`
}

func (n planNode) walk(fn func(planNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

// explainPlan parses the output of EXPLAIN (FORMAT JSON): one plan.
func explainPlan(t *testing.T, out []byte) planNode {
	t.Helper()
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	require.NoError(t, json.Unmarshal(out, &plans))
	require.Len(t, plans, 1)
	return plans[0].Plan
}

// searches reports whether the plan searches index (an Index Scan or a
// Bitmap Index Scan on it) and whether it scans table sequentially.
func (n planNode) searches(index, table string) (usesIndex, seqScan bool) {
	n.walk(func(n planNode) {
		switch n.NodeType {
		case "Index Scan", "Index Only Scan", "Bitmap Index Scan":
			usesIndex = usesIndex || n.IndexName == index
		case "Seq Scan":
			seqScan = seqScan || n.RelationName == table
		}
	})
	return usesIndex, seqScan
}

// TestListByScopeUsesIndexExplain: with 20,000 chat messages over 100
// rooms and 50 authors, analyzed, the List of one room (a scope) and the
// List of one author (a field a List request filters on), as the store
// runs them, walk the field's index (an Index Scan or a Bitmap Index Scan
// on it) and never scan the messages table sequentially.
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
	s := openTableStore(t, newSchema(t), []*ssotws.Model{chatv1ssotws.RoomModel, messageFilteredByAuthor})
	tbl, err := s.table("chat.v1.Message")
	require.NoError(t, err)
	index := ""
	for _, ix := range tbl.Indexes {
		if ix.Columns[0] == field {
			index = ix.Name
		}
	}
	require.NotEmpty(t, index, "%s has an index", field)

	// Bulk-load in one statement with plain SQL (the store's triggers
	// number the rows as for any writer), then gather statistics.
	for _, stmt := range []string{
		`INSERT INTO messages (id, room_id, author, text) SELECT 'm' || i, 'r' || (i % 100), 'a' || (i % 50), 'hello' FROM generate_series(1, 20000) i`,
		`ANALYZE messages`,
	} {
		_, err := s.pool.Exec(ctx, stmt)
		require.NoError(t, err)
	}

	filters := []ssotws.Filter{{Field: field, Value: value}}
	q, args, ok := tbl.ListQuery(filters, 0, 51)
	require.True(t, ok)
	check := func(stage string, out []byte) {
		t.Logf("%s: %s\n%s", stage, q, out)
		plan := explainPlan(t, out)
		usesIndex, seqScan := plan.searches(index, "messages")
		assert.False(t, seqScan, "%s: no sequential scan of the table", stage)
		plan.walk(func(n planNode) {
			assert.NotEqual(t, "Sort", n.NodeType, "%s: the index gives creation order: no sort", stage)
		})
		assert.True(t, usesIndex, "%s: the plan walks %s", stage, index)
	}
	var out []byte
	require.NoError(t, s.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+q, args...).Scan(&out))
	check("custom plan", out)

	// The driver caches prepared statements, and after five executions
	// the server may plan one for any argument (a generic plan, which
	// cannot know how selective the value is). The store's connections
	// plan every execution with its arguments instead: after ten
	// executions of the prepared List, the plan still walks the index.
	conn, err := s.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "PREPARE list_by AS "+q)
	require.NoError(t, err)
	for i := 0; i < 10; i++ {
		_, err = conn.Exec(ctx, "EXECUTE list_by(0, '"+value+"', 51)")
		require.NoError(t, err)
	}
	require.NoError(t, conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE list_by(0, '"+value+"', 51)").Scan(&out))
	check("prepared, executed ten times", out)
	_, err = conn.Exec(ctx, "DEALLOCATE list_by")
	require.NoError(t, err)

	// The query finds the room's 200 messages, or the author's 400.
	q, args, ok = tbl.ListQuery(filters, 0, 1000)
	require.True(t, ok)
	rows, err := s.pool.Query(ctx, q, args...)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		n++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 20000/map[string]int{"room_id": 100, "author": 50}[field], n)
}
