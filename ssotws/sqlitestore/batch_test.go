package sqlitestore_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/sqlitestore"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// relayedTables opens the chat tables in a temporary file, with a relay
// to a memory broker and a gateway of it at url.
func relayedTables(t *testing.T) (*sqlitestore.TableStore, *ssotws.MemoryBroker, *sqlitestore.Relay, string) {
	t.Helper()
	store := openTables(t, filepath.Join(t.TempDir(), "chat.db"), chatModels)
	broker := ssotws.NewMemoryBroker(nil)
	t.Cleanup(func() { broker.Close() })
	relay, err := store.StartRelay(context.Background(), broker, nil)
	require.NoError(t, err)
	t.Cleanup(func() { relay.Close() })
	return store, broker, relay, serveGateway(t, broker)
}

// TestBatchOnTables: the generated batch methods over HTTP on the SQLite
// tables, their events published by the relay from the change log. A
// batch is one transaction: its events reach a subscriber in one frame,
// and a batch whose last item fails in the store leaves no row and no
// change behind.
func TestBatchOnTables(t *testing.T) {
	ctx := context.Background()
	store, broker, relay, url := relayedTables(t)
	room := dialWS(t, url)
	room.subscribe(ssotws.ScopeChannel("Message", "room_id", "r1"), nil)

	svc := chatv1ssotws.NewChatService(store, ssotws.RelayedPublisher(relay, broker), nil)
	mux := http.NewServeMux()
	mux.Handle(chatv1ssotws.NewChatServiceHandler(svc))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	chat := chatv1connect.NewChatServiceClient(srv.Client(), srv.URL)
	batch := func(ids ...string) error {
		req := &chatv1.BatchCreateMessagesRequest{}
		for _, id := range ids {
			req.Requests = append(req.Requests, &chatv1.CreateMessageRequest{Message: &chatv1.Message{Id: id, RoomId: "r1", Text: "hi " + id}})
		}
		_, err := chat.BatchCreateMessages(ctx, connect.NewRequest(req))
		return err
	}

	require.NoError(t, batch("m1", "m2", "m3"))
	f := room.next()
	evs := f.GetEvents().GetEvents()
	require.Len(t, evs, 3, "one frame: %v", f)
	for i, ev := range evs {
		assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, ev.GetType())
		assert.Equal(t, uint64(i+1), ev.GetPosition().GetOffset())
	}

	err := batch("m4", "m5", "m1")
	require.Equal(t, connect.CodeAlreadyExists, connect.CodeOf(err))
	assert.Contains(t, err.Error(), "requests[2]")
	for _, id := range []string{"m4", "m5"} {
		_, err := store.Get(ctx, "chat.v1.Message", id)
		require.ErrorIs(t, err, ssotws.ErrNotFound, "%s was rolled back", id)
	}
	require.NoError(t, relay.Sync(ctx))
	pos, err := broker.Position(ctx, ssotws.ScopeChannel("Message", "room_id", "r1"))
	require.NoError(t, err)
	assert.Equal(t, uint64(3), pos.GetOffset(), "the failed batch published nothing")
}
