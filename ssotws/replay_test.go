package ssotws_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

type recorder struct {
	mu     sync.Mutex
	events []*wsv1.Event
}

func (p *recorder) Publish(_ context.Context, events []*wsv1.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, events...)
	return nil
}

func (p *recorder) take() []*wsv1.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.events
	p.events = nil
	return out
}

// A retried request (same Idempotency-Key) publishes its events again only
// while its result is still the record's latest state: an old state sent
// again could bring back, for a client whose snapshot came after a delete,
// a record that is gone.
func TestReplayRepublishesOnlyTheLatestState(t *testing.T) {
	ctx := context.Background()
	model := ssotws.MustModel((&chatv1.Message{}).ProtoReflect().Descriptor(),
		ssotws.ModelConfig{Scopes: []string{"room_id"}, Realtime: true})
	pub := &recorder{}
	res := ssotws.NewResource[*chatv1.Message](model, ssotws.NewMemoryStore(), pub, nil)
	key := func(k string) http.Header { return http.Header{ssotws.HeaderIdempotencyKey: {k}} }

	created, err := res.Create(ctx, key("create-1"), &chatv1.Message{RoomId: "r1", Text: "a"})
	if err != nil {
		t.Fatal(err)
	}
	pub.take()

	// Nothing happened since: the retry republishes (the first publish may
	// have been lost).
	if _, err := res.Create(ctx, key("create-1"), &chatv1.Message{RoomId: "r1", Text: "a"}); err != nil {
		t.Fatal(err)
	}
	if got := pub.take(); len(got) != 3 || got[0].GetVersion() != 1 || got[0].GetRequestId() != "create-1" {
		t.Fatalf("retry of the latest write published %v, want its 3 events at version 1", got)
	}

	if _, err := res.Update(ctx, key("update-1"), &chatv1.Message{Id: created.GetId(), Text: "b"}, nil); err != nil {
		t.Fatal(err)
	}
	pub.take()
	// The create is no longer the latest state: its retry answers as before
	// and publishes nothing.
	again, err := res.Create(ctx, key("create-1"), &chatv1.Message{RoomId: "r1", Text: "a"})
	if err != nil || again.GetVersion() != 1 {
		t.Fatalf("replayed create = %v, %v; want the first result", again, err)
	}
	if got := pub.take(); len(got) != 0 {
		t.Fatalf("retry of a superseded create published %v", got)
	}

	if _, err := res.Delete(ctx, key("delete-1"), created.GetId()); err != nil {
		t.Fatal(err)
	}
	pub.take()
	// A retry of an update whose record is gone finds nothing to update
	// (the request is not applied twice either way).
	if _, err := res.Update(ctx, key("update-1"), &chatv1.Message{Id: created.GetId(), Text: "b"}, nil); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("retry of an update whose record was deleted: %v, want NotFound", err)
	}
	if got := pub.take(); len(got) != 0 {
		t.Fatalf("retry of an update superseded by a delete published %v", got)
	}
	// A delete stays current while the record stays deleted.
	if _, err := res.Delete(ctx, key("delete-1"), created.GetId()); err != nil {
		t.Fatal(err)
	}
	if got := pub.take(); len(got) != 3 || got[0].GetType() != wsv1.EventType_EVENT_TYPE_DELETED {
		t.Fatalf("retry of the delete published %v, want its 3 DELETED events", got)
	}
}

// An Idempotency-Key is scoped by the caller: another user sending the same
// key gets a write of their own, never the first user's result.
func TestIdempotencyKeyIsPerCaller(t *testing.T) {
	model := ssotws.MustModel((&chatv1.Message{}).ProtoReflect().Descriptor(),
		ssotws.ModelConfig{Owner: "author", Realtime: true})
	pub := &recorder{}
	res := ssotws.NewResource[*chatv1.Message](model, ssotws.NewMemoryStore(), pub, nil)
	hdr := http.Header{ssotws.HeaderIdempotencyKey: {"same-key"}}
	ann := ssotws.WithIdentity(context.Background(), &ssotws.Identity{Subject: "ann"})
	bob := ssotws.WithIdentity(context.Background(), &ssotws.Identity{Subject: "bob"})

	first, err := res.Create(ann, hdr, &chatv1.Message{Text: "ann's"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := res.Create(bob, hdr, &chatv1.Message{Text: "bob's"})
	if err != nil {
		t.Fatal(err)
	}
	if other.GetId() == first.GetId() || other.GetText() != "bob's" || other.GetAuthor() != "bob" {
		t.Fatalf("bob's create with ann's key = %v, want a record of his own", other)
	}
	retry, err := res.Create(ann, hdr, &chatv1.Message{Text: "ann's"})
	if err != nil || retry.GetId() != first.GetId() {
		t.Fatalf("ann's retry = %v, %v; want her first record %q", retry, err, first.GetId())
	}
	for _, ev := range pub.take() {
		if ev.GetRequestId() != "same-key" {
			t.Fatalf("event echoes request id %q, want the client's key", ev.GetRequestId())
		}
	}
}
