package ssotws

import (
	"runtime"
	"testing"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

func TestEventsFrameIsAServerFrame(t *testing.T) {
	events := []*wsv1.Event{
		{Channel: "Message?room_id=r1", Type: created, Key: "a", Version: 1, Position: &wsv1.Position{Epoch: 3, Offset: 1}, Data: []byte{0x0a, 0x01, 'a'}},
		{Channel: "Message?room_id=r1", Type: deleted, Key: "b", Version: 9, Position: &wsv1.Position{Epoch: 3, Offset: 2}, RequestId: "req"},
	}
	var chunks [][]byte
	for _, e := range events {
		se, err := newSharedEvent(e, nil)
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, se.chunk)
	}
	var f wsv1.ServerFrame
	if err := proto.Unmarshal(appendEventsFrame(nil, chunks), &f); err != nil {
		t.Fatal(err)
	}
	want := &wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Events{Events: &wsv1.Events{Events: events}}}
	if !proto.Equal(&f, want) {
		t.Fatalf("decoded %v, want %v", &f, want)
	}
}

func TestScanString(t *testing.T) {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "id")
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, "alice")
	b = protowire.AppendTag(b, 5, protowire.VarintType)
	b = protowire.AppendVarint(b, 7)
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendString(b, "bob") // last one wins
	if got := scanString(b, 3); got != "bob" {
		t.Fatalf("scanString = %q", got)
	}
	if got := scanString(b, 4); got != "" {
		t.Fatalf("absent field = %q", got)
	}
	if got := scanString(b[:len(b)-1], 3); got != "" {
		t.Fatalf("truncated message = %q", got)
	}
}

func TestHubEncodesOnce(t *testing.T) {
	h := newHub()
	g := &Gateway{}
	var subs []*subscription
	for range 3 {
		c := &conn{g: g, q: newSendQueue(8)}
		s := &subscription{c: c, channel: "Room"}
		s.active.Store(true)
		h.add("Room", s)
		subs = append(subs, s)
	}
	h.add("Other", &subscription{})
	h.publish([]*wsv1.Event{
		{Channel: "Room", Key: "a", Type: created, Version: 1, Position: &wsv1.Position{Epoch: 1, Offset: 1}},
		{Channel: "Nobody", Key: "a", Type: created, Version: 1, Position: &wsv1.Position{Epoch: 1, Offset: 1}},
	}, func(*wsv1.Event, error) { t.Fatal("encoding failed") })
	var first *sharedEvent
	for _, s := range subs {
		items := s.c.q.take()
		if len(items) != 1 {
			t.Fatalf("%d items queued", len(items))
		}
		if first == nil {
			first = items[0].ev
		} else if items[0].ev != first || &items[0].ev.chunk[0] != &first.chunk[0] {
			t.Fatal("subscribers do not share one encoding")
		}
	}
	h.remove("Room", subs[0])
	if n := h.count("Room"); n != 2 {
		t.Fatalf("count = %d after remove", n)
	}
}

// TestReplayEncodedOnce: replaying the same history event for several
// subscriptions shares one encoding while any queue holds it.
func TestReplayEncodedOnce(t *testing.T) {
	c := newEventCache()
	ev := &wsv1.Event{Channel: "Message", Key: "a", Version: 1, Position: &wsv1.Position{Epoch: 1, Offset: 5}, Data: []byte("payload")}
	a, err := c.get(ev, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A broker that decodes its history per call (NATS) hands another
	// *Event of the same position: still the same bytes.
	b, _ := c.get(proto.Clone(ev).(*wsv1.Event), nil)
	if a != b {
		t.Fatal("the same history event was encoded twice")
	}
	other, _ := c.get(&wsv1.Event{Channel: "Message", Position: &wsv1.Position{Epoch: 1, Offset: 6}}, nil)
	if other == a {
		t.Fatal("two positions share an encoding")
	}
	runtime.KeepAlive(a)
	runtime.KeepAlive(other)
	// Once no queue holds them, the cache keeps nothing.
	// Cleanups run on a goroutine of the runtime, after a collection.
	require.Eventually(t, func() bool {
		runtime.GC()
		return c.len() == 0
	}, hang, time.Millisecond, "entries left after the events were collected")
}
