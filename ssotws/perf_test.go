package ssotws

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
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
