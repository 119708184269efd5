package pgstore

import (
	"context"
	"net/http"
	"strings"
	"testing"

	libraryv1 "github.com/ssot-codegen/ssot-ws/internal/golden/aip/library/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/aip/library/v1/libraryv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListByParent: an AIP resource's parent has no column; PostgreSQL
// lists a parent's children by the prefix of their names, and no other
// shelf's books, however their names start ("shelves/10" after
// "shelves/1").
func TestListByParent(t *testing.T) {
	ctx := context.Background()
	s := openTableStore(t, newSchema(t), []*ssotws.Model{libraryv1ssotws.ShelfModel, libraryv1ssotws.BookModel})
	books := ssotws.NewResource[*libraryv1.Book](libraryv1ssotws.BookModel, s, nil, nil)
	for _, b := range []struct{ parent, id string }{
		{"shelves/1", "moby-dick"}, {"shelves/10", "emma"}, {"shelves/1", "typee"}, {"shelves/2", "omoo"},
	} {
		_, err := books.CreateIn(ctx, http.Header{}, &libraryv1.Book{Title: b.id}, b.parent, b.id)
		require.NoError(t, err)
	}
	list := func(parent string) []string {
		page, err := books.List(ctx, ssotws.ListRequest{Filters: []ssotws.Filter{ssotws.Eq(ssotws.ParentScope, parent)}})
		require.NoError(t, err)
		var names []string
		for _, b := range page.Items {
			names = append(names, b.GetName())
		}
		return names
	}
	assert.Equal(t, []string{"shelves/1/books/moby-dick", "shelves/1/books/typee"}, list("shelves/1"))
	assert.Equal(t, []string{"shelves/10/books/emma"}, list("shelves/10"))
	assert.Empty(t, list("shelves/3"))
	assert.Len(t, list(""), 4)
}

// TestListByParentUsesKeyExplain: with 20,000 books over 100 shelves,
// analyzed, the List of one shelf's books (an AIP parent, which has no
// column) searches the key's C-collated index by the range of the shelf's
// names instead of scanning the books table, and finds that shelf's books
// only (not shelf 70's).
func TestListByParentUsesKeyExplain(t *testing.T) {
	ctx := context.Background()
	s := openTableStore(t, newSchema(t), []*ssotws.Model{libraryv1ssotws.ShelfModel, libraryv1ssotws.BookModel})
	tbl, err := s.table("aip.library.v1.Book")
	require.NoError(t, err)
	index := tbl.Name + "_name_c_idx"
	for _, stmt := range []string{
		`INSERT INTO ` + tbl.Name + ` (name, title) SELECT 'shelves/' || (i % 100) || '/books/b' || i, 'title' FROM generate_series(1, 20000) i`,
		`ANALYZE ` + tbl.Name,
	} {
		_, err := s.pool.Exec(ctx, stmt)
		require.NoError(t, err)
	}
	filters := []ssotws.Filter{{Field: ssotws.ParentScope, Value: "shelves/7"}}
	q, args, ok := tbl.ListQuery(filters, 0, 1000)
	require.True(t, ok)
	var out []byte
	require.NoError(t, s.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+q, args...).Scan(&out))
	t.Logf("%s\n%s", q, out)
	usesIndex, seqScan := explainPlan(t, out).searches(index, tbl.Name)
	assert.False(t, seqScan, "no sequential scan of the table")
	assert.True(t, usesIndex, "the plan searches %s", index)

	page, err := s.List(ctx, ssotws.Query{Model: "aip.library.v1.Book", Filters: filters, PageSize: 1000})
	require.NoError(t, err)
	for _, rec := range page.Records {
		assert.True(t, strings.HasPrefix(rec.Key, "shelves/7/books/"), rec.Key)
	}
	assert.Len(t, page.Records, 200, "shelf 7's books, not shelf 70's")
}
