package client_test

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// cachedMessages reads a hybrid client's cache of channel (never HTTP).
func cachedMessages(t *testing.T, c *client.Hybrid[*chatv1.Message]) []string {
	t.Helper()
	page, err := c.WebSocket().List(testCtx(t), client.ListParams{})
	if err != nil {
		t.Fatalf("cache List: %v", err)
	}
	var out []string
	for _, m := range page.Items {
		out = append(out, m.GetId()+" v"+itoa(m.GetVersion())+" "+m.GetText())
	}
	return out
}

// TestDeleteReplyAfterRecreate (lost): this client's Delete reply arrives
// after the delete's own DELETED event and another writer's re-create of
// the record. The reply must not tombstone the re-created record (the
// client used to set a tombstone at the version then held plus one, which
// also hid the next update); the events decide.
func TestDeleteReplyAfterRecreate(t *testing.T) {
	srv := startServer(t, ssotws.NewMemoryStore(), "127.0.0.1:0")
	writer := NewMessageClient(srv.chatClient(), nil, nil)
	create(t, writer, "m1", "r1", "first") // v1
	rec := newRecorder()
	api := MessageHTTP(srv.chatClient())
	del := api.DeleteFunc
	api.DeleteFunc = func(ctx context.Context, key string, h http.Header) error {
		err := del(ctx, key, h) // v2: deleted
		if err != nil {
			return err
		}
		// Hold the reply until the cache has the delete's event and
		// another writer's re-create (v3).
		rec.waitFor(t, "the delete's event", heard(client.Deleted, "m1"))
		create(t, writer, "m1", "r1", "again")
		rec.waitFor(t, "the re-create's event", func(chs []client.Change[*chatv1.Message]) bool {
			return len(chs) >= 2 && chs[len(chs)-1].Type == client.Created
		})
		return nil
	}
	conn := dialConn(t, srv.WSURL())
	c := client.NewHybrid(MessageModel, api, conn, &client.Options{Backoff: fast})
	defer c.Subscribe("Message", rec.fn)()
	if err := c.WebSocket().WaitHydrated(testCtx(t), "Message"); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Delete(testCtx(t), "m1"); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if got, want := cachedMessages(t, c), []string{"m1 v3 again"}; !slices.Equal(got, want) {
		t.Errorf("after the delete's reply, cache = %v, want %v", got, want)
	}
	if _, err := writer.Update(testCtx(t), &chatv1.Message{Id: "m1", Text: "edited"}, "text"); err != nil { // v4
		t.Fatal(err)
	}
	rec.waitFor(t, "the update", func(chs []client.Change[*chatv1.Message]) bool {
		return slices.Contains(describe(chs), "updated m1 v4 edited")
	})
	if got, want := describe(rec.get()), []string{"deleted m1 v2 first", "created m1 v3 again", "updated m1 v4 edited"}; !slices.Equal(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
	if got, want := cachedMessages(t, c), []string{"m1 v4 edited"}; !slices.Equal(got, want) {
		t.Errorf("cache = %v, want %v", got, want)
	}
}

// droppingPublisher publishes through the broker, except the events of
// one key while drop is set: the subscribed client never hears of them.
type droppingPublisher struct {
	pub  ssotws.Publisher
	key  string
	drop *atomic.Bool
}

func (p *droppingPublisher) Publish(ctx context.Context, events []*wsv1.Event) error {
	if p.drop.Load() && len(events) > 0 && events[0].GetKey() == p.key {
		return nil
	}
	return p.pub.Publish(ctx, events)
}

func (p *droppingPublisher) Position(ctx context.Context, channel string) (*wsv1.Position, error) {
	return p.pub.(ssotws.PositionReader).Position(ctx, channel)
}

// TestCreateReplyAfterRefetch (resurrected): this client's Create reply
// (as a retried create's replayed reply is: the first attempt's result)
// arrives after the record was deleted by another writer and the cache
// was hydrated again (a server restart: a new epoch) without ever seeing
// the record. The reply is older than the snapshot, and no tombstone
// stops it: it must not be applied, or it brings the deleted record back.
func TestCreateReplyAfterRefetch(t *testing.T) {
	var drop atomic.Bool
	srv := startServerPub(t, ssotws.NewMemoryStore(), func(p ssotws.Publisher) ssotws.Publisher {
		return &droppingPublisher{pub: p, key: "m1", drop: &drop}
	})
	writer := NewMessageClient(srv.chatClient(), nil, nil)
	create(t, writer, "m0", "r1", "other")
	api := MessageHTTP(srv.chatClient())
	var c *client.Hybrid[*chatv1.Message]
	cr := api.CreateFunc
	api.CreateFunc = func(ctx context.Context, item *chatv1.Message, h http.Header) (*chatv1.Message, error) {
		out, err := cr(ctx, item, h) // v1, its event dropped
		if err != nil {
			return nil, err
		}
		if ok, err := writer.Delete(ctx, "m1"); !ok || err != nil { // v2, dropped
			t.Errorf("writer Delete = %v, %v", ok, err)
		}
		// A new epoch: the cache refetches, and its snapshot has no m1.
		before := c.WebSocket().Position("Message").GetEpoch()
		srv.restart()
		deadline := time.Now().Add(10 * time.Second)
		for {
			pos := c.WebSocket().Position("Message")
			if c.WebSocket().Hydrated("Message") && pos.GetEpoch() != before {
				break
			}
			if time.Now().After(deadline) {
				t.Error("the cache was not hydrated again after the restart")
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		return out, nil
	}
	conn := dialConn(t, srv.WSURL())
	c = client.NewHybrid(MessageModel, api, conn, &client.Options{Backoff: fast})
	rec := newRecorder()
	defer c.Subscribe("Message", rec.fn)()
	if err := c.WebSocket().WaitHydrated(testCtx(t), "Message"); err != nil {
		t.Fatal(err)
	}
	drop.Store(true)
	if _, err := c.Create(testCtx(t), &chatv1.Message{Id: "m1", RoomId: "r1", Text: "ghost"}); err != nil {
		t.Fatal(err)
	}
	if got, want := cachedMessages(t, c), []string{"m0 v1 other"}; !slices.Equal(got, want) {
		t.Errorf("after the create's reply, cache = %v, want %v (the store: m1 deleted)", got, want)
	}
	time.Sleep(50 * time.Millisecond) // a change announced would come now
	if got := describe(rec.get()); len(got) != 0 {
		t.Errorf("changes = %v, want none", got)
	}
}
