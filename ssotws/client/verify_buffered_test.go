package client_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// TestVerifyBufferedGhost: the late event of a record deleted before the
// snapshot was read is most likely buffered during the fetch, and applied
// together with the snapshot. It must be verified like one that comes
// after (the multi-node convergence test found a ghost that stayed, as the
// verify window opened only after the buffered events were applied).
func TestVerifyBufferedGhost(t *testing.T) {
	srv := startServer(t, ssotws.NewMemoryStore(), "127.0.0.1:0")
	api := MessageHTTP(srv.chatClient())
	witness := newRecorder()
	var once sync.Once
	list := api.ListFunc
	api.ListFunc = func(ctx context.Context, p client.ListParams, h http.Header) ([]*chatv1.Message, string, http.Header, error) {
		items, next, hdr, err := list(ctx, p, h)
		if err != nil || p.Filters["room_id"] != "r1" {
			return items, next, hdr, err
		}
		once.Do(func() {
			// After the snapshot's position was read: the ghost's offset
			// is past it. Published on the room, then on the model
			// channel, in one call: once the witness (on the model
			// channel, same connection) hears it, the room's copy has
			// been read and buffered.
			data, merr := proto.Marshal(&chatv1.Message{Id: "m1", RoomId: "r1", Text: "ghost", Version: 1})
			if merr != nil {
				t.Error(merr)
				return
			}
			ev := func(channel string) *wsv1.Event {
				return &wsv1.Event{Channel: channel, Type: wsv1.EventType_EVENT_TYPE_UPDATED, Key: "m1", Version: 1, RequestId: "late", Data: data}
			}
			if perr := srv.broker.Publish(ctx, []*wsv1.Event{ev("Message?room_id=r1"), ev("Message")}); perr != nil {
				t.Error(perr)
				return
			}
			witness.waitFor(t, "the ghost on the model channel", heard(client.Created, "m1"))
		})
		return items, next, hdr, err
	}
	conn := dialConn(t, srv.WSURL())
	c := client.NewHybrid(MessageModel, api, conn, &client.Options{Backoff: fast})
	defer c.Subscribe("Message", witness.fn)()
	if err := c.WebSocket().WaitHydrated(testCtx(t), "Message"); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	defer c.Subscribe("Message?room_id=r1", rec.fn)()
	rec.waitFor(t, "the buffered ghost applied with the snapshot", heard(client.Created, "m1"))
	rec.waitFor(t, "the ghost removed after its verify Get", heard(client.Deleted, "m1"))
}
