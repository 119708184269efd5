package pgstore

import (
	"context"
	"crypto/sha256"
	"testing"

	"github.com/jackc/pgx/v5"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// singleTableSchema is the single-table layout (version 1) as the removed
// pgstore.Open created it, less what the copy does not read.
const singleTableSchema = `
CREATE TABLE ssotws_schema_version (version integer NOT NULL);
INSERT INTO ssotws_schema_version VALUES (1);
CREATE TABLE ssotws_sequences (model text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE ssotws_records (
	model        text NOT NULL,
	id           bigint NOT NULL,
	key_hash     bytea NOT NULL,
	key          bytea NOT NULL,
	version      bigint NOT NULL,
	deleted      boolean NOT NULL,
	data         bytea,
	field_names  text[],
	field_values bytea[],
	PRIMARY KEY (model, id)
);
CREATE TABLE ssotws_requests (
	model             text NOT NULL,
	request_hash      bytea NOT NULL,
	seq               bigint,
	kind              smallint,
	key               bytea,
	version           bigint,
	deleted           boolean,
	data              bytea,
	field_names       text[],
	field_values      bytea[],
	prev_version      bigint,
	prev_deleted      boolean,
	prev_data         bytea,
	prev_field_names  text[],
	prev_field_values bytea[],
	PRIMARY KEY (model, request_hash)
);
`

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err)
	return b
}

// oldSchema writes a single-table schema with plain SQL: two live messages
// (created in the order m2, m1), a deleted one, a room, a NextSequence
// counter and a remembered create. It returns the schema's name.
func oldSchema(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	schema := newSchema(t)
	conn, err := pgx.Connect(ctx, testURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()+"; SET search_path TO "+pgx.Identifier{schema}.Sanitize()+";"+singleTableSchema)
	require.NoError(t, err)
	for i, r := range []struct {
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
		h := sha256.Sum256([]byte(r.key))
		_, err := conn.Exec(ctx, `INSERT INTO ssotws_records (model, id, key_hash, key, version, deleted, data, field_names, field_values)
VALUES ($1, $2, $3, $4, $5, $6, $7, '{room_id}', ARRAY['x'::bytea])`, r.model, i+1, h[:], []byte(r.key), r.version, r.deleted, marshal(t, r.msg))
		require.NoError(t, err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO ssotws_sequences VALUES ('chat.v1.Message', 7)`)
	require.NoError(t, err)
	h := sha256.Sum256([]byte("alice\x1freq-1"))
	_, err = conn.Exec(ctx, `INSERT INTO ssotws_requests (model, request_hash, seq, kind, key, version, deleted, data, field_names, field_values)
VALUES ('chat.v1.Message', $1, 1, $2, 'm1'::bytea, 1, false, $3, '{room_id}', ARRAY['r2'::bytea])`,
		h[:], int16(ssotws.WriteCreate), marshal(t, &chatv1.Message{Id: "m1", RoomId: "r2", Text: "created"}))
	require.NoError(t, err)
	return schema
}

// TestCopyFromSingleTable: rows of the single-table layout become typed
// rows with the same keys, versions, data and creation order; a tombstone
// keeps its version; the key counter and the remembered request carry
// over; nothing lands in the change log.
func TestCopyFromSingleTable(t *testing.T) {
	ctx := context.Background()
	old := oldSchema(t)
	store := openTableStore(t, newSchema(t), chatModels)

	n, err := CopyFromSingleTable(ctx, testPool(t), old, store)
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
	var text string
	var version, changes int64
	require.NoError(t, store.pool.QueryRow(ctx, `SELECT text, version FROM messages WHERE id = 'm1'`).Scan(&text, &version))
	assert.Equal(t, "edited twice", text)
	assert.Equal(t, int64(3), version)
	require.NoError(t, store.pool.QueryRow(ctx, `SELECT count(*) FROM ssotws_changes`).Scan(&changes))
	assert.Zero(t, changes, "the copy is not published")

	_, err = store.Get(ctx, "chat.v1.Message", "gone")
	require.ErrorIs(t, err, ssotws.ErrNotFound)
	res, err := store.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: "chat.v1.Message", Key: "gone",
		Data: marshal(t, &chatv1.Message{Id: "gone", RoomId: "r1", Text: "back"})})
	require.NoError(t, err)
	assert.Equal(t, int64(3), res.Record.Version, "a re-create goes on from the tombstone's version")

	seq, err := store.NextSequence(ctx, "chat.v1.Message")
	require.NoError(t, err)
	assert.Equal(t, int64(8), seq)

	res, err = store.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: "chat.v1.Message", Key: "m1",
		RequestID: "alice\x1freq-1", Data: marshal(t, &chatv1.Message{Id: "m1", RoomId: "r2", Text: "created"})})
	require.NoError(t, err)
	assert.True(t, res.Replayed, "the remembered request replays")
	assert.Equal(t, int64(1), res.Record.Version)
	assert.Equal(t, map[string]string{"room_id": "r2"}, res.Record.Fields)
}

// TestCopyFromSingleTableRefuses: a model the store does not serve fails
// the copy and writes nothing; so do a second copy and the old schema
// itself as the destination.
func TestCopyFromSingleTableRefuses(t *testing.T) {
	ctx := context.Background()
	old := oldSchema(t)
	pool := testPool(t)
	store := openTableStore(t, newSchema(t), chatModels[1:])
	_, err := CopyFromSingleTable(ctx, pool, old, store)
	require.ErrorContains(t, err, "chat.v1.Room")
	page, err := store.List(ctx, ssotws.Query{Model: "chat.v1.Message"})
	require.NoError(t, err)
	assert.Empty(t, page.Records, "nothing written")

	store = openTableStore(t, newSchema(t), chatModels)
	_, err = CopyFromSingleTable(ctx, pool, old, store)
	require.NoError(t, err)
	_, err = CopyFromSingleTable(ctx, pool, old, store)
	require.Error(t, err, "a second copy into the same tables")

	_, err = CopyFromSingleTable(ctx, pool, store.Schema(), store)
	require.ErrorContains(t, err, "another schema")
}
