package ssotws_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// leavingCaller is a store that ends the caller's context right after a
// write commits, as a client does that drops its connection at that moment
// (the HTTP server then cancels the request's context).
type leavingCaller struct {
	ssotws.Store
	cancel context.CancelFunc
}

func (s leavingCaller) Apply(ctx context.Context, w *ssotws.Write) (*ssotws.WriteResult, error) {
	res, err := s.Store.Apply(ctx, w)
	s.cancel()
	return res, err
}

// networkPublisher fails, as a broker over the network (NATS) does, when
// its context has ended.
type networkPublisher struct {
	mu     sync.Mutex
	events []*wsv1.Event
}

func (p *networkPublisher) Publish(ctx context.Context, events []*wsv1.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, events...)
	return nil
}

// TestCommittedWriteIsPublishedAfterTheCallerLeft: a write that committed
// publishes its events even when its caller left (context canceled)
// between the commit and the publish. Otherwise the store holds a version
// no event announces, and a client that does not retry the write (with
// the same Idempotency-Key) leaves every subscriber stale for good. The
// multi-node convergence test (internal/multinode) found it: the NATS
// broker's Publish honours the request's context, the memory broker's
// does not.
func TestCommittedWriteIsPublishedAfterTheCallerLeft(t *testing.T) {
	store := ssotws.NewMemoryStore()
	pub := &networkPublisher{}
	write := func(name string, fn func(ctx context.Context, r *ssotws.Resource[*chatv1.Message]) error) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := ssotws.NewResource[*chatv1.Message](chatv1ssotws.MessageModel, leavingCaller{store, cancel}, pub, nil)
		pub.mu.Lock()
		before := len(pub.events)
		pub.mu.Unlock()
		if err := fn(ctx, r); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		pub.mu.Lock()
		defer pub.mu.Unlock()
		if len(pub.events) == before {
			t.Errorf("%s committed, its caller left, and no event was published", name)
		}
	}
	in := func() http.Header { return http.Header{ssotws.HeaderIdempotencyKey: {t.Name()}} }
	write("Create", func(ctx context.Context, r *ssotws.Resource[*chatv1.Message]) error {
		_, err := r.Create(ctx, http.Header{}, &chatv1.Message{Id: "k", RoomId: "r0", Text: "a"})
		return err
	})
	write("Update", func(ctx context.Context, r *ssotws.Resource[*chatv1.Message]) error {
		_, err := r.Update(ctx, in(), &chatv1.Message{Id: "k", RoomId: "r1", Text: "b"}, &fieldmaskpb.FieldMask{Paths: []string{"room_id", "text"}})
		return err
	})
	write("Delete", func(ctx context.Context, r *ssotws.Resource[*chatv1.Message]) error {
		_, err := r.Delete(ctx, http.Header{}, "k")
		return err
	})
	rec, err := store.Get(context.Background(), chatv1ssotws.MessageModel.FullName(), "k")
	if !errors.Is(err, ssotws.ErrNotFound) {
		t.Fatalf("Get = %v, %v; want ErrNotFound", rec, err)
	}
	// Every version the store went through was announced, the move out of
	// r0 included.
	var got []string
	for _, ev := range pub.events {
		got = append(got, ev.GetChannel()+" "+ev.GetType().String())
	}
	want := map[string]bool{
		"Message EVENT_TYPE_CREATED": true, "Message?room_id=r0 EVENT_TYPE_CREATED": true,
		"Message EVENT_TYPE_UPDATED": true, "Message?room_id=r1 EVENT_TYPE_UPDATED": true, "Message?room_id=r0 EVENT_TYPE_DELETED": true,
		"Message EVENT_TYPE_DELETED": true, "Message?room_id=r1 EVENT_TYPE_DELETED": true,
	}
	for _, g := range got {
		delete(want, g)
	}
	if len(want) > 0 {
		t.Errorf("events %v; missing %v", got, want)
	}
}
