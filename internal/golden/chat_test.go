package golden_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/internal/golden/chat/v1"
	"github.com/ssot-codegen/ssot-ws/internal/golden/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/internal/golden/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
)

func newChat(t *testing.T) (chatv1connect.ChatServiceClient, *ssotws.MemoryStore, *recorder) {
	t.Helper()
	store, rec := ssotws.NewMemoryStore(), &recorder{}
	srv := serve(t)(chatv1connect.NewChatServiceHandler(chatv1ssotws.NewChatService(store, rec, &ssotws.ResourceOptions{DefaultPageSize: 2, MaxPageSize: 10})))
	return chatv1connect.NewChatServiceClient(srv.Client(), srv.URL), store, rec
}

func TestChatRooms(t *testing.T) {
	ctx := context.Background()
	client, store, rec := newChat(t)

	created, err := client.CreateRoom(ctx, withKey(&chatv1.CreateRoomRequest{Room: &chatv1.Room{Id: "r1", Title: "General"}}, "req-1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := created.Msg; got.GetId() != "r1" || got.GetTitle() != "General" || got.GetVersion() != 1 {
		t.Fatalf("created %v", got)
	}
	wantEvents(t, rec, "CREATED Room r1 1 req-1", "CREATED Room/r1 r1 1 req-1")

	// A retry with the same Idempotency-Key is not applied twice.
	again, err := client.CreateRoom(ctx, withKey(&chatv1.CreateRoomRequest{Room: &chatv1.Room{Id: "r1", Title: "General"}}, "req-1"))
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if again.Msg.GetVersion() != 1 {
		t.Fatalf("retry applied again: %v", again.Msg)
	}
	rec.take() // a replay may publish again, with the same version
	if r, err := store.Get(ctx, "chat.v1.Room", "r1"); err != nil || r.Version != 1 {
		t.Fatalf("store after retry: %v, %v", r, err)
	}

	// The same create without the key is a new request: AlreadyExists.
	_, err = client.CreateRoom(ctx, withKey(&chatv1.CreateRoomRequest{Room: &chatv1.Room{Id: "r1"}}, "req-2"))
	wantCode(t, err, connect.CodeAlreadyExists, "")
	wantEvents(t, rec)

	got, err := client.GetRoom(ctx, connect.NewRequest(&chatv1.GetRoomRequest{Id: "r1"}))
	if err != nil || got.Msg.GetTitle() != "General" {
		t.Fatalf("get: %v, %v", got, err)
	}
	_, err = client.GetRoom(ctx, connect.NewRequest(&chatv1.GetRoomRequest{Id: "nope"}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = client.GetRoom(ctx, connect.NewRequest(&chatv1.GetRoomRequest{}))
	wantCode(t, err, connect.CodeInvalidArgument, "id is required")

	// Update with a mask changes only the masked fields; a stale version
	// is refused.
	up, err := client.UpdateRoom(ctx, withKey(&chatv1.UpdateRoomRequest{
		Room: &chatv1.Room{Id: "r1", Title: "Lobby", Version: 1}, UpdateMask: mask("title"),
	}, "req-3"))
	if err != nil || up.Msg.GetTitle() != "Lobby" || up.Msg.GetVersion() != 2 {
		t.Fatalf("update: %v, %v", up, err)
	}
	wantEvents(t, rec, "UPDATED Room r1 2 req-3", "UPDATED Room/r1 r1 2 req-3")
	_, err = client.UpdateRoom(ctx, connect.NewRequest(&chatv1.UpdateRoomRequest{
		Room: &chatv1.Room{Id: "r1", Title: "Stale", Version: 1}, UpdateMask: mask("title"),
	}))
	wantCode(t, err, connect.CodeAborted, "")
	_, err = client.UpdateRoom(ctx, connect.NewRequest(&chatv1.UpdateRoomRequest{
		Room: &chatv1.Room{Id: "r1"}, UpdateMask: mask("colour"),
	}))
	wantCode(t, err, connect.CodeInvalidArgument, `"colour"`)
	_, err = client.CreateRoom(ctx, connect.NewRequest(&chatv1.CreateRoomRequest{}))
	wantCode(t, err, connect.CodeInvalidArgument, "room is required")
	wantEvents(t, rec)
	if r := storedRecord(t, store, "chat.v1.Room", "r1", &chatv1.Room{}); r.GetTitle() != "Lobby" {
		t.Fatalf("stored %v", r)
	}

	// Delete: a stale version is refused, the current one deletes.
	_, err = client.DeleteRoom(ctx, connect.NewRequest(&chatv1.DeleteRoomRequest{Id: "r1", Version: 1}))
	wantCode(t, err, connect.CodeAborted, "")
	if _, err := client.DeleteRoom(ctx, withKey(&chatv1.DeleteRoomRequest{Id: "r1", Version: 2}, "req-4")); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, rec, "DELETED Room r1 3 req-4", "DELETED Room/r1 r1 3 req-4")
	_, err = client.GetRoom(ctx, connect.NewRequest(&chatv1.GetRoomRequest{Id: "r1"}))
	wantCode(t, err, connect.CodeNotFound, "")
	_, err = client.DeleteRoom(ctx, connect.NewRequest(&chatv1.DeleteRoomRequest{Id: "r1"}))
	wantCode(t, err, connect.CodeNotFound, "")
}

func TestChatMessages(t *testing.T) {
	ctx := context.Background()
	client, store, rec := newChat(t)

	var ids []string
	for i, room := range []string{"r1", "r2", "r1", "r1"} {
		res, err := client.CreateMessage(ctx, connect.NewRequest(&chatv1.CreateMessageRequest{
			Message: &chatv1.Message{RoomId: room, Text: "hello " + strconv.Itoa(i)},
		}))
		if err != nil {
			t.Fatal(err)
		}
		if res.Msg.GetId() == "" {
			t.Fatal("no id generated")
		}
		ids = append(ids, res.Msg.GetId())
	}
	first := rec.take()
	want := []string{
		"CREATED Message " + ids[0] + " 1 ",
		"CREATED Message/" + ids[0] + " " + ids[0] + " 1 ",
		"CREATED Message?room_id=r1 " + ids[0] + " 1 ",
	}
	if !slices.Equal(first[:3], want) || len(first) != 12 {
		t.Fatalf("events %q, want %d starting with %q", first, 12, want)
	}

	// List filters by room and pages.
	page1, err := client.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{RoomId: "r1"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(page1.Msg.GetMessages()); !slices.Equal(got, []string{"hello 0", "hello 2"}) || page1.Msg.GetNextPageToken() == "" {
		t.Fatalf("page 1: %v, token %q", got, page1.Msg.GetNextPageToken())
	}
	page2, err := client.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{RoomId: "r1", PageToken: page1.Msg.GetNextPageToken()}))
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(page2.Msg.GetMessages()); !slices.Equal(got, []string{"hello 3"}) || page2.Msg.GetNextPageToken() != "" {
		t.Fatalf("page 2: %v, token %q", got, page2.Msg.GetNextPageToken())
	}
	all, err := client.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{PageSize: 10}))
	if err != nil || len(all.Msg.GetMessages()) != 4 {
		t.Fatalf("list all: %v, %v", all, err)
	}
	_, err = client.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{PageToken: "garbage"}))
	wantCode(t, err, connect.CodeInvalidArgument, "")
	_, err = client.ListMessages(ctx, connect.NewRequest(&chatv1.ListMessagesRequest{PageSize: -1}))
	wantCode(t, err, connect.CodeInvalidArgument, "page_size")

	// Moving a message to another room updates the new room's channel and
	// leaves the old one.
	id := ids[0]
	if _, err := client.UpdateMessage(ctx, withKey(&chatv1.UpdateMessageRequest{
		Message: &chatv1.Message{Id: id, RoomId: "r2", Text: "ignored"}, UpdateMask: mask("room_id"),
	}, "move")); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, rec,
		"UPDATED Message "+id+" 2 move",
		"UPDATED Message/"+id+" "+id+" 2 move",
		"UPDATED Message?room_id=r2 "+id+" 2 move",
		"DELETED Message?room_id=r1 "+id+" 2 move",
	)
	if m := storedRecord(t, store, "chat.v1.Message", id, &chatv1.Message{}); m.GetRoomId() != "r2" || m.GetText() != "hello 0" {
		t.Fatalf("stored %v", m)
	}
	if _, err := client.DeleteMessage(ctx, withKey(&chatv1.DeleteMessageRequest{Id: id}, "del")); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, rec,
		"DELETED Message "+id+" 3 del",
		"DELETED Message/"+id+" "+id+" 3 del",
		"DELETED Message?room_id=r2 "+id+" 3 del",
	)
	if _, err := store.Get(ctx, "chat.v1.Message", id); !errors.Is(err, ssotws.ErrNotFound) {
		t.Fatalf("store after delete: %v", err)
	}
}

func texts(ms []*chatv1.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.GetText())
	}
	return out
}

func TestChatChannels(t *testing.T) {
	for got, want := range map[string]string{
		chatv1ssotws.MessageChannels.All():       "Message",
		chatv1ssotws.MessageChannels.Item("m 1"): "Message/m%201",
		chatv1ssotws.MessageChannels.Room("r&1"): "Message?room_id=r%261",
		chatv1ssotws.RoomChannels.Item("r1"):     "Room/r1",
	} {
		if got != want {
			t.Errorf("channel %q, want %q", got, want)
		}
	}
	var r registry
	if err := chatv1ssotws.RegisterChannels(&r); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.names, []string{"Room", "Message"}) {
		t.Fatalf("registered %v", r.names)
	}
	if err := chatv1ssotws.RegisterChannels(failingRegistry{}); !errors.Is(err, errNope) {
		t.Fatalf("RegisterChannels error %v", err)
	}
}

// chatServer is how a user adds a method that is not standard: embed the
// generated implementation and implement the rest.
type chatServer struct {
	*chatv1ssotws.ChatService
}

// CountMessages counts the messages of a room by paging through them.
func (s chatServer) CountMessages(ctx context.Context, req *connect.Request[chatv1.CountMessagesRequest]) (*connect.Response[chatv1.CountMessagesResponse], error) {
	var n int64
	token := ""
	for {
		page, err := s.Messages.List(ctx, ssotws.ListRequest{
			Filters:   []ssotws.Filter{ssotws.Eq("room_id", req.Msg.GetRoomId())},
			PageToken: token,
		})
		if err != nil {
			return nil, err
		}
		n += int64(len(page.Items))
		if token = page.NextPageToken; token == "" {
			return connect.NewResponse(&chatv1.CountMessagesResponse{Count: n}), nil
		}
	}
}

func TestChatCustomMethod(t *testing.T) {
	ctx := context.Background()
	store := ssotws.NewMemoryStore()
	svc := chatServer{chatv1ssotws.NewChatService(store, &recorder{}, &ssotws.ResourceOptions{DefaultPageSize: 2, MaxPageSize: 10})}
	srv := serve(t)(chatv1connect.NewChatServiceHandler(svc))
	client := chatv1connect.NewChatServiceClient(srv.Client(), srv.URL)

	for range 5 {
		if _, err := client.CreateMessage(ctx, connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: "r1"}})); err != nil {
			t.Fatal(err)
		}
	}
	res, err := client.CountMessages(ctx, connect.NewRequest(&chatv1.CountMessagesRequest{RoomId: "r1"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.GetCount() != 5 {
		t.Fatalf("count %d, want 5", res.Msg.GetCount())
	}

	// Without the embedding struct the method is unimplemented.
	plain := serve(t)(chatv1connect.NewChatServiceHandler(chatv1ssotws.NewChatService(store, nil, nil)))
	_, err = chatv1connect.NewChatServiceClient(http.DefaultClient, plain.URL).CountMessages(ctx, connect.NewRequest(&chatv1.CountMessagesRequest{}))
	wantCode(t, err, connect.CodeUnimplemented, "")
}
