package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/internal/testkit"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

var chatModels = []*ssotws.Model{chatv1ssotws.RoomModel, chatv1ssotws.MessageModel}

// wsClient is a WebSocket subscriber of a gateway.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func serveGateway(t *testing.T, broker ssotws.Broker) string {
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
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func dialWS(t *testing.T, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}})
	require.NoError(t, err)
	t.Cleanup(func() { ws.CloseNow() })
	return &wsClient{t: t, ws: ws}
}

func (c *wsClient) send(f *wsv1.ClientFrame) {
	b, err := proto.Marshal(f)
	require.NoError(c.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(c.t, c.ws.Write(ctx, websocket.MessageBinary, b))
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

// subscribe subscribes to channel (from since, if set) and returns the
// Ack's position, after any replayed events, which it returns too.
func (c *wsClient) subscribe(channel string, since *wsv1.Position) (replayed []*wsv1.Event) {
	c.send(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: channel, Since: since}}})
	for {
		f := c.next()
		if f.GetAck() != nil {
			return replayed
		}
		require.Nil(c.t, f.GetError(), "subscribe %s", channel)
		replayed = append(replayed, f.GetEvents().GetEvents()...)
	}
}

// events reads n events.
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

func message(t *testing.T, ev *wsv1.Event) *chatv1.Message {
	t.Helper()
	m := &chatv1.Message{}
	require.NoError(t, proto.Unmarshal(ev.GetData(), m))
	return m
}

// TestPlainSQLWritesAreLive: rows written with the plain database/sql
// driver on a connection of its own — not through ssotws — reach a
// subscriber on a real WebSocket, with versions the triggers gave them
// and positions, in commit order.
func TestPlainSQLWritesAreLive(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	store := openTables(t, path, chatModels)
	broker := ssotws.NewMemoryBroker(nil)
	t.Cleanup(func() { broker.Close() })
	relay, err := store.StartRelay(ctx, broker, nil)
	require.NoError(t, err)
	t.Cleanup(func() { relay.Close() })
	url := serveGateway(t, broker)

	room1 := dialWS(t, url)
	room1.subscribe(ssotws.ScopeChannel("Message", "room_id", "r1"), nil)

	// Another writer of the file, as the sqlite3 shell or another service
	// would be: it waits for the lock rather than failing at once.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.ExecContext(ctx, `INSERT INTO messages (id, room_id, author, text) VALUES ('m1', 'r1', 'ann', 'hello from SQL')`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `UPDATE messages SET text = 'edited' WHERE id = 'm1'`)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `UPDATE messages SET room_id = 'r2' WHERE id = 'm1'`)
	require.NoError(t, err)

	evs := room1.events(3)
	want := []struct {
		typ     wsv1.EventType
		version int64
		text    string
	}{
		{wsv1.EventType_EVENT_TYPE_CREATED, 1, "hello from SQL"},
		{wsv1.EventType_EVENT_TYPE_UPDATED, 2, "edited"},
		{wsv1.EventType_EVENT_TYPE_DELETED, 3, "edited"}, // moved out of r1
	}
	for i, w := range want {
		ev := evs[i]
		assert.Equal(t, w.typ, ev.GetType(), "event %d", i)
		assert.Equal(t, "m1", ev.GetKey(), "event %d", i)
		assert.Equal(t, w.version, ev.GetVersion(), "event %d", i)
		assert.Equal(t, uint64(i+1), ev.GetPosition().GetOffset(), "event %d", i)
		m := message(t, ev)
		assert.Equal(t, w.text, m.GetText(), "event %d", i)
		assert.Equal(t, w.version, m.GetVersion(), "event %d", i)
	}

	// A delete by the driver: the generated service sees the tombstone,
	// and a re-create through it goes on from its version.
	_, err = db.ExecContext(ctx, `DELETE FROM messages WHERE id = 'm1'`)
	require.NoError(t, err)
	room2 := dialWS(t, url)
	room2.subscribe(ssotws.ScopeChannel("Message", "room_id", "r2"), &wsv1.Position{Epoch: broker.Epoch(), Offset: 0})
	require.NoError(t, relay.Sync(ctx))
	_, err = store.Get(ctx, "chat.v1.Message", "m1")
	require.ErrorIs(t, err, ssotws.ErrNotFound)
	res, err := store.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: "chat.v1.Message", Key: "m1", Data: mustMarshal(t, &chatv1.Message{Id: "m1", RoomId: "r2", Text: "again"})})
	require.NoError(t, err)
	assert.Equal(t, int64(5), res.Record.Version)
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err)
	return b
}

// TestGeneratedServiceOnTables drives the generated chat service over the
// per-model tables, with its events published by the relay only, then
// reopens the file.
func TestGeneratedServiceOnTables(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	store, err := sqlitestore.OpenTables(ctx, path, chatModels, nil)
	require.NoError(t, err)
	testkit.DriveChatService(t, store, func() ssotws.Store {
		require.NoError(t, store.Close())
		reopened, err := sqlitestore.OpenTables(ctx, path, chatModels, nil)
		require.NoError(t, err)
		t.Cleanup(func() { reopened.Close() })
		return reopened
	})
}

// TestRelayedServiceEventsOnce: with the relayed publisher, a write through
// the generated handlers reaches subscribers once, from the change log,
// with the request id it was made with.
func TestRelayedServiceEventsOnce(t *testing.T) {
	ctx := context.Background()
	store, broker, relay, url := relayedTables(t)
	sub := dialWS(t, url)
	sub.subscribe("Message", nil)

	svc := chatv1ssotws.NewChatService(store, ssotws.RelayedPublisher(relay, broker), nil)
	msgs := svc.Messages
	in := http.Header{}
	in.Set(ssotws.HeaderIdempotencyKey, "req-1")
	created, err := msgs.Create(ctx, in, &chatv1.Message{RoomId: "r1", Text: "hi"})
	require.NoError(t, err)
	// Published before Create returned.
	pos, err := broker.Position(ctx, "Message")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), pos.GetOffset())
	_, err = msgs.Delete(ctx, http.Header{}, created.GetId())
	require.NoError(t, err)

	evs := sub.events(2)
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, evs[0].GetType())
	assert.Equal(t, "req-1", evs[0].GetRequestId())
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_DELETED, evs[1].GetType())
	assert.Equal(t, int64(2), evs[1].GetVersion())
	pos, err = broker.Position(ctx, "Message")
	require.NoError(t, err)
	assert.Equal(t, uint64(2), pos.GetOffset(), "each change published once")
}

// failingPublisher is a broker that is down.
type failingPublisher struct{}

func (failingPublisher) Publish(context.Context, []*wsv1.Event) error {
	return errors.New("broker down")
}

// TestCrashBetweenCommitAndPublish: a write commits, and the process
// "crashes" before its event is published (the broker is down, then the
// store and relay are closed). A relay of the same name started on the
// reopened file publishes it, to a subscriber on a real WebSocket.
func TestCrashBetweenCommitAndPublish(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	store, err := sqlitestore.OpenTables(ctx, path, chatModels, nil)
	require.NoError(t, err)
	relay, err := store.StartRelay(ctx, failingPublisher{}, &sqlitestore.RelayOptions{Name: "node-1"})
	require.NoError(t, err)
	committed := make(chan struct{}, 1)
	sqlitestore.SetAfterCommit(store, func(*ssotws.Write) { committed <- struct{}{} })
	_, err = store.Apply(ctx, &ssotws.Write{Kind: ssotws.WriteCreate, Model: "chat.v1.Message", Key: "m1",
		Data: mustMarshal(t, &chatv1.Message{Id: "m1", RoomId: "r1", Text: "survives"}), RequestID: "alice\x1freq-9"})
	require.NoError(t, err)
	<-committed
	require.NoError(t, relay.Close())
	require.NoError(t, store.Close())

	store = openTables(t, path, chatModels)
	broker := ssotws.NewMemoryBroker(nil)
	t.Cleanup(func() { broker.Close() })
	url := serveGateway(t, broker)
	sub := dialWS(t, url)
	sub.subscribe(ssotws.ItemChannel("Message", "m1"), nil)
	relay, err = store.StartRelay(ctx, broker, &sqlitestore.RelayOptions{Name: "node-1"})
	require.NoError(t, err)
	t.Cleanup(func() { relay.Close() })

	ev := sub.events(1)[0]
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, ev.GetType())
	assert.Equal(t, "req-9", ev.GetRequestId())
	assert.Equal(t, "survives", message(t, ev).GetText())
	assert.Equal(t, int64(1), message(t, ev).GetVersion())
}

// TestRelaysOfOneNameShareTheLog: two stores on one file (as two
// processes would open it) each run a relay of the same name to one
// shared broker; writes go through both. Every change is published
// exactly once, and each node's Publish still returns only once its
// change is out, whichever relay published it.
func TestRelaysOfOneNameShareTheLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chat.db")
	broker := ssotws.NewMemoryBroker(nil)
	t.Cleanup(func() { broker.Close() })
	var svcs []*chatv1ssotws.ChatService
	for range 2 {
		store := openTables(t, path, chatModels)
		relay, err := store.StartRelay(ctx, broker, &sqlitestore.RelayOptions{Name: "shared"})
		require.NoError(t, err)
		t.Cleanup(func() { relay.Close() })
		svcs = append(svcs, chatv1ssotws.NewChatService(store, ssotws.RelayedPublisher(relay, broker), nil))
	}
	const n = 40
	for i := range n {
		_, err := svcs[i%2].Messages.Create(ctx, http.Header{}, &chatv1.Message{RoomId: "r1", Text: "hi"})
		require.NoError(t, err)
		pos, err := broker.Position(ctx, "Message")
		require.NoError(t, err)
		require.Equal(t, uint64(i+1), pos.GetOffset(), "write %d published once, before Create returned", i)
	}
	evs, err := broker.History(ctx, "Message", &wsv1.Position{Epoch: mustPosition(t, broker).GetEpoch()})
	require.NoError(t, err)
	require.Len(t, evs, n)
	keys := map[string]bool{}
	for _, ev := range evs {
		keys[ev.GetKey()] = true
	}
	assert.Len(t, keys, n, "no change published twice")
}

func mustPosition(t *testing.T, b ssotws.Broker) *wsv1.Position {
	t.Helper()
	pos, err := b.Position(context.Background(), "Message")
	require.NoError(t, err)
	return pos
}
