package sqlitestore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// singleTableSchema is the single-table layout (schema version 1) as the
// removed sqlitestore.Open created it, less what the copy does not read.
const singleTableSchema = `
CREATE TABLE models (name TEXT PRIMARY KEY, key_seq INTEGER NOT NULL);
CREATE TABLE records (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	model   TEXT NOT NULL,
	key     TEXT NOT NULL,
	version INTEGER NOT NULL,
	deleted INTEGER NOT NULL,
	data    BLOB,
	fields  TEXT
);
CREATE UNIQUE INDEX records_model_key ON records (model, key);
CREATE TABLE requests (
	seq          INTEGER PRIMARY KEY,
	model        TEXT NOT NULL,
	request_id   TEXT NOT NULL,
	kind         INTEGER NOT NULL,
	key          TEXT NOT NULL,
	version      INTEGER NOT NULL,
	deleted      INTEGER NOT NULL,
	data         BLOB,
	fields       TEXT,
	prev_version INTEGER,
	prev_deleted INTEGER,
	prev_data    BLOB,
	prev_fields  TEXT
);
PRAGMA user_version = 1;
`

// oldDatabase writes a single-table database with plain SQL: two live
// messages (created in the order m2, m1), a deleted one, a room, a
// NextSequence counter and a remembered create.
func oldDatabase(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "old.db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(singleTableSchema)
	require.NoError(t, err)
	ins := `INSERT INTO records (model, key, version, deleted, data, fields) VALUES (?, ?, ?, ?, ?, ?)`
	for _, r := range []struct {
		model, key string
		version    int64
		deleted    bool
		msg        proto.Message
	}{
		{"chat.v1.Message", "m2", 1, false, &chatv1.Message{Id: "m2", RoomId: "r1", Text: "first"}},
		{"chat.v1.Message", "m1", 3, false, &chatv1.Message{Id: "m1", RoomId: "r2", Text: "edited twice"}},
		{"chat.v1.Message", "gone", 2, true, &chatv1.Message{Id: "gone", RoomId: "r1", Text: "bye"}},
		{"chat.v1.Room", "r1", 1, false, &chatv1.Room{Id: "r1", Title: "General"}},
	} {
		_, err := db.Exec(ins, r.model, r.key, r.version, r.deleted, mustMarshal(t, r.msg), `{"room_id":"x"}`)
		require.NoError(t, err)
	}
	_, err = db.Exec(`INSERT INTO models (name, key_seq) VALUES ('chat.v1.Message', 7)`)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO requests (seq, model, request_id, kind, key, version, deleted, data, fields)
VALUES (1, 'chat.v1.Message', 'alice'||char(31)||'req-1', ?, 'm1', 1, 0, ?, '{"room_id":"r2"}')`,
		int(ssotws.WriteCreate), mustMarshal(t, &chatv1.Message{Id: "m1", RoomId: "r2", Text: "created"}))
	require.NoError(t, err)
	return db
}

// TestCopyFromSingleTable: rows of the single-table layout become typed
// rows with the same keys, versions, data and creation order; a tombstone
// keeps its version; the key counter and the remembered request carry
// over; nothing lands in the change log.
func TestCopyFromSingleTable(t *testing.T) {
	ctx := context.Background()
	old := oldDatabase(t)
	path := filepath.Join(t.TempDir(), "chat.db")
	store := openTables(t, path, chatModels)

	n, err := sqlitestore.CopyFromSingleTable(ctx, old, store)
	require.NoError(t, err)
	assert.Equal(t, 3, n.Records)
	assert.Equal(t, 1, n.Tombstones)
	assert.Equal(t, 1, n.Requests)
	assert.Equal(t, 1, n.Sequences)

	page, err := store.List(ctx, ssotws.Query{Model: "chat.v1.Message"})
	require.NoError(t, err)
	require.Len(t, page.Records, 2)
	for i, want := range []struct {
		key     string
		version int64
		msg     *chatv1.Message
	}{
		{"m2", 1, &chatv1.Message{Id: "m2", RoomId: "r1", Text: "first"}},
		{"m1", 3, &chatv1.Message{Id: "m1", RoomId: "r2", Text: "edited twice"}},
	} {
		rec := page.Records[i]
		assert.Equal(t, want.key, rec.Key)
		assert.Equal(t, want.version, rec.Version)
		got := &chatv1.Message{}
		require.NoError(t, proto.Unmarshal(rec.Data, got))
		assert.True(t, proto.Equal(want.msg, got), "%s: got %v", want.key, got)
	}
	room, err := store.Get(ctx, "chat.v1.Room", "r1")
	require.NoError(t, err)
	assert.Equal(t, int64(1), room.Version)

	// The rows are typed: plain SQL reads the columns.
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var text string
	var version int64
	require.NoError(t, db.QueryRow(`SELECT text, version FROM messages WHERE id = 'm1'`).Scan(&text, &version))
	assert.Equal(t, "edited twice", text)
	assert.Equal(t, int64(3), version)
	var changes int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM ssotws_changes`).Scan(&changes))
	assert.Zero(t, changes, "the copy is not published")

	_, err = store.Get(ctx, "chat.v1.Message", "gone")
	require.ErrorIs(t, err, ssotws.ErrNotFound)
	res, err := store.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: "chat.v1.Message", Key: "gone",
		Data: mustMarshal(t, &chatv1.Message{Id: "gone", RoomId: "r1", Text: "back"})})
	require.NoError(t, err)
	assert.Equal(t, int64(3), res.Record.Version, "a re-create goes on from the tombstone's version")

	seq, err := store.NextSequence(ctx, "chat.v1.Message")
	require.NoError(t, err)
	assert.Equal(t, int64(8), seq)

	res, err = store.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: "chat.v1.Message", Key: "m1",
		RequestID: "alice\x1freq-1", Data: mustMarshal(t, &chatv1.Message{Id: "m1", RoomId: "r2", Text: "created"})})
	require.NoError(t, err)
	assert.True(t, res.Replayed, "the remembered request replays")
	assert.Equal(t, int64(1), res.Record.Version)
}

// TestCopyFromSingleTableRefuses: a model the store does not serve, or a
// key the tables already hold, fails the copy and writes nothing.
func TestCopyFromSingleTableRefuses(t *testing.T) {
	ctx := context.Background()
	old := oldDatabase(t)
	store := openTables(t, filepath.Join(t.TempDir(), "chat.db"), []*ssotws.Model{chatModels[1]})
	_, err := sqlitestore.CopyFromSingleTable(ctx, old, store)
	require.ErrorContains(t, err, "chat.v1.Room")
	page, err := store.List(ctx, ssotws.Query{Model: "chat.v1.Message"})
	require.NoError(t, err)
	assert.Empty(t, page.Records, "nothing written")

	store = openTables(t, filepath.Join(t.TempDir(), "chat.db"), chatModels)
	_, err = sqlitestore.CopyFromSingleTable(ctx, old, store)
	require.NoError(t, err)
	_, err = sqlitestore.CopyFromSingleTable(ctx, old, store)
	require.Error(t, err, "a second copy into the same tables")

	_, err = old.Exec(`PRAGMA user_version = 2`)
	require.NoError(t, err)
	_, err = sqlitestore.CopyFromSingleTable(ctx, old, openTables(t, filepath.Join(t.TempDir(), "x.db"), chatModels))
	require.ErrorContains(t, err, "version")
}
