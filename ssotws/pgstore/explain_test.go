package pgstore

import (
	"context"
	"encoding/json"
	"testing"

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

// TestListByScopeUsesIndexExplain: with 20,000 chat messages over 100
// rooms, analyzed, the List of one room (the query the store runs) walks
// the room_id scope index (an Index Scan or a Bitmap Index Scan on it) and
// never scans the messages table sequentially.
func TestListByScopeUsesIndexExplain(t *testing.T) {
	ctx := context.Background()
	s := openTableStore(t, newSchema(t), chatModels)
	tbl, err := s.table("chat.v1.Message")
	require.NoError(t, err)
	index := ""
	for _, ix := range tbl.Indexes {
		if ix.Columns[0] == "room_id" {
			index = ix.Name
		}
	}
	require.NotEmpty(t, index, "the room_id scope has an index")

	// Bulk-load in one statement with plain SQL (the store's triggers
	// number the rows as for any writer), then gather statistics.
	for _, stmt := range []string{
		`INSERT INTO messages (id, room_id, author, text) SELECT 'm' || i, 'r' || (i % 100), 'ann', 'hello' FROM generate_series(1, 20000) i`,
		`ANALYZE messages`,
	} {
		_, err := s.pool.Exec(ctx, stmt)
		require.NoError(t, err)
	}

	filters := []ssotws.Filter{{Field: "room_id", Value: "r7"}}
	q, args, ok := tbl.ListQuery(filters, 0, 51)
	require.True(t, ok)
	check := func(stage string, out []byte) {
		t.Logf("%s: %s\n%s", stage, q, out)
		var plans []struct {
			Plan planNode `json:"Plan"`
		}
		require.NoError(t, json.Unmarshal(out, &plans))
		require.Len(t, plans, 1)
		usesIndex := false
		plans[0].Plan.walk(func(n planNode) {
			switch n.NodeType {
			case "Index Scan", "Index Only Scan", "Bitmap Index Scan":
				if n.IndexName == index {
					usesIndex = true
				}
			case "Seq Scan":
				assert.NotEqual(t, "messages", n.RelationName, "%s: no sequential scan of the table", stage)
			}
			assert.NotEqual(t, "Sort", n.NodeType, "%s: the index gives creation order: no sort", stage)
		})
		assert.True(t, usesIndex, "%s: the plan walks %s", stage, index)
	}
	var out []byte
	require.NoError(t, s.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+q, args...).Scan(&out))
	check("custom plan", out)

	// The driver caches prepared statements, so after a few executions the
	// server may plan the List once for any room: that generic plan must
	// walk the index too.
	conn, err := s.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	for _, stmt := range []string{"SET plan_cache_mode = force_generic_plan", "PREPARE list_room AS " + q} {
		_, err := conn.Exec(ctx, stmt)
		require.NoError(t, err)
	}
	require.NoError(t, conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE list_room(0, 'r7', 51)").Scan(&out))
	check("generic plan", out)
	for _, stmt := range []string{"DEALLOCATE list_room", "RESET plan_cache_mode"} {
		_, err := conn.Exec(ctx, stmt)
		require.NoError(t, err)
	}

	// The query finds the room's 200 messages.
	q, args, ok = tbl.ListQuery(filters, 0, 1000)
	require.True(t, ok)
	rows, err := s.pool.Query(ctx, q, args...)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		n++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 200, n)
}
