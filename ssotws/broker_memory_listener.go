package ssotws

import (
	"sync"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// memListener is a registered listener: an ordered queue of published
// batches and the goroutine that calls fn with them.
//
// Publish enqueues under the broker's lock (which orders the batches) and
// returns without waiting for the fan-out: a mutation is acknowledged once
// its events have positions, are in the history and are queued for every
// listener. The queue is bounded: while it holds more than max events or
// maxBytes bytes of them (queued, or taken and not yet delivered), a
// publisher that has just enqueued waits until the goroutine brings it
// back within both. So memory is bounded by the bound plus one batch per
// publisher in flight, per listener; past the bound publishers are held to the fan-out's pace (what
// every publish did before the queue), and nothing is dropped: listeners
// still get every batch, in order. The bound is kept below the gateway's
// default send queue (8192 events), so that a backlog the listener hands out at
// once does not overflow the queue of a connection that keeps up.
type memListener struct {
	fn       func([]*wsv1.Event)
	max      int // events in the queue beyond which publishers wait
	maxBytes int // bytes of events in the queue beyond which publishers wait

	mu      sync.Mutex
	ready   sync.Cond // the goroutine waits for batches
	room    sync.Cond // publishers past the bound wait for the queue to shrink
	batches [][]*wsv1.Event
	queued  int  // events enqueued and not yet delivered (fn has not returned)
	bytes   int  // their size (eventSize)
	waiters int  // publishers waiting on room
	stopped bool // no more batches; the goroutine drains (or, closed, drops) and ends
	done    chan struct{}
}

func newMemListener(fn func([]*wsv1.Event), max, maxBytes int) *memListener {
	l := &memListener{fn: fn, max: max, maxBytes: maxBytes, done: make(chan struct{})}
	l.ready.L, l.room.L = &l.mu, &l.mu
	go l.run()
	return l
}

// enqueue appends one published batch; the broker's lock is held, which
// orders the batches. It reports whether the queue is now past its bound:
// the publisher must then call waitRoom, after releasing the broker's lock.
func (l *memListener) enqueue(events []*wsv1.Event) (full bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	l.batches = append(l.batches, events)
	l.queued += len(events)
	l.bytes += batchSize(events)
	if len(l.batches) == 1 {
		l.ready.Signal()
	}
	return l.full()
}

// full reports whether the queue is past its bound; l.mu must be held.
func (l *memListener) full() bool { return l.queued > l.max || l.bytes > l.maxBytes }

// batchSize is what a batch counts against the bound in bytes.
func batchSize(events []*wsv1.Event) int {
	n := 0
	for _, ev := range events {
		n += len(ev.Data) + len(ev.Channel) + len(ev.Key)
	}
	return n
}

// waitRoom waits until the queue is back within its bound, or stopped.
func (l *memListener) waitRoom() {
	l.mu.Lock()
	for l.full() && !l.stopped {
		l.waiters++
		l.room.Wait()
		l.waiters--
	}
	l.mu.Unlock()
}

func (l *memListener) run() {
	defer close(l.done)
	var batch [][]*wsv1.Event
	for {
		l.mu.Lock()
		for len(l.batches) == 0 && !l.stopped {
			l.ready.Wait()
		}
		if len(l.batches) == 0 {
			l.mu.Unlock()
			return
		}
		batch, l.batches = l.batches, batch[:0]
		l.mu.Unlock()
		for i, events := range batch {
			l.fn(events)
			batch[i] = nil
			size := batchSize(events)
			l.mu.Lock()
			l.queued -= len(events)
			l.bytes -= size
			if l.waiters > 0 && !l.full() {
				l.room.Broadcast()
			}
			l.mu.Unlock()
		}
	}
}

// stop ends the deliveries: with drain, after what was published before
// stop; otherwise dropping it. It waits for the goroutine to end.
func (l *memListener) stop(drain bool) {
	l.mu.Lock()
	l.stopped = true
	if !drain {
		l.batches = nil
	}
	l.ready.Signal()
	l.room.Broadcast()
	l.mu.Unlock()
	<-l.done
}
