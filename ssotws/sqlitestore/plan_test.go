package sqlitestore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// TestListPlans checks that List walks an index in creation order, with
// no sort and no scan of the model's other records.
func TestListPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		filters []ssotws.Filter
		index   string
	}{
		{nil, "records_live"},
		{[]ssotws.Filter{{Field: "room_id", Value: "r1"}}, "record_fields_filter"},
		{[]ssotws.Filter{{Field: "pinned", Value: ""}, {Field: "room_id", Value: "r1"}, {Field: "author", Value: "a"}}, "record_fields_filter"},
	} {
		q, args := listQuery("m", c.filters, 0, 51)
		rows, err := s.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, "\n")
		t.Logf("%v:\n%s", c.filters, all)
		if !strings.Contains(all, c.index) || strings.Contains(all, "TEMP B-TREE") || strings.Contains(plan[0], "SCAN") {
			t.Errorf("filters %v: plan\n%s\nwant a search of %s and no sort", c.filters, all, c.index)
		}
	}
}
