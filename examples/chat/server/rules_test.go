package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// exampleServer is the example server on loopback, a Connect client and a
// WebSocket subscribed to room r1 (its events, in order, come from next).
type exampleServer struct {
	chat chatv1connect.ChatServiceClient
	srv  *server
	next func() []*wsv1.Event
}

func startExample(t *testing.T) *exampleServer {
	t.Helper()
	broker := ssotws.NewMemoryBroker(nil)
	t.Cleanup(func() { broker.Close() })
	srv, err := newServer(ssotws.NewMemoryStore(), broker, broker, "", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ts := httptest.NewServer(srv.mux)
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws",
		&websocket.DialOptions{Subprotocols: []string{ssotws.Subprotocol}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.CloseNow() })
	read := func() *wsv1.ServerFrame {
		_, b, err := ws.Read(ctx)
		require.NoError(t, err)
		var f wsv1.ServerFrame
		require.NoError(t, proto.Unmarshal(b, &f))
		return &f
	}
	sub, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: ssotws.ScopeChannel("Message", "room_id", "r1")}}})
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageBinary, sub))
	require.NotNil(t, read().GetAck())
	return &exampleServer{
		chat: chatv1connect.NewChatServiceClient(ts.Client(), ts.URL),
		srv:  srv,
		next: func() []*wsv1.Event {
			f := read()
			require.NotNil(t, f.GetEvents(), "%v", f)
			return f.GetEvents().GetEvents()
		},
	}
}

func eventMessage(t *testing.T, ev *wsv1.Event) *chatv1.Message {
	var m chatv1.Message
	require.NoError(t, proto.Unmarshal(ev.GetData(), &m))
	return &m
}

// TestMessageHooks: the example's hooks stamp created_at_ms on create
// whatever the client sent and keep it on update; the events carry what
// the hooks made.
func TestMessageHooks(t *testing.T) {
	e := startExample(t)
	ctx := context.Background()

	created, err := e.chat.CreateMessage(ctx, connect.NewRequest(&chatv1.CreateMessageRequest{
		Message: &chatv1.Message{RoomId: "r1", Text: "hi", CreatedAtMs: 1},
	}))
	require.NoError(t, err)
	stamp := created.Msg.GetCreatedAtMs()
	assert.NotEqual(t, int64(1), stamp, "the client's created_at_ms is replaced")
	assert.Positive(t, stamp)
	ev := e.next()
	require.Len(t, ev, 1)
	assert.Equal(t, stamp, eventMessage(t, ev[0]).GetCreatedAtMs())

	updated, err := e.chat.UpdateMessage(ctx, connect.NewRequest(&chatv1.UpdateMessageRequest{
		Message:    &chatv1.Message{Id: created.Msg.GetId(), Text: "hi again", CreatedAtMs: 2},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"text", "created_at_ms"}},
	}))
	require.NoError(t, err)
	assert.Equal(t, stamp, updated.Msg.GetCreatedAtMs(), "an update keeps created_at_ms")

	ev = e.next()
	require.Len(t, ev, 1)
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_UPDATED, ev[0].GetType())
	assert.Equal(t, int64(2), ev[0].GetVersion())
	assert.Equal(t, "hi again", eventMessage(t, ev[0]).GetText())
}

// TestClearRoom: the custom method ClearRoom deletes through the runtime:
// each delete is versioned and published to the room's subscribers, other
// rooms are untouched, and a retry with the same Idempotency-Key writes
// nothing twice.
func TestClearRoom(t *testing.T) {
	e := startExample(t)
	ctx := context.Background()
	var keys []string
	for _, room := range []string{"r1", "r1", "r2", "r1"} {
		res, err := e.chat.CreateMessage(ctx, connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: room, Text: "m"}}))
		require.NoError(t, err)
		if room == "r1" {
			keys = append(keys, res.Msg.GetId())
		}
	}
	var seen []string
	for len(seen) < 3 {
		for _, ev := range e.next() {
			seen = append(seen, ev.GetKey())
		}
	}

	req := connect.NewRequest(&chatv1.ClearRoomRequest{RoomId: "r1"})
	req.Header().Set(ssotws.HeaderIdempotencyKey, "clear-1")
	res, err := e.chat.ClearRoom(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, int64(3), res.Msg.GetDeleted())

	var deleted []string
	for len(deleted) < 3 {
		for _, ev := range e.next() {
			assert.Equal(t, wsv1.EventType_EVENT_TYPE_DELETED, ev.GetType())
			assert.Equal(t, int64(2), ev.GetVersion(), "a delete is the record's next version")
			deleted = append(deleted, ev.GetKey())
		}
	}
	assert.ElementsMatch(t, keys, deleted)

	count := func(room string) int64 {
		res, err := e.chat.CountMessages(ctx, connect.NewRequest(&chatv1.CountMessagesRequest{RoomId: room}))
		require.NoError(t, err)
		return res.Msg.GetCount()
	}
	assert.Equal(t, int64(0), count("r1"))
	assert.Equal(t, int64(1), count("r2"))

	retry := connect.NewRequest(&chatv1.ClearRoomRequest{RoomId: "r1"})
	retry.Header().Set(ssotws.HeaderIdempotencyKey, "clear-1")
	res, err = e.chat.ClearRoom(ctx, retry)
	require.NoError(t, err)
	assert.Equal(t, int64(0), res.Msg.GetDeleted())

	// Nothing more was published for r1: the next event is a new message.
	_, err = e.chat.CreateMessage(ctx, connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: "r1", Text: "after"}}))
	require.NoError(t, err)
	ev := e.next()
	require.Len(t, ev, 1)
	assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, ev[0].GetType())
}
