package sqlitestore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
	"github.com/stretchr/testify/require"
)

// TestOpenDatabaseOfEarlierVersion opens a database written by the store
// of release 0.2.0, loaded from its dump: the remembered requests replay
// as they were answered, the triggers number and version new rows after
// the old ones, and the relay publishes the changes the earlier version
// logged and the new ones, in order.
func TestOpenDatabaseOfEarlierVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	dump, err := os.ReadFile(filepath.Join("testdata", "store-0.2.0.sql"))
	require.NoError(t, err)
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(string(dump))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s := openTables(t, path, storetest.Models())
	upd, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteUpdate, Model: model, Key: "a", RequestID: "update-a"})
	require.NoError(t, err)
	require.True(t, upd.Replayed)
	require.EqualValues(t, 2, upd.Record.Version)
	require.Equal(t, "second", upd.Record.Fields["payload"])
	require.Equal(t, "r2", upd.Record.Fields["room"])
	require.Equal(t, "first\x00", upd.Previous.Fields["payload"])
	del, err := s.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteDelete, Model: model, Key: "b", RequestID: "delete-b"})
	require.NoError(t, err)
	require.True(t, del.Replayed)
	require.True(t, del.Record.Deleted)

	opaque := storetest.Opaque(s)
	for _, k := range []string{"c", "b"} {
		_, err := opaque.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: model, Key: k, Data: []byte("new " + k), RequestID: "create-" + k})
		require.NoError(t, err)
	}
	b, err := opaque.Get(ctx, model, "b")
	require.NoError(t, err)
	require.EqualValues(t, 3, b.Version, "past the tombstone the earlier version left")
	page, err := opaque.List(ctx, ssotws.Query{Model: model})
	require.NoError(t, err)
	var keys []string
	for _, r := range page.Records {
		keys = append(keys, r.Key)
	}
	require.Equal(t, []string{"a", "c", "b"}, keys)

	broker := ssotws.NewMemoryBroker(nil)
	t.Cleanup(func() { broker.Close() })
	relay, err := s.StartRelay(ctx, broker, nil)
	require.NoError(t, err)
	t.Cleanup(func() { relay.Close() })
	require.NoError(t, relay.Sync(ctx))
	pos, err := broker.Position(ctx, "Alpha")
	require.NoError(t, err)
	require.EqualValues(t, 6, pos.GetOffset(), "four changes of the earlier version, two new")
}
