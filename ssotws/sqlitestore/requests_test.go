package sqlitestore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
	"github.com/stretchr/testify/require"
)

// TestReplayReturnsFieldsExactly retries writes whose fields hold what a
// compact encoding could confuse (separators, digits, NUL, empty names and
// values, no fields at all): each retry returns the first result.
func TestReplayReturnsFieldsExactly(t *testing.T) {
	ctx := context.Background()
	s := openTables(t, filepath.Join(t.TempDir(), "store.db"), storetest.Models())
	tricky := map[string]string{"room": "12:3", "": "", "4:x": "\x00\x01\"{}", "title": "héllo"}
	writes := []*ssotws.Write{
		{Kind: ssotws.WriteCreate, Model: model, Key: "a", Fields: tricky, RequestID: "create-a"},
		{Kind: ssotws.WriteUpdate, Model: model, Key: "a", Fields: map[string]string{}, RequestID: "update-a"},
		{Kind: ssotws.WriteCreate, Model: model, Key: "b", RequestID: "create-b"},
	}
	for _, w := range writes {
		first, err := s.Apply(ctx, w)
		require.NoError(t, err)
		again, err := s.Apply(ctx, w)
		require.NoError(t, err)
		require.True(t, again.Replayed, w.RequestID)
		again.Replayed = false
		require.Equal(t, first, again, w.RequestID)
	}
}

// TestReplayOfRowsWrittenAsJSON replays a request remembered by an earlier
// version of the store, which kept a record's fields as a JSON object (as
// the copy from the single-table layout still does).
func TestReplayOfRowsWrittenAsJSON(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s := openTables(t, path, storetest.Models())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`INSERT INTO ssotws_requests (model, request_id, kind, key, version, deleted, data, fields,
	prev_version, prev_deleted, prev_data, prev_fields)
VALUES (?, 'upd', ?, 'k', 2, 0, x'', '{"room":"r2","title":"a\u0000b"}', 1, 0, x'', '{"room":"r1"}')`,
		model, int(ssotws.WriteUpdate))
	require.NoError(t, err)

	res, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: model, Key: "k", RequestID: "upd"})
	require.NoError(t, err)
	require.True(t, res.Replayed)
	require.Equal(t, map[string]string{"room": "r2", "title": "a\x00b"}, res.Record.Fields)
	require.EqualValues(t, 2, res.Record.Version)
	require.Equal(t, map[string]string{"room": "r1"}, res.Previous.Fields)
}
