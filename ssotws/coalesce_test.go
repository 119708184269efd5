package ssotws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// wsGateway is a gateway on the memory broker served on loopback, with
// one realtime model, for tests and benchmarks that drive real
// WebSockets.
type wsGateway struct {
	g   *Gateway
	b   *MemoryBroker
	m   *Model
	url string
}

func startWSGateway(tb testing.TB, opts *GatewayOptions) *wsGateway {
	tb.Helper()
	m := MustModel((&descriptorpb.FileDescriptorProto{}).ProtoReflect().Descriptor(),
		ModelConfig{Key: "name", Realtime: true})
	b := NewMemoryBroker(&MemoryBrokerOptions{Epoch: 1})
	if opts == nil {
		opts = &GatewayOptions{}
	}
	opts.Logger = newDiscardLogger()
	g := NewGateway(b, opts)
	require.NoError(tb, g.RegisterModel(m))
	srv := httptest.NewServer(g)
	tb.Cleanup(func() {
		srv.Close()
		g.Close()
		b.Close()
	})
	return &wsGateway{g: g, b: b, m: m, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

// subscribe dials and subscribes to the model's channel; it returns once
// the Ack arrived.
func (w *wsGateway) subscribe(tb testing.TB) *websocket.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, w.url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	require.NoError(tb, err)
	ws.SetReadLimit(64 << 20)
	tb.Cleanup(func() { _ = ws.CloseNow() })
	sub, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: w.m.Name()}}})
	require.NoError(tb, err)
	require.NoError(tb, ws.Write(ctx, websocket.MessageBinary, sub))
	_, data, err := ws.Read(ctx)
	require.NoError(tb, err)
	var f wsv1.ServerFrame
	require.NoError(tb, proto.Unmarshal(data, &f))
	require.NotNil(tb, f.GetAck(), "want the Ack, got %v", &f)
	return ws
}

// publish publishes one event on its own (one Publish per event).
func (w *wsGateway) publish(tb testing.TB, i int) {
	tb.Helper()
	require.NoError(tb, w.b.Publish(context.Background(), []*wsv1.Event{ev(w.m.Name(), fmt.Sprint("k", i), created, 1)}))
}

// readEvents reads messages until it has n events; it returns the
// offsets in the order received and the number of messages.
func readEvents(t *testing.T, ws *websocket.Conn, n int) (offsets []uint64, messages int) {
	t.Helper()
	offsets, messages, err := collectEvents(ws, n)
	require.NoError(t, err)
	return offsets, messages
}

// collectEvents is readEvents for any goroutine.
func collectEvents(ws *websocket.Conn, n int) (offsets []uint64, messages int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(offsets) < n {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return offsets, messages, err
		}
		var f wsv1.ServerFrame
		if err := proto.Unmarshal(data, &f); err != nil {
			return offsets, messages, err
		}
		evs := f.GetEvents().GetEvents()
		if len(evs) == 0 {
			return offsets, messages, fmt.Errorf("want Events, got %v", &f)
		}
		messages++
		for _, e := range evs {
			offsets = append(offsets, e.GetPosition().GetOffset())
		}
	}
	return offsets, messages, nil
}

// requireInOrder asserts offsets are first, first+1, … with none lost.
func requireInOrder(t *testing.T, offsets []uint64, first uint64) {
	t.Helper()
	require.True(t, inOrder(t, offsets, first))
}

// inOrder is requireInOrder for any goroutine.
func inOrder(t *testing.T, offsets []uint64, first uint64) bool {
	for i, off := range offsets {
		if !assert.Equal(t, first+uint64(i), off, "event %d out of order or lost", i) {
			return false
		}
	}
	return true
}

func TestGatheringAdapts(t *testing.T) {
	const queue = 256
	var g gathering
	now := time.Now()
	// take makes g take n events, after the previous take, the oldest
	// queued late before.
	take := func(n int, after, late time.Duration) {
		t.Helper()
		now = now.Add(after)
		items := make([]queueItem, n)
		for i := range items {
			items[i].ev = &sharedEvent{at: now.Add(-late)}
		}
		g.took(items, queue, now)
	}
	const late, onTime = 2 * gatherLag, 100 * time.Microsecond
	// lateTakes makes the late takes before the one that starts a wait.
	lateTakes := func() {
		t.Helper()
		for range gatherAfter - 1 {
			take(3, time.Millisecond, late)
			require.Zero(t, g.wait, "fewer than gatherAfter late takes are no trend")
		}
	}
	take(1, 0, late)
	assert.Zero(t, g.wait, "a take of one item: the connection keeps up")
	take(3, time.Millisecond, onTime)
	assert.Zero(t, g.wait, "several items, but the write loop runs on time")
	lateTakes()
	take(4, 2*time.Millisecond, late)
	assert.Equal(t, 5*time.Millisecond, g.wait, "the time gatherTarget events take at the rate seen (4 in 2 ms)")
	take(5, time.Millisecond, late)
	assert.Equal(t, 2*time.Millisecond, g.wait, "follows the rate")
	for range gatherOnTime - 1 {
		take(3, time.Millisecond, onTime)
		require.NotZero(t, g.wait, "a take on time does not end the wait at once")
	}
	take(3, time.Millisecond, onTime)
	assert.Zero(t, g.wait, "takes on time in a row end it")
	lateTakes()
	take(2, 10*time.Millisecond, late)
	assert.Equal(t, maxGather, g.wait, "bounded")
	take(3, 40*time.Millisecond, late)
	assert.Zero(t, g.wait, "after a quiet spell one late take is no trend again")
	for range gatherAfter - 2 {
		take(3, time.Millisecond, late)
	}
	take(32, 100*time.Microsecond, late)
	assert.Equal(t, 31250*time.Nanosecond, g.wait, "a burst: a high rate, a short wait")
	take(1, time.Millisecond, late)
	assert.Zero(t, g.wait, "a single item ends the wait at once")
	lateTakes()
	take(3, time.Millisecond, late)
	require.NotZero(t, g.wait)
	take(queue/4, time.Millisecond, late)
	assert.Zero(t, g.wait, "a flooded queue is not left to fill")
	lateTakes()
	take(3, time.Millisecond, late)
	require.NotZero(t, g.wait)
	g.last = time.Now().Add(-2 * maxGather)
	g.gather(0, newSendQueue(queue))
	assert.Zero(t, g.wait, "idle since its last take: not behind")
}

// TestAdaptiveCoalescingUnderBurst: events fanned out one by one to many
// subscribers, each its own push into every connection's queue, faster
// than the write loops write them, reach every client in fewer messages
// than events, all of them, in order. (A single Publish of many events goes
// out together anyway: this is the case of many publishes.)
func TestAdaptiveCoalescingUnderBurst(t *testing.T) {
	for _, c := range []struct {
		name  string
		delay time.Duration
	}{{"adaptive", 0}, {"WriteDelay<0", -1}} {
		t.Run(c.name, func(t *testing.T) {
			w := startWSGateway(t, &GatewayOptions{WriteDelay: c.delay, Limits: Limits{SendQueue: 8192}})
			const subs, n = 100, 1000
			conns := make([]*websocket.Conn, subs)
			for i := range conns {
				conns[i] = w.subscribe(t)
			}
			fail := func(*wsv1.Event, error) { t.Error("encoding failed") }
			go func() {
				for off := uint64(1); off <= n; off++ {
					w.g.hub.publish([]*wsv1.Event{benchEvent(w.m.Name(), off)}, fail)
				}
			}()
			var mu sync.Mutex
			total := 0
			var wg sync.WaitGroup
			for _, ws := range conns {
				wg.Go(func() {
					offsets, messages, err := collectEvents(ws, n)
					assert.NoError(t, err)
					inOrder(t, offsets, 1)
					assert.Len(t, offsets, n)
					assert.Less(t, messages, n, "several events per message")
					mu.Lock()
					total += messages
					mu.Unlock()
				})
			}
			wg.Wait()
			t.Logf("%d deliveries in %d messages", subs*n, total)
		})
	}
}

// TestTrickleWritesAtOnce: events published one at a time, each after the
// previous one arrived, go out one per message, also right after a burst:
// nothing is held back for a later event.
func TestTrickleWritesAtOnce(t *testing.T) {
	w := startWSGateway(t, &GatewayOptions{Limits: Limits{SendQueue: 8192}})
	ws := w.subscribe(t)
	const burst = 1000
	for i := range burst {
		w.publish(t, i)
	}
	offsets, _ := readEvents(t, ws, burst)
	requireInOrder(t, offsets, 1)
	const trickle = 50
	for i := range trickle {
		w.publish(t, burst+i)
		got, messages := readEvents(t, ws, 1)
		require.Equal(t, 1, messages)
		require.Equal(t, []uint64{uint64(burst + i + 1)}, got, "each event leaves alone, before the next is published")
	}
}

// discardReader reads messages and counts the events in them, without
// allocating per message (for benchmarks): the Events frame is walked
// with protowire.
type discardReader struct {
	mu       sync.Mutex
	cond     *sync.Cond
	events   int
	messages int
	err      error
}

func readAndCount(ws *websocket.Conn) *discardReader {
	r := &discardReader{}
	r.cond = sync.NewCond(&r.mu)
	go func() {
		buf := make([]byte, 1<<20)
		for {
			_, rd, err := ws.Reader(context.Background())
			n := 0
			for err == nil {
				var k int
				k, err = rd.Read(buf[n:])
				n += k
				if n == len(buf) && err == nil {
					err = errors.New("message larger than the buffer")
				}
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			r.mu.Lock()
			if err != nil {
				r.err = err
				r.cond.Broadcast()
				r.mu.Unlock()
				return
			}
			r.events += countEvents(buf[:n])
			r.messages++
			r.cond.Broadcast()
			r.mu.Unlock()
		}
	}()
	return r
}

// wait blocks until the reader counted n events (or failed).
func (r *discardReader) wait(n int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.events < n && r.err == nil {
		r.cond.Wait()
	}
	return r.err
}

// countEvents counts the events of an encoded ServerFrame{Events}; 0 for
// another frame.
func countEvents(b []byte) int {
	num, typ, l := protowire.ConsumeTag(b)
	if l < 0 || num != serverFrameEventsField || typ != protowire.BytesType {
		return 0
	}
	events, l2 := protowire.ConsumeBytes(b[l:])
	if l2 < 0 {
		return 0
	}
	n := 0
	for len(events) > 0 {
		_, _, l := protowire.ConsumeField(events)
		if l < 0 {
			return n
		}
		events = events[l:]
		n++
	}
	return n
}
