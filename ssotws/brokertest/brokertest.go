// Package brokertest is a conformance suite for implementations of
// [ssotws.Broker]: the observable behaviours of [ssotws.MemoryBroker], the
// reference, as one table of tests that any broker must pass.
//
//	func TestConformance(t *testing.T) {
//		brokertest.Run(t, func(t *testing.T, historySize int) ssotws.Broker {
//			b := mybroker.New(historySize)
//			t.Cleanup(func() { b.Close() })
//			return b
//		})
//	}
//
// Listeners may be called asynchronously (a networked broker delivers
// after Publish returns): the suite waits for deliveries.
package brokertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// Wait bounds every wait of the suite for a delivery.
var Wait = 10 * time.Second

// Run runs every behaviour of the suite as a subtest of t, each on a fresh
// broker from newBroker, which keeps historySize events per channel
// (newBroker is never asked for less than 3). newBroker should register
// the broker's cleanup (Close) with t.Cleanup; the suite may close it
// earlier itself.
func Run(t *testing.T, newBroker func(t *testing.T, historySize int) ssotws.Broker) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newBroker) })
	}
}

type factory = func(t *testing.T, historySize int) ssotws.Broker

var cases = []struct {
	name string
	run  func(t *testing.T, nb factory)
}{
	{"EmptyPosition", testEmptyPosition},
	{"ConcurrentPositions", testConcurrentPositions},
	{"OrderWithinPublish", testOrderWithinPublish},
	{"History", testHistory},
	{"HistoryContent", testHistoryContent},
	{"HistoryLongGap", testHistoryLongGap},
	{"ListenFromNow", testListenFromNow},
	{"ListenersIndependent", testListenersIndependent},
	{"StopEndsDeliveries", testStop},
	{"PublishInvalid", testPublishInvalid},
	{"Closed", testClosed},
}

// Ev returns an event of channel for record key.
func Ev(channel, key string, typ wsv1.EventType, version int64) *wsv1.Event {
	return &wsv1.Event{Channel: channel, Key: key, Type: typ, Version: version, Data: []byte("data of " + key)}
}

// Recorder is a listener that records the offsets and keys it hears per
// channel, and checks that its calls are never concurrent.
type Recorder struct {
	t        testing.TB
	inFlight atomic.Int32

	mu      sync.Mutex
	offsets map[string][]uint64
	keys    map[string][]string
	epochs  map[uint64]bool
	changed chan struct{}
}

// NewRecorder returns an empty recorder.
func NewRecorder(t testing.TB) *Recorder {
	return &Recorder{t: t, offsets: map[string][]uint64{}, keys: map[string][]string{}, epochs: map[uint64]bool{}, changed: make(chan struct{}, 1)}
}

// Listen is the function to pass to [ssotws.Broker.Listen].
func (r *Recorder) Listen(events []*wsv1.Event) {
	if r.inFlight.Add(1) != 1 {
		r.t.Error("concurrent calls of a listener")
	}
	defer r.inFlight.Add(-1)
	r.mu.Lock()
	for _, e := range events {
		r.offsets[e.Channel] = append(r.offsets[e.Channel], e.GetPosition().GetOffset())
		r.keys[e.Channel] = append(r.keys[e.Channel], e.Key)
		r.epochs[e.GetPosition().GetEpoch()] = true
	}
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// Offsets returns the offsets heard on channel.
func (r *Recorder) Offsets(channel string) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.offsets[channel])
}

// Keys returns the keys heard on channel.
func (r *Recorder) Keys(channel string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.keys[channel])
}

// WaitFor waits until channel heard n events, and fails the test if it
// does not within [Wait] (or heard more).
func (r *Recorder) WaitFor(channel string, n int) []uint64 {
	r.t.Helper()
	deadline := time.After(Wait)
	for {
		got := r.Offsets(channel)
		if len(got) >= n {
			if len(got) > n {
				r.t.Fatalf("%q heard %d events, want %d", channel, len(got), n)
			}
			return got
		}
		select {
		case <-r.changed:
		case <-deadline:
			r.t.Fatalf("%q heard %d events within %v, want %d", channel, len(got), Wait, n)
		}
	}
}

// Contiguous fails unless offsets are 1, 2, … len(offsets).
func Contiguous(t testing.TB, what string, offsets []uint64) {
	t.Helper()
	for i, off := range offsets {
		if off != uint64(i+1) {
			t.Fatalf("%s: offset #%d = %d: not gap-free and ordered (%v…)", what, i, off, offsets[:min(len(offsets), 20)])
		}
	}
}

func publish(t *testing.T, b ssotws.Broker, events ...*wsv1.Event) {
	t.Helper()
	if err := b.Publish(context.Background(), events); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func epochOf(t *testing.T, b ssotws.Broker) uint64 {
	t.Helper()
	pos, err := b.Position(context.Background(), "brokertest/epoch-probe")
	if err != nil {
		t.Fatal(err)
	}
	return pos.GetEpoch()
}

func testEmptyPosition(t *testing.T, nb factory) {
	b := nb(t, 10)
	pos, err := b.Position(context.Background(), "Message")
	if err != nil || pos.GetEpoch() == 0 || pos.GetOffset() != 0 {
		t.Fatalf("Position of an empty channel = %v, %v", pos, err)
	}
	if pos.GetEpoch() >= 1<<53 {
		t.Fatalf("epoch %d does not fit a JavaScript number", pos.GetEpoch())
	}
}

func testConcurrentPositions(t *testing.T, nb factory) {
	ctx := context.Background()
	b := nb(t, 1000)
	epoch := epochOf(t, b)
	rec := NewRecorder(t)
	stop := b.Listen(rec.Listen)
	defer stop()
	const workers, perWorker = 4, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				key := fmt.Sprint(w, "-", i)
				evs := []*wsv1.Event{
					Ev("Message", key, wsv1.EventType_EVENT_TYPE_CREATED, 1),
					Ev(ssotws.ItemChannel("Message", key), key, wsv1.EventType_EVENT_TYPE_CREATED, 1),
				}
				if err := b.Publish(ctx, evs); err != nil {
					t.Error(err)
					return
				}
				for _, e := range evs {
					if e.GetPosition().GetEpoch() != epoch || e.GetPosition().GetOffset() == 0 {
						t.Errorf("Publish stamped %v", e.GetPosition())
					}
				}
			}
		})
	}
	wg.Wait()
	Contiguous(t, "Message", rec.WaitFor("Message", workers*perWorker))
	rec.WaitFor(ssotws.ItemChannel("Message", "3-7"), 1)
	pos, err := b.Position(ctx, "Message")
	if err != nil || pos.GetOffset() != workers*perWorker || pos.GetEpoch() != epoch {
		t.Fatalf("Position = %v, %v; want offset %d", pos, err, workers*perWorker)
	}
	if pos, _ := b.Position(ctx, ssotws.ItemChannel("Message", "3-7")); pos.GetOffset() != 1 {
		t.Fatalf("item Position = %v", pos)
	}
}

func testOrderWithinPublish(t *testing.T, nb factory) {
	b := nb(t, 10)
	rec := NewRecorder(t)
	defer b.Listen(rec.Listen)()
	evs := []*wsv1.Event{
		Ev("A", "a1", wsv1.EventType_EVENT_TYPE_CREATED, 1),
		Ev("B", "b1", wsv1.EventType_EVENT_TYPE_CREATED, 1),
		Ev("A", "a2", wsv1.EventType_EVENT_TYPE_CREATED, 1),
		Ev("A", "a3", wsv1.EventType_EVENT_TYPE_CREATED, 1),
	}
	publish(t, b, evs...)
	for i, want := range []uint64{1, 1, 2, 3} {
		if got := evs[i].GetPosition().GetOffset(); got != want {
			t.Errorf("event %d stamped offset %d, want %d", i, got, want)
		}
	}
	rec.WaitFor("A", 3)
	rec.WaitFor("B", 1)
	if got := rec.Keys("A"); fmt.Sprint(got) != "[a1 a2 a3]" {
		t.Errorf("listener heard A as %v", got)
	}
	hist, err := b.History(context.Background(), "A", &wsv1.Position{Epoch: epochOf(t, b)})
	if err != nil || len(hist) != 3 || hist[0].Key != "a1" || hist[2].Key != "a3" {
		t.Errorf("History(A) = %v, %v", hist, err)
	}
}

func offsets(evs []*wsv1.Event) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.GetPosition().GetOffset())
	}
	return out
}

func testHistory(t *testing.T, nb factory) {
	ctx := context.Background()
	b := nb(t, 3)
	for i := range 5 {
		publish(t, b, Ev("Room", "k", wsv1.EventType_EVENT_TYPE_UPDATED, int64(i+1)))
	}
	// Another channel's events do not disturb Room's history.
	publish(t, b, Ev("Other", "o", wsv1.EventType_EVENT_TYPE_CREATED, 1))
	e := epochOf(t, b)
	for _, tc := range []struct {
		since *wsv1.Position
		want  []uint64
		err   bool
	}{
		{since: &wsv1.Position{Epoch: e, Offset: 5}, want: nil},
		{since: &wsv1.Position{Epoch: e, Offset: 4}, want: []uint64{5}},
		{since: &wsv1.Position{Epoch: e, Offset: 2}, want: []uint64{3, 4, 5}},
		{since: &wsv1.Position{Epoch: e, Offset: 1}, err: true},     // trimmed
		{since: &wsv1.Position{Epoch: e, Offset: 0}, err: true},     // trimmed
		{since: &wsv1.Position{Epoch: e + 1, Offset: 4}, err: true}, // other epoch
		{since: &wsv1.Position{Epoch: e, Offset: 9}, err: true},     // future
		{since: &wsv1.Position{Epoch: 0, Offset: 0}, err: true},     // never seen
		{since: nil, err: true}, // no position
	} {
		got, err := b.History(ctx, "Room", tc.since)
		if tc.err {
			if !errors.Is(err, ssotws.ErrHistoryUnavailable) {
				t.Errorf("History(%v) = %v, %v; want ErrHistoryUnavailable", tc.since, offsets(got), err)
			}
			continue
		}
		if err != nil || fmt.Sprint(offsets(got)) != fmt.Sprint(tc.want) {
			t.Errorf("History(%v) = %v, %v; want %v", tc.since, offsets(got), err, tc.want)
		}
	}
	// A channel with no events: since 0 is covered, anything else is not.
	if got, err := b.History(ctx, "Empty", &wsv1.Position{Epoch: e}); err != nil || len(got) != 0 {
		t.Errorf("History of an empty channel = %v, %v", got, err)
	}
	if _, err := b.History(ctx, "Empty", &wsv1.Position{Epoch: e, Offset: 1}); !errors.Is(err, ssotws.ErrHistoryUnavailable) {
		t.Errorf("History of an empty channel since 1 = %v", err)
	}
}

func testHistoryContent(t *testing.T, nb factory) {
	b := nb(t, 10)
	var sent []*wsv1.Event
	for i := range 4 {
		ev := Ev("Room/k", fmt.Sprint("key", i), wsv1.EventType_EVENT_TYPE_UPDATED, int64(i+1))
		ev.RequestId = fmt.Sprint("req", i)
		publish(t, b, ev)
		sent = append(sent, ev)
	}
	got, err := b.History(context.Background(), "Room/k", &wsv1.Position{Epoch: epochOf(t, b), Offset: 1})
	if err != nil || len(got) != 3 {
		t.Fatalf("History = %v, %v", got, err)
	}
	for i, ev := range got {
		w := sent[i+1]
		if ev.Channel != w.Channel || ev.Key != w.Key || ev.Type != w.Type || ev.Version != w.Version ||
			string(ev.Data) != string(w.Data) || ev.RequestId != w.RequestId ||
			ev.GetPosition().GetOffset() != w.GetPosition().GetOffset() || ev.GetPosition().GetEpoch() != w.GetPosition().GetEpoch() {
			t.Errorf("History[%d] = %v, want %v", i, ev, w)
		}
	}
}

// testHistoryLongGap replays more events than a short walk covers.
func testHistoryLongGap(t *testing.T, nb factory) {
	b := nb(t, 150)
	ctx := context.Background()
	for i := range 200 {
		evs := []*wsv1.Event{Ev("Long", fmt.Sprint(i), wsv1.EventType_EVENT_TYPE_CREATED, 1)}
		if i%3 == 0 {
			evs = append(evs, Ev("Noise", fmt.Sprint(i), wsv1.EventType_EVENT_TYPE_CREATED, 1))
		}
		publish(t, b, evs...)
	}
	e := epochOf(t, b)
	for _, since := range []uint64{50, 51, 120, 190} {
		got, err := b.History(ctx, "Long", &wsv1.Position{Epoch: e, Offset: since})
		if err != nil || len(got) != int(200-since) {
			t.Fatalf("History(since %d) = %d events, %v", since, len(got), err)
		}
		for i, ev := range got {
			if ev.GetPosition().GetOffset() != since+uint64(i)+1 || ev.Key != fmt.Sprint(since+uint64(i)) {
				t.Fatalf("History(since %d)[%d] = offset %d key %s", since, i, ev.GetPosition().GetOffset(), ev.Key)
			}
		}
	}
	if _, err := b.History(ctx, "Long", &wsv1.Position{Epoch: e, Offset: 49}); !errors.Is(err, ssotws.ErrHistoryUnavailable) {
		t.Errorf("History past the kept 150 = %v", err)
	}
}

func testListenFromNow(t *testing.T, nb factory) {
	b := nb(t, 10)
	publish(t, b, Ev("Ch", "before", wsv1.EventType_EVENT_TYPE_CREATED, 1))
	rec := NewRecorder(t)
	defer b.Listen(rec.Listen)()
	publish(t, b, Ev("Ch", "after", wsv1.EventType_EVENT_TYPE_CREATED, 1))
	if got := rec.WaitFor("Ch", 1); got[0] != 2 {
		t.Fatalf("listener heard offsets %v, want [2]", got)
	}
	// Nothing more comes: a marker on another channel arrives alone.
	publish(t, b, Ev("Marker", "m", wsv1.EventType_EVENT_TYPE_CREATED, 1))
	rec.WaitFor("Marker", 1)
	if got := rec.Keys("Ch"); fmt.Sprint(got) != "[after]" {
		t.Fatalf("listener heard %v", got)
	}
}

func testListenersIndependent(t *testing.T, nb factory) {
	b := nb(t, 10)
	r1, r2 := NewRecorder(t), NewRecorder(t)
	defer b.Listen(r1.Listen)()
	stop2 := b.Listen(r2.Listen)
	publish(t, b, Ev("Ch", "1", wsv1.EventType_EVENT_TYPE_CREATED, 1))
	r1.WaitFor("Ch", 1)
	r2.WaitFor("Ch", 1)
	stop2()
	publish(t, b, Ev("Ch", "2", wsv1.EventType_EVENT_TYPE_CREATED, 1))
	r1.WaitFor("Ch", 2)
	if got := r2.Offsets("Ch"); len(got) != 1 {
		t.Fatalf("stopped listener heard %v", got)
	}
}

func testStop(t *testing.T, nb factory) {
	b := nb(t, 10)
	rec := NewRecorder(t)
	stop := b.Listen(rec.Listen)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 50 {
			if err := b.Publish(context.Background(), []*wsv1.Event{Ev("Ch", fmt.Sprint(i), wsv1.EventType_EVENT_TYPE_CREATED, 1)}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	// Stop while events flow: after stop returns, nothing more is heard.
	time.Sleep(time.Millisecond)
	stop()
	n := len(rec.Offsets("Ch"))
	wg.Wait()
	stop() // idempotent
	probe := NewRecorder(t)
	defer b.Listen(probe.Listen)()
	publish(t, b, Ev("Ch", "last", wsv1.EventType_EVENT_TYPE_CREATED, 1))
	probe.WaitFor("Ch", 1)
	time.Sleep(50 * time.Millisecond)
	if got := rec.Offsets("Ch"); len(got) != n {
		t.Fatalf("listener heard %d events after stop (had %d)", len(got)-n, n)
	}
	Contiguous(t, "before stop", rec.Offsets("Ch"))
}

func testPublishInvalid(t *testing.T, nb factory) {
	b := nb(t, 10)
	if err := b.Publish(context.Background(), []*wsv1.Event{{Key: "k"}}); err == nil {
		t.Error("Publish of an event without a channel succeeded")
	}
	if err := b.Publish(context.Background(), []*wsv1.Event{nil}); err == nil {
		t.Error("Publish of a nil event succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Publish(ctx, []*wsv1.Event{Ev("Ch", "k", wsv1.EventType_EVENT_TYPE_CREATED, 1)}); err == nil {
		t.Error("Publish with a canceled context succeeded")
	}
	if pos, err := b.Position(context.Background(), "Ch"); err != nil || pos.GetOffset() != 0 {
		t.Errorf("refused publishes moved the channel: %v, %v", pos, err)
	}
	if err := b.Publish(context.Background(), nil); err != nil {
		t.Errorf("Publish of no events = %v", err)
	}
}

func testClosed(t *testing.T, nb factory) {
	b := nb(t, 10)
	rec := NewRecorder(t)
	b.Listen(rec.Listen)
	publish(t, b, Ev("Ch", "k", wsv1.EventType_EVENT_TYPE_CREATED, 1))
	rec.WaitFor("Ch", 1)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), []*wsv1.Event{Ev("Ch", "k", wsv1.EventType_EVENT_TYPE_UPDATED, 2)}); !errors.Is(err, ssotws.ErrBrokerClosed) {
		t.Errorf("Publish after Close = %v, want ErrBrokerClosed", err)
	}
	if len(rec.Offsets("Ch")) != 1 {
		t.Error("listener called after Close")
	}
	// Stopping a listener after Close is harmless.
	b.Listen(rec.Listen)()
}
