package pgstore

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/testkit"
	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// TestChatService drives the generated chat service over HTTP against the
// PostgreSQL store, then again after a restart, through a second node.
func TestChatService(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	store, err := OpenTables(ctx, testURL, chatModels, &Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	testkit.DriveChatService(t, store, func() ssotws.Store {
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
		return openTableStore(t, schema, chatModels)
	})
}

// TestChatTwoNodes: two servers, each with its own store on one database,
// get the same create with the same Idempotency-Key at once; one message is
// created and both answer with it.
func TestChatTwoNodes(t *testing.T) {
	ctx := context.Background()
	schema := newSchema(t)
	clients := []chatv1connect.ChatServiceClient{
		testkit.ServeChat(t, openTableStore(t, schema, chatModels)),
		testkit.ServeChat(t, openTableStore(t, schema, chatModels)),
	}
	room, err := clients[0].CreateRoom(ctx, connect.NewRequest(&chatv1.CreateRoomRequest{Room: &chatv1.Room{Title: "general"}}))
	if err != nil {
		t.Fatal(err)
	}
	const sends = 8
	ids := make(chan string, sends)
	for i := range sends {
		go func() {
			req := connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: room.Msg.GetId(), Author: "ann", Text: "once"}})
			req.Header().Set(ssotws.HeaderIdempotencyKey, "same-key")
			res, err := clients[i%2].CreateMessage(ctx, req)
			if err != nil {
				t.Errorf("CreateMessage: %v", err)
				ids <- ""
				return
			}
			ids <- res.Msg.GetId()
		}()
	}
	first := <-ids
	for range sends - 1 {
		if id := <-ids; id != first {
			t.Errorf("message ids %q and %q for one Idempotency-Key", first, id)
		}
	}
	list, err := clients[1].ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{RoomId: room.Msg.GetId()}))
	if err != nil || len(list.Msg.GetMessages()) != 1 {
		t.Errorf("messages: %v, %v; want one", list, err)
	}
}
