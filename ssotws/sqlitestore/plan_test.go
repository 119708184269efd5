package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestListPlans checks that List walks an index in creation order, with
// no sort: the table's creation order for no filter, the scope's and the
// owner's (scope, creation) index for a filter on them.
func TestListPlans(t *testing.T) {
	ctx := context.Background()
	s, err := OpenTables(ctx, filepath.Join(t.TempDir(), "plan.db"), storetest.Models(), nil)
	require.NoError(t, err)
	defer s.Close()
	tbl, err := s.table("test.v1.Alpha")
	require.NoError(t, err)
	for _, c := range []struct {
		filters []ssotws.Filter
		index   string
	}{
		{nil, "alphas_ssotws_seq_idx"},
		{[]ssotws.Filter{{Field: "room", Value: "r1"}}, "alphas_room_idx"},
		{[]ssotws.Filter{{Field: "author", Value: "a"}}, "alphas_author_idx"},
	} {
		q, args, ok := tbl.ListQuery(c.filters, 0, 51)
		require.True(t, ok)
		all := strings.Join(queryPlan(t, s.r, q, args...), "\n")
		t.Logf("%v:\n%s", c.filters, all)
		assert.Contains(t, all, "INDEX", "filters %v: a search of an index", c.filters)
		assert.Contains(t, all, c.index, "filters %v", c.filters)
		assert.NotContains(t, all, "TEMP B-TREE", "filters %v: no sort", c.filters)
	}
}
