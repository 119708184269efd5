package natsbroker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/brokertest"
	"github.com/ssot-codegen/ssot-ws/ssotws/natsbroker"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// runServer starts an embedded NATS server with JetStream on a temporary
// store, listening on a random loopback port.
func runServer(t testing.TB) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// dialNATS opens a NATS connection (a "node") to s.
func dialNATS(t testing.TB, s *server.Server) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func newBroker(t testing.TB, js jetstream.JetStream, opts *natsbroker.Options) *natsbroker.Broker {
	t.Helper()
	b, err := natsbroker.New(context.Background(), js, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestConformance runs the suite the memory broker passes, each case on
// its own stream of one server.
func TestConformance(t *testing.T) {
	s := runServer(t)
	js := dialNATS(t, s)
	var n atomic.Int32
	brokertest.Run(t, func(t *testing.T, historySize int) ssotws.Broker {
		i := n.Add(1)
		return newBroker(t, js, &natsbroker.Options{
			Stream:        fmt.Sprint("CONF", i),
			SubjectPrefix: fmt.Sprint("conf", i),
			HistorySize:   historySize,
		})
	})
}

// TestTwoNodes: two brokers on one server, each with its own connection,
// publish concurrently to the same channels. Offsets stay contiguous with
// no duplicates, and each node's listener hears every event in order.
func TestTwoNodes(t *testing.T) {
	s := runServer(t)
	ctx := context.Background()
	nodes := []*natsbroker.Broker{newBroker(t, dialNATS(t, s), nil), newBroker(t, dialNATS(t, s), nil)}
	if nodes[0].Epoch() != nodes[1].Epoch() {
		t.Fatalf("epochs differ: %d, %d", nodes[0].Epoch(), nodes[1].Epoch())
	}
	recs := make([]*brokertest.Recorder, len(nodes))
	for i, b := range nodes {
		recs[i] = brokertest.NewRecorder(t)
		defer b.Listen(recs[i].Listen)()
	}
	channels := []string{"Message", "Message/room_id/r1", "Message/room_id/r2"}
	const workersPerNode, perWorker = 3, 40
	var wg sync.WaitGroup
	var stamped sync.Map // channel/offset → key: no offset is stamped twice
	for ni, b := range nodes {
		for w := range workersPerNode {
			wg.Go(func() {
				for i := range perWorker {
					key := fmt.Sprintf("n%d-w%d-%d", ni, w, i)
					evs := []*wsv1.Event{
						brokertest.Ev(channels[0], key, wsv1.EventType_EVENT_TYPE_CREATED, 1),
						brokertest.Ev(channels[1+i%2], key, wsv1.EventType_EVENT_TYPE_CREATED, 1),
						brokertest.Ev(ssotws.ItemChannel("Message", key), key, wsv1.EventType_EVENT_TYPE_CREATED, 1),
					}
					if err := b.Publish(ctx, evs); err != nil {
						t.Error(err)
						return
					}
					for _, e := range evs {
						if prev, dup := stamped.LoadOrStore(fmt.Sprint(e.Channel, "@", e.Position.GetOffset()), key); dup {
							t.Errorf("%s offset %d stamped for %s and %s", e.Channel, e.Position.GetOffset(), prev, key)
						}
					}
				}
			})
		}
	}
	wg.Wait()
	total := len(nodes) * workersPerNode * perWorker
	want := map[string]int{channels[0]: total, channels[1]: total / 2, channels[2]: total / 2}
	for i, rec := range recs {
		for ch, n := range want {
			brokertest.Contiguous(t, fmt.Sprintf("node %d %s", i, ch), rec.WaitFor(ch, n))
		}
	}
	// Both listeners heard the same events in the same order.
	for _, ch := range channels {
		if a, b := recs[0].Keys(ch), recs[1].Keys(ch); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: nodes heard different orders", ch)
		}
	}
	// Each node reads the same positions and the full history.
	for _, b := range nodes {
		for ch, n := range want {
			pos, err := b.Position(ctx, ch)
			if err != nil || pos.GetOffset() != uint64(n) || pos.GetEpoch() != b.Epoch() {
				t.Errorf("Position(%s) = %v, %v; want %d", ch, pos, err, n)
			}
		}
		hist, err := b.History(ctx, channels[0], &wsv1.Position{Epoch: b.Epoch(), Offset: 10})
		if err != nil || len(hist) != total-10 {
			t.Fatalf("History = %d events, %v", len(hist), err)
		}
		for i, ev := range hist {
			if ev.Key != recs[0].Keys(channels[0])[10+i] {
				t.Fatalf("History[%d] = %s, listener heard %s", i, ev.Key, recs[0].Keys(channels[0])[10+i])
			}
		}
	}
}

// TestRestartKeepsPositions: a new broker on the same stream continues the
// offsets, keeps the epoch and serves the history of the old one.
func TestRestartKeepsPositions(t *testing.T) {
	s := runServer(t)
	ctx := context.Background()
	js := dialNATS(t, s)
	b1 := newBroker(t, js, nil)
	for i := range 3 {
		if err := b1.Publish(ctx, []*wsv1.Event{brokertest.Ev("Ch", fmt.Sprint(i), wsv1.EventType_EVENT_TYPE_CREATED, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	epoch := b1.Epoch()
	b1.Close()

	b2 := newBroker(t, dialNATS(t, s), nil)
	if b2.Epoch() != epoch {
		t.Fatalf("epoch changed from %d to %d", epoch, b2.Epoch())
	}
	ev := brokertest.Ev("Ch", "3", wsv1.EventType_EVENT_TYPE_CREATED, 1)
	if err := b2.Publish(ctx, []*wsv1.Event{ev}); err != nil || ev.Position.GetOffset() != 4 {
		t.Fatalf("Publish after restart: %v, %v", ev.Position, err)
	}
	hist, err := b2.History(ctx, "Ch", &wsv1.Position{Epoch: epoch, Offset: 1})
	if err != nil || len(hist) != 3 || hist[0].Key != "1" {
		t.Fatalf("History after restart = %v, %v", hist, err)
	}

	// Deleting the stream drops the history: a new broker has a new epoch.
	if err := js.DeleteStream(ctx, natsbroker.DefaultStream); err != nil {
		t.Fatal(err)
	}
	b2.Close()
	b3 := newBroker(t, js, nil)
	if b3.Epoch() == epoch {
		t.Fatal("recreated stream kept the epoch")
	}
	if _, err := b3.History(ctx, "Ch", &wsv1.Position{Epoch: epoch, Offset: 4}); !errors.Is(err, ssotws.ErrHistoryUnavailable) {
		t.Fatalf("History across the deletion = %v", err)
	}
	if pos, err := b3.Position(ctx, "Ch"); err != nil || pos.GetOffset() != 0 || pos.GetEpoch() != b3.Epoch() {
		t.Fatalf("Position after the deletion = %v, %v", pos, err)
	}
}

// TestStaleCache: a node whose remembered (sequence, offset) is stale
// because another node published retries with the right offset.
func TestStaleCache(t *testing.T) {
	s := runServer(t)
	ctx := context.Background()
	a, b := newBroker(t, dialNATS(t, s), nil), newBroker(t, dialNATS(t, s), nil)
	pub := func(br *natsbroker.Broker, key string) uint64 {
		t.Helper()
		ev := brokertest.Ev("Ch", key, wsv1.EventType_EVENT_TYPE_CREATED, 1)
		if err := br.Publish(ctx, []*wsv1.Event{ev}); err != nil {
			t.Fatal(err)
		}
		return ev.Position.GetOffset()
	}
	got := []uint64{pub(a, "a1"), pub(b, "b1"), pub(a, "a2"), pub(a, "a3"), pub(b, "b2")}
	if fmt.Sprint(got) != "[1 2 3 4 5]" {
		t.Fatalf("offsets %v", got)
	}
	hist, err := a.History(ctx, "Ch", &wsv1.Position{Epoch: a.Epoch()})
	if err != nil || len(hist) != 5 || hist[1].Key != "b1" || hist[4].Key != "b2" {
		t.Fatalf("History = %v, %v", hist, err)
	}
}

// TestMaxAge: a channel whose events all expired continues above every
// offset it had, so a position is never reused; a resume across the jump
// is refused.
func TestMaxAge(t *testing.T) {
	s := runServer(t)
	ctx := context.Background()
	b := newBroker(t, dialNATS(t, s), &natsbroker.Options{MaxAge: time.Second})
	for i := range 3 {
		if err := b.Publish(ctx, []*wsv1.Event{
			brokertest.Ev("Ch", fmt.Sprint(i), wsv1.EventType_EVENT_TYPE_CREATED, 1),
			brokertest.Ev("Other", fmt.Sprint(i), wsv1.EventType_EVENT_TYPE_CREATED, 1),
		}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pos, err := b.Position(ctx, "Ch")
		if err != nil {
			t.Fatal(err)
		}
		if pos.GetOffset() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("events did not expire")
		}
		time.Sleep(100 * time.Millisecond)
	}
	ev := brokertest.Ev("Ch", "again", wsv1.EventType_EVENT_TYPE_CREATED, 1)
	if err := b.Publish(ctx, []*wsv1.Event{ev}); err != nil {
		t.Fatal(err)
	}
	// The stream holds 6 messages: the channel starts again at 7.
	if ev.Position.GetOffset() != 7 {
		t.Fatalf("offset %d reused after expiry", ev.Position.GetOffset())
	}
	if _, err := b.History(ctx, "Ch", &wsv1.Position{Epoch: b.Epoch(), Offset: 3}); !errors.Is(err, ssotws.ErrHistoryUnavailable) {
		t.Fatalf("History across the expiry = %v", err)
	}
	next := brokertest.Ev("Ch", "next", wsv1.EventType_EVENT_TYPE_CREATED, 1)
	if err := b.Publish(ctx, []*wsv1.Event{next}); err != nil || next.Position.GetOffset() != ev.Position.GetOffset()+1 {
		t.Fatalf("next offset %v, %v", next.Position, err)
	}
}

func TestSubject(t *testing.T) {
	s := runServer(t)
	b := newBroker(t, dialNATS(t, s), nil)
	for _, ch := range []string{"Message/room_id/a.b", "Message/item/x y*>", "Ünïcode"} {
		subj := b.Subject(ch)
		if err := validSubject(subj); err != nil {
			t.Errorf("Subject(%q) = %q: %v", ch, subj, err)
		}
		ev := brokertest.Ev(ch, "k", wsv1.EventType_EVENT_TYPE_CREATED, 1)
		if err := b.Publish(context.Background(), []*wsv1.Event{ev}); err != nil || ev.Position.GetOffset() != 1 {
			t.Errorf("Publish(%q): %v, %v", ch, ev.Position, err)
		}
	}
	if _, err := natsbroker.New(context.Background(), dialNATS(t, s), &natsbroker.Options{SubjectPrefix: "a.*"}); err == nil {
		t.Error("New accepted a wildcard prefix")
	}
}

func validSubject(s string) error {
	for _, r := range s {
		if r == '*' || r == '>' || r == ' ' || r > 0x7e {
			return fmt.Errorf("holds %q", r)
		}
	}
	return nil
}

// TestSlowListener: a listener that stalls does not hold publishers back;
// it catches up afterwards, in order.
func TestSlowListener(t *testing.T) {
	s := runServer(t)
	b := newBroker(t, dialNATS(t, s), nil)
	gate := make(chan struct{})
	rec := brokertest.NewRecorder(t)
	var once sync.Once
	defer b.Listen(func(evs []*wsv1.Event) {
		once.Do(func() { <-gate })
		rec.Listen(evs)
	})()
	done := make(chan error, 1)
	go func() {
		for i := range 300 {
			if err := b.Publish(context.Background(), []*wsv1.Event{brokertest.Ev("Ch", fmt.Sprint(i), wsv1.EventType_EVENT_TYPE_CREATED, 1)}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("a stalled listener blocked the publisher")
	}
	close(gate)
	brokertest.Contiguous(t, "Ch", rec.WaitFor("Ch", 300))
}

// TestIncompleteGroupIsDelivered: a publisher that died half-way through
// a channel's group (its first event says two more follow; they never
// come) does not hold the listener's deliveries for ever: after the
// group's wait, what arrived is delivered, and later events flow again.
func TestIncompleteGroupIsDelivered(t *testing.T) {
	s := runServer(t)
	js := dialNATS(t, s)
	b := newBroker(t, js, nil)
	var (
		mu  sync.Mutex
		got []string
	)
	stop := b.Listen(func(evs []*wsv1.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			got = append(got, ev.GetKey())
		}
	})
	defer stop()
	heard := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}

	ctx := context.Background()
	data, err := proto.Marshal(&wsv1.Event{Channel: "Message", Key: "half", Type: wsv1.EventType_EVENT_TYPE_CREATED, Version: 1})
	require.NoError(t, err)
	msg := &nats.Msg{Subject: b.Subject("Message"), Data: data, Header: nats.Header{}}
	msg.Header.Set(natsbroker.HeaderGroupLeft, "2")
	_, err = js.PublishMsg(ctx, msg)
	require.NoError(t, err)
	require.NoError(t, b.Publish(ctx, []*wsv1.Event{{Channel: "Room", Key: "after", Type: wsv1.EventType_EVENT_TYPE_CREATED, Version: 1}}))

	require.Eventually(t, func() bool { return slices.Equal(heard(), []string{"half", "after"}) }, 5*time.Second, 10*time.Millisecond,
		"held events delivered in order once the group's wait is over; heard %v", heard())
	require.NoError(t, b.Publish(ctx, []*wsv1.Event{{Channel: "Room", Key: "later", Type: wsv1.EventType_EVENT_TYPE_CREATED, Version: 1}}))
	require.Eventually(t, func() bool { return len(heard()) == 3 }, 5*time.Second, 10*time.Millisecond)
}
