package pgstore

import (
	"context"
	"net/http"
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
