package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/golden/aip/library/v1/libraryv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListByParentUsesKeyExplain: with 20,000 books over 100 shelves, the
// List of one shelf's books (an AIP parent, which has no column) searches
// the primary key's index by the range of the shelf's names rather than
// scanning the books table, and finds that shelf's books only.
func TestListByParentUsesKeyExplain(t *testing.T) {
	ctx := context.Background()
	s, err := OpenTables(ctx, filepath.Join(t.TempDir(), "library.db"), []*ssotws.Model{libraryv1ssotws.ShelfModel, libraryv1ssotws.BookModel}, nil)
	require.NoError(t, err)
	defer s.Close()
	tbl, err := s.table("aip.library.v1.Book")
	require.NoError(t, err)

	tx, err := s.w.BeginTx(ctx, nil)
	require.NoError(t, err)
	_, err = tx.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO `+tbl.Name+` (name, title) SELECT 'shelves/' || (i % 100) || '/books/b' || i, 'title' FROM n`)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	_, err = s.w.ExecContext(ctx, "ANALYZE")
	require.NoError(t, err)

	filters := []ssotws.Filter{{Field: ssotws.ParentScope, Value: "shelves/7"}}
	q, args, ok := tbl.ListQuery(filters, 0, 1000)
	require.True(t, ok)
	rows, err := s.w.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	all := strings.Join(plan, "\n")
	t.Logf("%s\n%s", q, all)
	assert.Contains(t, all, "(name>? AND name<?)", "the plan searches the key's index by range")
	for _, line := range plan {
		assert.False(t, strings.HasPrefix(line, "SCAN "+tbl.Name), "no scan of the table: %q", line)
	}

	rows, err = s.r.QueryContext(ctx, q, args...)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var seq, version int64
		var key, image string
		require.NoError(t, rows.Scan(&seq, &key, &version, &image))
		assert.True(t, strings.HasPrefix(key, "shelves/7/books/"), key)
		n++
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	assert.Equal(t, 200, n, "shelf 7's books, not shelf 70's")
}
