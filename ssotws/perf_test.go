package ssotws

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// TestBrokerFanoutOffTheLock: while a listener is busy with a batch,
// Position, History and the publishing of other channels (up to the
// hand-off) do not wait for it; stop delivers what was published before
// it.
func TestBrokerFanoutOffTheLock(t *testing.T) {
	ctx := context.Background()
	b := NewMemoryBroker(&MemoryBrokerOptions{Epoch: 1})
	defer b.Close()
	entered, release := make(chan struct{}), make(chan struct{})
	var heard []uint64
	first := true
	stop := b.Listen(func(events []*wsv1.Event) {
		if first {
			first = false
			close(entered)
			<-release // a long fan-out
		}
		for _, e := range events {
			heard = append(heard, e.GetPosition().GetOffset())
		}
	})
	if err := b.Publish(ctx, []*wsv1.Event{ev("A", "a1", created, 1)}); err != nil {
		t.Fatal(err) // returns once taken, though the listener is still busy
	}
	<-entered
	published := make(chan error, 1)
	go func() { published <- b.Publish(ctx, []*wsv1.Event{ev("A", "a2", created, 1)}) }()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The broker's lock is free: Position and History answer at once.
		if pos, err := b.Position(ctx, "A"); err != nil || pos.GetOffset() == 0 {
			t.Errorf("Position = %v, %v", pos, err)
		}
		if _, err := b.History(ctx, "A", &wsv1.Position{Epoch: 1}); err != nil {
			t.Errorf("History: %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Position or History waited for the fan-out")
	}
	close(release)
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	stop() // delivers a2 first
	if len(heard) != 2 || heard[0] != 1 || heard[1] != 2 {
		t.Fatalf("heard %v, want [1 2]", heard)
	}
}

// TestWriteDelayPacks: with WriteDelay, events published in a burst go
// out in one Events message.
func TestWriteDelayPacks(t *testing.T) {
	m := MustModel((&descriptorpb.FileDescriptorProto{}).ProtoReflect().Descriptor(),
		ModelConfig{Key: "name", Realtime: true})
	b := NewMemoryBroker(nil)
	defer b.Close()
	g := NewGateway(b, &GatewayOptions{Logger: newDiscardLogger(), WriteDelay: 200 * time.Millisecond})
	if err := g.RegisterModel(m); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	defer g.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read := func() *wsv1.ServerFrame {
		t.Helper()
		_, data, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f := &wsv1.ServerFrame{}
		if err := proto.Unmarshal(data, f); err != nil {
			t.Fatal(err)
		}
		return f
	}
	sub, _ := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: m.Name()}}})
	if err := ws.Write(ctx, websocket.MessageBinary, sub); err != nil {
		t.Fatal(err)
	}
	if f := read(); f.GetAck() == nil {
		t.Fatalf("want the Ack, got %v", f)
	}
	for i := range 5 {
		if err := b.Publish(ctx, []*wsv1.Event{ev(m.Name(), string(rune('a'+i)), created, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(read().GetEvents().GetEvents()); n != 5 {
		t.Fatalf("first message carries %d events, want the 5 of the burst", n)
	}
}

// TestPublishDoesNotWaitForTheFanout: while the listener is blocked in a
// fan-out, Publish returns for every batch within the backlog bound; past
// the bound it waits until the listener catches up; the listener then gets
// every batch, in order. (The waits below detect a hang; they assert no
// timing.)
func TestPublishDoesNotWaitForTheFanout(t *testing.T) {
	ctx := context.Background()
	const backlog = 4
	b := NewMemoryBroker(&MemoryBrokerOptions{Epoch: 1, ListenerBacklog: backlog})
	defer b.Close()
	entered, release := make(chan struct{}), make(chan struct{})
	var heard []uint64
	first := true
	stop := b.Listen(func(events []*wsv1.Event) {
		if first {
			first = false
			close(entered)
			<-release // a fan-out that does not end until told
		}
		for _, e := range events {
			heard = append(heard, e.GetPosition().GetOffset())
		}
	})
	publish := func(key string) <-chan error {
		done := make(chan error, 1)
		go func() { done <- b.Publish(ctx, []*wsv1.Event{ev("A", key, created, 1)}) }()
		return done
	}
	returns := func(done <-chan error, what string) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(hang):
			t.Fatalf("%s did not return while the listener was blocked", what)
		}
	}
	returns(publish("a1"), "the first Publish")
	<-entered
	// The listener is blocked on a1, which counts against the bound until
	// delivered: three more fit.
	for i := 2; i <= backlog; i++ {
		returns(publish(fmt.Sprint("a", i)), fmt.Sprint("Publish #", i))
	}
	// Past the bound, Publish waits for the listener.
	past := publish("past")
	waitFor(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		l := b.listeners[0]
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.waiters == 1
	})
	select {
	case err := <-past:
		t.Fatalf("Publish past the bound returned (%v) while the listener was blocked", err)
	default:
	}
	close(release)
	returns(past, "the Publish past the bound, once the listener went on,")
	stop() // delivers everything published before it
	if want := []uint64{1, 2, 3, 4, 5}; fmt.Sprint(heard) != fmt.Sprint(want) {
		t.Fatalf("heard %v, want %v", heard, want)
	}
}

// hang is how long a test waits for what must happen before it reports a
// hang.
const hang = 10 * time.Second

// waitFor waits until cond holds; it fails the test after hang.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, hang, time.Millisecond, "condition not reached")
}
