package ssotws

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

func deltaModel() *Model {
	return MustModel((&chatv1.Message{}).ProtoReflect().Descriptor(), ModelConfig{Key: "id", Scopes: []string{"room_id"}, Realtime: true})
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err)
	return b
}

// deltaUpdate returns the UPDATED event commit publishes for prev → next.
func deltaUpdate(t testing.TB, m *Model, prev, next *chatv1.Message, off uint64) *wsv1.Event {
	data := mustMarshal(t, next)
	mask, base, ok := deltaOf(m.Descriptor(), m.VersionField(),
		&Record{Key: prev.Id, Version: prev.Version, Data: mustMarshal(t, prev)},
		&Record{Key: next.Id, Version: next.Version}, data)
	require.True(t, ok)
	return &wsv1.Event{Channel: "Message", Type: wsv1.EventType_EVENT_TYPE_UPDATED, Key: next.Id, Version: next.Version,
		Position: &wsv1.Position{Epoch: 1, Offset: off}, Data: data, DeltaMask: mask, BaseVersion: base}
}

func TestDeltaOfNamesTheChangedFields(t *testing.T) {
	m := deltaModel()
	big := strings.Repeat("x", 2048)
	prev := &chatv1.Message{Id: "a", RoomId: "r", Author: big, Text: "hello", Version: 1}
	ev := deltaUpdate(t, m, prev, &chatv1.Message{Id: "a", RoomId: "r", Author: big, Version: 2}, 1)
	assert.Equal(t, []string{"text", "version"}, ev.DeltaMask.GetPaths(), "a cleared field is named; the version always")
	assert.Equal(t, int64(1), ev.BaseVersion)

	_, _, ok := deltaOf(m.Descriptor(), m.VersionField(), &Record{Version: 1, Deleted: true}, &Record{Version: 2}, nil)
	assert.False(t, ok, "no delta after a tombstone")
	_, _, ok = deltaOf(m.Descriptor(), m.VersionField(), &Record{Version: 1}, &Record{Version: 3}, nil)
	assert.False(t, ok, "no delta across a skipped version")
	_, _, ok = deltaOf(m.Descriptor(), nil, &Record{Version: 1}, &Record{Version: 2}, nil)
	assert.False(t, ok, "no delta for a model without a version field")
}

func TestEncodeEventWholeAndDelta(t *testing.T) {
	m := deltaModel()
	big := strings.Repeat("x", 2048)
	prev := &chatv1.Message{Id: "a", RoomId: "r", Author: big, Text: "hello", Version: 1}
	ev := deltaUpdate(t, m, prev, &chatv1.Message{Id: "a", RoomId: "r", Author: big, Text: "bye", Version: 2}, 1)
	se, err := newSharedEvent(ev, m)
	require.NoError(t, err)

	decode := func(chunk []byte) *wsv1.Event {
		var evs wsv1.Events
		require.NoError(t, proto.Unmarshal(chunk, &evs))
		require.Len(t, evs.Events, 1)
		return evs.Events[0]
	}
	full := decode(se.chunk)
	assert.Nil(t, full.DeltaMask, "the whole record goes out without the mask: what clients before deltas get")
	assert.Equal(t, ev.Data, full.Data)
	d := decode(se.delta)
	assert.Equal(t, []string{"text", "version"}, d.DeltaMask.GetPaths())
	var partial chatv1.Message
	require.NoError(t, proto.Unmarshal(d.Data, &partial))
	assert.True(t, proto.Equal(&chatv1.Message{Text: "bye", Version: 2}, &partial), "%v", &partial)
	assert.Less(t, len(se.delta)*10, len(se.chunk))
	assert.NotNil(t, ev.DeltaMask, "the broker's event is left as it was")
	// The owner rule (here on author) reads the whole record, whatever the mask.
	assert.Equal(t, big, se.ownerOf(m.Descriptor().Fields().ByName("author")))

	// A delta that is not smaller is not used.
	ev = deltaUpdate(t, m, prev, &chatv1.Message{Id: "b", RoomId: "q", Author: "z", Text: "y", Version: 2}, 2)
	se, err = newSharedEvent(ev, m)
	require.NoError(t, err)
	assert.Equal(t, se.chunk, se.delta)
}

func TestCoalescedDeltaGoesOutWhole(t *testing.T) {
	m := deltaModel()
	q := newSendQueue(2)
	s := &subscription{channel: "Message", model: m, deltas: true}
	big := strings.Repeat("x", 2048)
	v := []*chatv1.Message{
		{Id: "a", RoomId: "r", Author: big, Text: "t1", Version: 1},
		{Id: "a", RoomId: "r", Author: big, Text: "t2", Version: 2},
		{Id: "a", RoomId: "r", Author: big, Text: "t3", Version: 3},
		{Id: "a", RoomId: "r", Author: big, Text: "t4", Version: 4},
	}
	for i := 1; i < len(v); i++ {
		se, err := newSharedEvent(deltaUpdate(t, m, v[i-1], v[i], uint64(i)), m)
		require.NoError(t, err)
		require.True(t, q.pushLive(s, se))
	}
	items := q.take()
	require.Len(t, items, 1, "the queue's bound coalesced the older updates")
	assert.Equal(t, int64(4), items[0].ev.ev.Version)
	assert.True(t, items[0].full)
	assert.Equal(t, items[0].ev.chunk, items[0].chunk(), "the survivor goes out whole: its base was never sent")

	// Without coalescing, a delta subscriber gets the delta, another the whole record.
	se, err := newSharedEvent(deltaUpdate(t, m, v[2], v[3], 9), m)
	require.NoError(t, err)
	it := queueItem{sub: s, ev: se}
	assert.Equal(t, se.delta, it.chunk())
	it.sub = &subscription{}
	assert.Equal(t, se.chunk, it.chunk())
}

// BenchmarkDeltaDelivery: a one-field update of a 2 KiB record delivered
// to 100 subscriptions, whole and as a delta: the event encoded once, the
// fan-out into each queue, and the Events frame each write loop builds
// (everything of a delivery but the socket write). Reports the bytes of
// the WebSocket message per delivery and the CPU per delivery.
//
//	go test ./ssotws -run '^$' -bench BenchmarkDeltaDelivery
func BenchmarkDeltaDelivery(b *testing.B) {
	const n = 100
	m := deltaModel()
	big := strings.Repeat("x", 2048)
	for _, deltas := range []bool{false, true} {
		name := "full"
		if deltas {
			name = "delta"
		}
		b.Run(fmt.Sprintf("%s/N=%d", name, n), func(b *testing.B) {
			h := newHub()
			subs := benchSubs(h, "Message", n)
			for _, s := range subs {
				s.model, s.deltas = m, deltas
			}
			prev := &chatv1.Message{Id: "a", RoomId: "r", Author: big, Text: "t", Version: 1}
			onErr := func(*wsv1.Event, error) { b.Fatal("encoding failed") }
			var frame []byte
			var wire, deliveries int
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				next := proto.Clone(prev).(*chatv1.Message)
				next.Text, next.Version = fmt.Sprint("t", i), prev.Version+1
				ev := deltaUpdate(b, m, prev, next, uint64(i+1))
				prev = next
				b.StartTimer()
				h.publish([]*wsv1.Event{ev}, onErr)
				for _, s := range subs {
					for _, it := range s.c.q.take() {
						frame = appendEventsFrame(frame[:0], [][]byte{it.chunk()})
						wire += len(frame)
						deliveries++
					}
				}
			}
			b.ReportMetric(float64(wire)/float64(deliveries), "wire-B/delivery")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(deliveries), "ns/delivery")
		})
	}
}
