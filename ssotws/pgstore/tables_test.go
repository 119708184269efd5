package pgstore

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	migratecmd "github.com/ssot-codegen/ssot-ws/internal/migrate"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/storetest"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

var chatModels = []*ssotws.Model{chatv1ssotws.RoomModel, chatv1ssotws.MessageModel}

func openTableStore(t testing.TB, schema string, models []*ssotws.Model) *TableStore {
	t.Helper()
	s, err := OpenTables(context.Background(), testURL, models, &Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestTablesConformance(t *testing.T) {
	storetest.RunTables(t, func(t *testing.T, models []*ssotws.Model) ssotws.Store {
		return openTableStore(t, newSchema(t), models)
	})
}

type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func serveGateway(t *testing.T, broker ssotws.Broker) *wsClient {
	t.Helper()
	g := ssotws.NewGateway(broker, nil)
	for _, m := range chatModels {
		require.NoError(t, g.RegisterModel(m))
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Shutdown(ctx)
		srv.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}})
	require.NoError(t, err)
	t.Cleanup(func() { ws.CloseNow() })
	return &wsClient{t: t, ws: ws}
}

func (c *wsClient) next() *wsv1.ServerFrame {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, b, err := c.ws.Read(ctx)
	require.NoError(c.t, err)
	f := &wsv1.ServerFrame{}
	require.NoError(c.t, proto.Unmarshal(b, f))
	return f
}

func (c *wsClient) subscribe(channel string) {
	b, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: channel}}})
	require.NoError(c.t, err)
	require.NoError(c.t, c.ws.Write(context.Background(), websocket.MessageBinary, b))
	require.NotNil(c.t, c.next().GetAck())
}

func (c *wsClient) events(n int) []*wsv1.Event {
	var out []*wsv1.Event
	for len(out) < n {
		f := c.next()
		require.NotNil(c.t, f.GetEvents(), "frame %v", f)
		out = append(out, f.GetEvents().GetEvents()...)
	}
	require.Len(c.t, out, n)
	return out
}

// TestPlainSQLWritesAreLive: rows written with pgx on a connection of its
// own — not through ssotws — reach a subscriber on a real WebSocket, woken
// by NOTIFY, with the versions the triggers gave them.
func TestPlainSQLWritesAreLive(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	store := openTableStore(t, schema, chatModels)
	broker := ssotws.NewMemoryBroker(nil)
	t.Cleanup(func() { broker.Close() })
	relay, err := store.StartRelay(ctx, broker, &RelayOptions{PollInterval: time.Hour}) // NOTIFY only
	require.NoError(t, err)
	t.Cleanup(func() { relay.Close() })
	sub := serveGateway(t, broker)
	sub.subscribe(ssotws.ScopeChannel("Message", "room_id", "r1"))

	conn, err := pgx.Connect(ctx, testURL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	tbl := pgx.Identifier{schema, "messages"}.Sanitize()
	for _, q := range []string{
		`INSERT INTO ` + tbl + ` (id, room_id, author, text) VALUES ('m1', 'r1', 'ann', 'hello from psql')`,
		`UPDATE ` + tbl + ` SET text = 'edited' WHERE id = 'm1'`,
		`DELETE FROM ` + tbl + ` WHERE id = 'm1'`,
	} {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	evs := sub.events(3)
	for i, w := range []struct {
		typ  wsv1.EventType
		text string
	}{
		{wsv1.EventType_EVENT_TYPE_CREATED, "hello from psql"},
		{wsv1.EventType_EVENT_TYPE_UPDATED, "edited"},
		{wsv1.EventType_EVENT_TYPE_DELETED, "edited"},
	} {
		ev := evs[i]
		assert.Equal(t, w.typ, ev.GetType(), "event %d", i)
		assert.Equal(t, int64(i+1), ev.GetVersion(), "event %d", i)
		assert.Equal(t, uint64(i+1), ev.GetPosition().GetOffset(), "event %d", i)
		m := &chatv1.Message{}
		require.NoError(t, proto.Unmarshal(ev.GetData(), m))
		assert.Equal(t, w.text, m.GetText(), "event %d", i)
		assert.Equal(t, int64(i+1), m.GetVersion(), "event %d", i)
	}
	// The store sees the tombstone: a re-create goes on from its version.
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(&chatv1.Message{Id: "m1", RoomId: "r1", Text: "again"})
	require.NoError(t, err)
	res, err := store.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: "chat.v1.Message", Key: "m1", Data: data, RequestID: "bob\x1fr-1"})
	require.NoError(t, err)
	assert.Equal(t, int64(4), res.Record.Version)
	ev := sub.events(1)[0]
	assert.Equal(t, "r-1", ev.GetRequestId())
	assert.Equal(t, int64(4), ev.GetVersion())
}

type downPublisher struct{}

func (downPublisher) Publish(context.Context, []*wsv1.Event) error { return errors.New("broker down") }

// TestCrashBetweenCommitAndPublish: a write commits while the broker is
// down, and the store and relay are closed (the process dies). A relay
// started on a new store over the same schema publishes it.
func TestCrashBetweenCommitAndPublish(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	store, err := OpenTables(ctx, testURL, chatModels, &Options{Schema: schema})
	require.NoError(t, err)
	relay, err := store.StartRelay(ctx, downPublisher{}, nil)
	require.NoError(t, err)
	committed := make(chan struct{}, 1)
	store.tables.AfterCommit = func(*ssotws.Write) { committed <- struct{}{} }
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(&chatv1.Message{Id: "m1", RoomId: "r1", Text: "survives"})
	require.NoError(t, err)
	_, err = store.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: "chat.v1.Message", Key: "m1", Data: data})
	require.NoError(t, err)
	<-committed
	require.NoError(t, relay.Close())
	require.NoError(t, store.Close())

	store = openTableStore(t, schema, chatModels)
	broker := ssotws.NewMemoryBroker(nil)
	t.Cleanup(func() { broker.Close() })
	sub := serveGateway(t, broker)
	sub.subscribe(ssotws.ItemChannel("Message", "m1"))
	relay, err = store.StartRelay(ctx, broker, nil)
	require.NoError(t, err)
	t.Cleanup(func() { relay.Close() })
	ev := sub.events(1)[0]
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, ev.GetType())
	m := &chatv1.Message{}
	require.NoError(t, proto.Unmarshal(ev.GetData(), m))
	assert.Equal(t, "survives", m.GetText())
}

// TestMigrationFilesBuildWhatTheStoreExpects: the committed PostgreSQL
// migration goldens, applied with pgx as a migration tool would, build the
// tables a store of the same models opens as they are; a row inserted by
// plain SQL then reads back through the store with the trigger's version.
func TestMigrationFilesBuildWhatTheStoreExpects(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	conn, err := pgx.Connect(ctx, testURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()+"; SET search_path TO "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	for _, f := range []string{"0001_init.sql", "0002_add_rooms_owner_and_more.sql"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "internal", "migrate", "testdata", "postgres", f))
		require.NoError(t, err)
		_, err = conn.Exec(ctx, string(b))
		require.NoError(t, err, f)
	}
	_, err = conn.Exec(ctx, `INSERT INTO messages (id, room_id, text, sent_at, tags, blob, meta, big, pinned)
VALUES ('m1', 'r1', 'hi', '2024-05-01T10:00:00Z', '["a","b"]', '\x0102', '{"k":"v"}', 18446744073709551615, true)`)
	require.NoError(t, err)

	models, err := migratecmd.Models(ctx, []string{filepath.Join("..", "..", "internal", "migrate", "testdata")}, nil, []string{"v2.proto"})
	require.NoError(t, err)
	store := openTableStore(t, schema, models)
	rec, err := store.Get(ctx, "chat.v1.Message", "m1")
	require.NoError(t, err)
	assert.Equal(t, int64(1), rec.Version)
	assert.Equal(t, "18446744073709551615", rec.Fields["big"])
	assert.Equal(t, "true", rec.Fields["pinned"])
}
