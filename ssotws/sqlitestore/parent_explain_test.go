package sqlitestore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/internal/golden/aip/library/v1/libraryv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queryPlan returns the details of EXPLAIN QUERY PLAN of q on db.
func queryPlan(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	return plan
}

// TestListByParentUsesKeyExplain: with 20,000 books over 100 shelves, the
// List of one shelf's books (an AIP parent, which has no column) searches
// the primary key's index by the range of the shelf's names rather than
// scanning the books table, and finds that shelf's books only.
func TestListByParentUsesKeyExplain(t *testing.T) {
	ctx := context.Background()
	models := []*ssotws.Model{libraryv1ssotws.ShelfModel, libraryv1ssotws.BookModel}
	s, err := OpenTables(ctx, filepath.Join(t.TempDir(), "library.db"), models, nil)
	require.NoError(t, err)
	defer s.Close()
	books, err := s.table("aip.library.v1.Book")
	require.NoError(t, err)
	_, err = s.w.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO `+books.Name+` (name, title) SELECT 'shelves/' || (i % 100) || '/books/b' || i, 'title' FROM n`)
	require.NoError(t, err)
	_, err = s.w.ExecContext(ctx, "ANALYZE")
	require.NoError(t, err)

	q, args, ok := books.ListQuery([]ssotws.Filter{{Field: ssotws.ParentScope, Value: "shelves/7"}}, 0, 1000)
	require.True(t, ok)
	plan := queryPlan(t, s.w, q, args...)
	t.Logf("%s\n%s", q, strings.Join(plan, "\n"))
	assert.Contains(t, strings.Join(plan, "\n"), "(name>? AND name<?)", "the plan searches the key's index by range")
	for _, line := range plan {
		assert.False(t, strings.HasPrefix(line, "SCAN "+books.Name), "no scan of the table: %q", line)
	}

	page, err := s.List(ctx, ssotws.Query{Model: "aip.library.v1.Book", Filters: []ssotws.Filter{{Field: ssotws.ParentScope, Value: "shelves/7"}}, PageSize: 1000})
	require.NoError(t, err)
	for _, rec := range page.Records {
		assert.True(t, strings.HasPrefix(rec.Key, "shelves/7/books/"), rec.Key)
	}
	assert.Len(t, page.Records, 200, "shelf 7's books, not shelf 70's")
}
