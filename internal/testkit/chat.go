package testkit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"connectrpc.com/connect"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// ServeChat serves the generated chat service over store on a loopback
// httptest server and returns a client for it.
func ServeChat(t *testing.T, store ssotws.Store) chatv1connect.ChatServiceClient {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(chatv1ssotws.NewChatServiceHandler(chatv1ssotws.NewChatService(store, ssotws.NewMemoryBroker(nil), nil)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return chatv1connect.NewChatServiceClient(srv.Client(), srv.URL)
}

// Code returns err's Connect code, CodeUnknown for an error without one.
func Code(err error) connect.Code {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Code()
	}
	return connect.CodeUnknown
}

// DriveChatService drives the generated chat service over HTTP against a
// persistent store: rooms, idempotent creates, paging through one room,
// conditional updates, deletes, a bad page token. Then it calls restart,
// which must close store and return a store over the same data (the file
// reopened, another node on the same database), and checks that records,
// versions and idempotency keys survived.
func DriveChatService(t *testing.T, store ssotws.Store, restart func() ssotws.Store) {
	t.Helper()
	ctx := context.Background()
	c := ServeChat(t, store)

	room, err := c.CreateRoom(ctx, connect.NewRequest(&chatv1.CreateRoomRequest{Room: &chatv1.Room{Title: "general"}}))
	if err != nil {
		t.Fatal(err)
	}
	if room.Msg.GetId() == "" || room.Msg.GetVersion() != 1 {
		t.Fatalf("created room %v", room.Msg)
	}
	other, err := c.CreateRoom(ctx, connect.NewRequest(&chatv1.CreateRoomRequest{Room: &chatv1.Room{Title: "random"}}))
	if err != nil {
		t.Fatal(err)
	}

	// A create repeated with the same Idempotency-Key is not applied twice.
	post := func(roomID, text, key string) *chatv1.Message {
		t.Helper()
		req := connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: roomID, Author: "ann", Text: text}})
		if key != "" {
			req.Header().Set(ssotws.HeaderIdempotencyKey, key)
		}
		res, err := c.CreateMessage(ctx, req)
		if err != nil {
			t.Fatalf("CreateMessage: %v", err)
		}
		return res.Msg
	}
	first := post(room.Msg.GetId(), "hello", "key-1")
	again := post(room.Msg.GetId(), "hello", "key-1")
	if again.GetId() != first.GetId() || again.GetVersion() != 1 {
		t.Errorf("repeated create: %v, first %v", again, first)
	}
	var want []string
	want = append(want, first.GetId())
	for i := range 4 {
		want = append(want, post(room.Msg.GetId(), "m"+string(rune('0'+i)), "").GetId())
		post(other.Msg.GetId(), "elsewhere", "")
	}

	listRoom := func(c chatv1connect.ChatServiceClient, roomID string) []string {
		t.Helper()
		var ids []string
		token := ""
		for {
			res, err := c.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{RoomId: roomID, PageSize: 2, PageToken: token}))
			if err != nil {
				t.Fatalf("ListMessages: %v", err)
			}
			for _, m := range res.Msg.GetMessages() {
				if m.GetRoomId() != roomID {
					t.Errorf("message %s of room %s listed in %s", m.GetId(), m.GetRoomId(), roomID)
				}
				ids = append(ids, m.GetId())
			}
			if token = res.Msg.GetNextPageToken(); token == "" {
				return ids
			}
		}
	}
	if got := listRoom(c, room.Msg.GetId()); !slices.Equal(got, want) {
		t.Errorf("room messages = %v, want %v", got, want)
	}

	// Conditional update: the right version applies, a stale one is Aborted.
	upd, err := c.UpdateMessage(ctx, connect.NewRequest(&chatv1.UpdateMessageRequest{Message: &chatv1.Message{Id: first.GetId(), Text: "edited", Version: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	if upd.Msg.GetText() != "edited" || upd.Msg.GetVersion() != 2 || upd.Msg.GetAuthor() != "ann" {
		t.Errorf("updated %v", upd.Msg)
	}
	_, err = c.UpdateMessage(ctx, connect.NewRequest(&chatv1.UpdateMessageRequest{Message: &chatv1.Message{Id: first.GetId(), Text: "stale", Version: 1}}))
	if Code(err) != connect.CodeAborted {
		t.Errorf("stale update: %v", err)
	}
	// Delete, then Get is NotFound.
	if _, err := c.DeleteMessage(ctx, connect.NewRequest(&chatv1.DeleteMessageRequest{Id: want[1]})); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetMessage(ctx, connect.NewRequest(&chatv1.GetMessageRequest{Id: want[1]})); Code(err) != connect.CodeNotFound {
		t.Errorf("get deleted: %v", err)
	}
	want = append(want[:1:1], want[2:]...)
	_, err = c.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{RoomId: room.Msg.GetId(), PageToken: "garbage"}))
	if Code(err) != connect.CodeInvalidArgument {
		t.Errorf("garbage page token: %v", err)
	}

	// Everything is still there after a restart.
	c2 := ServeChat(t, restart())
	if got := listRoom(c2, room.Msg.GetId()); !slices.Equal(got, want) {
		t.Errorf("room messages after restart = %v, want %v", got, want)
	}
	got, err := c2.GetMessage(ctx, connect.NewRequest(&chatv1.GetMessageRequest{Id: first.GetId()}))
	if err != nil || got.Msg.GetText() != "edited" || got.Msg.GetVersion() != 2 {
		t.Errorf("message after restart: %v, %v", got, err)
	}
	// The idempotency key is remembered across the restart.
	req := connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: room.Msg.GetId(), Author: "ann", Text: "hello"}})
	req.Header().Set(ssotws.HeaderIdempotencyKey, "key-1")
	replayed, err := c2.CreateMessage(ctx, req)
	if err != nil || replayed.Msg.GetId() != first.GetId() {
		t.Errorf("repeated create after restart: %v, %v (first %s)", replayed, err, first.GetId())
	}
	rooms, err := c2.ListRooms(ctx, connect.NewRequest(&chatv1.ListRoomsRequest{}))
	if err != nil || len(rooms.Msg.GetRooms()) != 2 || rooms.Msg.GetRooms()[0].GetTitle() != "general" {
		t.Errorf("rooms after restart: %v, %v", rooms, err)
	}
}
