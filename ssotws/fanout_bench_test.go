package ssotws

import (
	"context"
	"fmt"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// benchSubs subscribes n connections (without WebSockets or write loops)
// to channel in h.
func benchSubs(h *hub, channel string, n int) []*subscription {
	g := &Gateway{}
	g.opts.Limits = Limits{}.withDefaults()
	subs := make([]*subscription, n)
	for i := range subs {
		c := &conn{g: g, q: newSendQueue(g.opts.Limits.SendQueue)}
		s := &subscription{c: c, channel: channel}
		s.active.Store(true)
		h.add(channel, s)
		subs[i] = s
	}
	return subs
}

func benchEvent(channel string, off uint64) *wsv1.Event {
	return &wsv1.Event{Channel: channel, Type: created, Key: fmt.Sprint("k", off), Version: 1,
		Position: &wsv1.Position{Epoch: 1, Offset: off}, Data: make([]byte, 160)}
}

// BenchmarkHubPublish: the fan-out of one event to N subscriptions (encode
// once, queue for each), the work done per event on the broker's listener.
// ns/op is per event; divide by N for the cost per delivery.
func BenchmarkHubPublish(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprint("N=", n), func(b *testing.B) {
			h := newHub()
			subs := benchSubs(h, "Room", n)
			onErr := func(*wsv1.Event, error) { b.Fatal("encoding failed") }
			b.ReportAllocs()
			var off uint64
			for i := 0; b.Loop(); i++ {
				off++
				h.publish([]*wsv1.Event{benchEvent("Room", off)}, onErr)
				if i%64 == 63 { // write loops drain the queues
					b.StopTimer()
					for _, s := range subs {
						s.c.q.take()
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
		})
	}
}

// BenchmarkBrokerPublishDuringFanout: publishers on 64 quiet channels while
// a listener fans a busy channel out to 5000 subscriptions. With the
// fan-out under the broker's lock every publish waits for it.
func BenchmarkBrokerPublishDuringFanout(b *testing.B) {
	br := NewMemoryBroker(&MemoryBrokerOptions{HistorySize: 16, Epoch: 1})
	defer br.Close()
	h := newHub()
	subs := benchSubs(h, "Busy", 5000)
	var drain sync.Mutex
	stop := br.Listen(func(events []*wsv1.Event) {
		h.publish(events, func(*wsv1.Event, error) {})
		drain.Lock()
		for _, s := range subs {
			s.c.q.take()
		}
		drain.Unlock()
	})
	defer stop()
	ctx := context.Background()
	done := make(chan struct{})
	var busy sync.WaitGroup
	busy.Go(func() { // the busy channel: one event after another
		for {
			select {
			case <-done:
				return
			default:
			}
			_ = br.Publish(ctx, []*wsv1.Event{{Channel: "Busy", Type: created, Key: "b", Version: 1, Data: make([]byte, 160)}})
		}
	})
	var ch atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		channel := fmt.Sprint("Quiet", ch.Add(1)%64)
		for pb.Next() {
			_ = br.Publish(ctx, []*wsv1.Event{{Channel: channel, Type: created, Key: "q", Version: 1, Data: make([]byte, 160)}})
		}
	})
	b.StopTimer()
	close(done)
	busy.Wait()
}

// BenchmarkQueuePushTake: one event pushed and taken, the queue's share of
// a delivery.
func BenchmarkQueuePushTake(b *testing.B) {
	q := newSendQueue(256)
	s := &subscription{}
	e := &sharedEvent{ev: benchEvent("Room", 1)}
	b.ReportAllocs()
	for b.Loop() {
		for range 4 {
			q.push(queueItem{sub: s, ev: e}, false)
		}
		q.take()
	}
}

// BenchmarkFanoutWrite: the whole path of a delivery over real loopback
// WebSockets: one event fanned out to N subscriptions (hub → queue), each
// connection's write loop packing and writing it, N clients (in this
// process, reading without allocating) counting the events. The hub is
// fed burst events at a time, then the benchmark waits for every client
// to have them all: burst=1 is normal load (a message per delivery),
// burst=32 a connection that is behind. Reported: allocations per event
// (the whole process, clients included; divide by N for a delivery),
// goroutines started (write loops) and messages per delivery.
//
//	go test -run '^$' -bench FanoutWrite -benchmem ./ssotws/
func BenchmarkFanoutWrite(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, burst := range []int{1, 32} {
			b.Run(fmt.Sprintf("N=%d/burst=%d", n, burst), func(b *testing.B) { benchFanoutWrite(b, n, burst) })
		}
	}
}

func benchFanoutWrite(b *testing.B, n, burst int) {
	w := startWSGateway(b, &GatewayOptions{})
	readers := make([]*discardReader, n)
	for i := range readers {
		readers[i] = readAndCount(w.subscribe(b))
	}
	fail := func(*wsv1.Event, error) { b.Fatal("encoding failed") }
	events := make([][]*wsv1.Event, b.N) // made ahead: not the gateway's allocations
	for i := range events {
		events[i] = []*wsv1.Event{benchEvent(w.m.Name(), uint64(i+1))}
	}
	created := func() uint64 {
		s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := created()
	b.ReportAllocs()
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		for range min(burst, b.N-sent) {
			w.g.hub.publish(events[sent], fail)
			sent++
		}
		for _, r := range readers {
			if err := r.wait(sent); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	deliveries := float64(b.N) * float64(n)
	messages := 0
	for _, r := range readers {
		r.mu.Lock()
		messages += r.messages
		r.mu.Unlock()
	}
	b.ReportMetric(float64(created()-before)/deliveries, "goroutines/delivery")
	b.ReportMetric(float64(messages)/deliveries, "messages/delivery")
}
