package ssotws

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// DefaultHistorySize is the number of events a [MemoryBroker] keeps per
// channel unless told otherwise.
const DefaultHistorySize = 1000

// DefaultTombstones is the number of deleted records whose item channel a
// [MemoryBroker] keeps unless told otherwise.
const DefaultTombstones = 10000

// MemoryBrokerOptions configures a [MemoryBroker]. A nil
// *MemoryBrokerOptions means the defaults.
type MemoryBrokerOptions struct {
	// HistorySize is the number of events kept per channel for resume.
	// Zero means [DefaultHistorySize]; a negative value keeps none.
	HistorySize int
	// Epoch fixes the epoch of every position; zero draws a random one.
	// Tests use it; in production a restarted broker must change epoch,
	// since its history is gone.
	Epoch uint64
	// Tombstones is the number of deleted records whose item channel is
	// kept. Zero means [DefaultTombstones]; a negative value keeps none.
	Tombstones int
}

// MemoryBroker is an in-process [Broker]: it serves one server, and its
// history lives as long as the process. Each instance draws a random epoch,
// so a client that resumes against a restarted server is told to refetch.
//
// It keeps the position of every channel published to (an item channel
// per record) and up to HistorySize events for each. The item channel of a
// deleted record is a tombstone: it keeps only its DELETED event, and only
// for the last Tombstones deletions; then it is forgotten. Offsets never
// go back for that: a channel the broker does not know (never published
// to, or forgotten) is at the highest offset a forgotten channel reached,
// and continues from there.
//
// It is safe for concurrent use. Publish assigns positions and hands the
// events to each listener's queue under the broker's lock, which fixes
// their order; each listener has a goroutine that calls it, so a listener
// with a large fan-out does not hold the lock that publishers (on any
// channel), Position and History need. Publish returns once every
// listener has taken its events.
type MemoryBroker struct {
	epoch       uint64
	historySize int
	maxTombs    int

	mu        sync.Mutex
	channels  map[string]*memChannel
	listeners []*memListener
	closed    bool

	control memControl // the gateways' control messages (broker_memory_control.go)

	// tombs lists the tombstones, oldest first from tombHead.
	tombs    []memTombstone
	tombHead int
	// floor is the highest offset of a forgotten channel: the position of
	// every channel the broker does not know.
	floor uint64
}

// memTombstone is the item channel of a deleted record, at the offset of
// its DELETED event.
type memTombstone struct {
	channel string
	offset  uint64
}

// memListener is a registered listener: an ordered queue of published
// batches and the goroutine that calls fn with them.
//
// Publish enqueues under the broker's lock (which orders the batches),
// releases the lock, then waits until the goroutine has taken its batch
// (not until fn has run). So a publisher waits at most for the fan-out in
// progress, never for its own, and publishers that queue up behind one
// fan-out are taken, and released, together; meanwhile the broker's lock
// is free for other publishers, Position and History. The backlog is
// bounded by the publishers in flight, as it was when the fan-out ran
// under the lock: a publisher faster than the fan-out is held back, and a
// subscriber never gets a longer burst than before (a large backlog would
// hand every subscriber of a channel bursts longer than its send queue).
type memListener struct {
	fn func([]*wsv1.Event)

	mu      sync.Mutex
	ready   sync.Cond // the goroutine waits for batches
	taken   sync.Cond // publishers wait for their batch to be taken
	batches [][]*wsv1.Event
	seq     uint64 // batches enqueued
	took    uint64 // batches taken by the goroutine
	waiters int    // publishers waiting on taken
	stopped bool   // no more batches; the goroutine drains (or, closed, drops) and ends
	done    chan struct{}
}

// memTicket is a batch a publisher waits to see taken.
type memTicket struct {
	l   *memListener
	seq uint64
}

func newMemListener(fn func([]*wsv1.Event)) *memListener {
	l := &memListener{fn: fn, done: make(chan struct{})}
	l.ready.L, l.taken.L = &l.mu, &l.mu
	go l.run()
	return l
}

// enqueue appends one published batch and returns its sequence number
// (0: not enqueued); the broker's lock is held, which orders the batches.
func (l *memListener) enqueue(events []*wsv1.Event) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return 0
	}
	l.batches = append(l.batches, events)
	l.seq++
	if len(l.batches) == 1 {
		l.ready.Signal()
	}
	return l.seq
}

// waitTaken waits until the goroutine took batch seq, or stopped.
func (l *memListener) waitTaken(seq uint64) {
	l.mu.Lock()
	for l.took < seq && !l.stopped {
		l.waiters++
		l.taken.Wait()
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
		l.took = l.seq
		if l.waiters > 0 {
			l.taken.Broadcast()
		}
		l.mu.Unlock()
		for _, events := range batch {
			l.fn(events)
		}
		clear(batch)
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
	l.taken.Broadcast()
	l.mu.Unlock()
	<-l.done
}

type memChannel struct {
	offset uint64
	// ring holds the last events; head is the index of the oldest.
	ring []*wsv1.Event
	head int
}

var _ Broker = (*MemoryBroker)(nil)

// NewMemoryBroker returns an empty broker.
func NewMemoryBroker(opts *MemoryBrokerOptions) *MemoryBroker {
	var o MemoryBrokerOptions
	if opts != nil {
		o = *opts
	}
	if o.HistorySize == 0 {
		o.HistorySize = DefaultHistorySize
	}
	if o.HistorySize < 0 {
		o.HistorySize = 0
	}
	if o.Tombstones == 0 {
		o.Tombstones = DefaultTombstones
	}
	if o.Tombstones < 0 {
		o.Tombstones = 0
	}
	for o.Epoch == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		// Keep epochs within 2^53 so that JavaScript clients read them exactly.
		o.Epoch = binary.LittleEndian.Uint64(b[:]) & (1<<53 - 1)
	}
	return &MemoryBroker{
		epoch:       o.Epoch,
		historySize: o.HistorySize,
		maxTombs:    o.Tombstones,
		channels:    make(map[string]*memChannel),
	}
}

// Epoch returns the epoch of every position this broker assigns.
func (b *MemoryBroker) Epoch() uint64 { return b.epoch }

// Publish implements [Broker].
func (b *MemoryBroker) Publish(ctx context.Context, events []*wsv1.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, ev := range events {
		if ev == nil || ev.Channel == "" {
			return fmt.Errorf("ssotws: publish: event without a channel")
		}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrBrokerClosed
	}
	for _, ev := range events {
		ch := b.channels[ev.Channel]
		if ch == nil {
			ch = &memChannel{offset: b.floor}
			b.channels[ev.Channel] = ch
		}
		ch.offset++
		ev.Position = &wsv1.Position{Epoch: b.epoch, Offset: ch.offset}
		ch.push(ev, b.historySize)
		if ev.Type == wsv1.EventType_EVENT_TYPE_DELETED && isItemChannel(ev.Channel) {
			b.tombstone(ev, ch)
		}
	}
	var one [1]memTicket
	tickets := one[:0]
	for _, l := range b.listeners {
		if seq := l.enqueue(events); seq > 0 {
			tickets = append(tickets, memTicket{l, seq})
		}
	}
	b.mu.Unlock()
	for _, t := range tickets {
		t.l.waitTaken(t.seq)
	}
	return nil
}

// isItemChannel reports whether channel names one record: only item
// channel names hold a '/' (scope values are query-escaped).
func isItemChannel(channel string) bool { return strings.IndexByte(channel, '/') >= 0 }

// tombstone makes ch, the item channel of a record just deleted by ev, a
// tombstone: it keeps only ev (a client resuming from just before the
// delete still hears it; from earlier, it is told to refetch), and the
// oldest tombstones beyond the bound are forgotten. b.mu must be held.
func (b *MemoryBroker) tombstone(ev *wsv1.Event, ch *memChannel) {
	if len(ch.ring) > 1 {
		ch.ring, ch.head = []*wsv1.Event{ev}, 0
	}
	b.tombs = append(b.tombs, memTombstone{channel: ev.Channel, offset: ch.offset})
	for len(b.tombs)-b.tombHead > b.maxTombs {
		t := b.tombs[b.tombHead]
		b.tombs[b.tombHead] = memTombstone{}
		b.tombHead++
		// Forget it unless the record was written again since.
		if ch := b.channels[t.channel]; ch != nil && ch.offset == t.offset {
			delete(b.channels, t.channel)
			b.floor = max(b.floor, ch.offset)
		}
	}
	if b.tombHead > 64 && b.tombHead > len(b.tombs)/2 {
		n := copy(b.tombs, b.tombs[b.tombHead:])
		clear(b.tombs[n:])
		b.tombs, b.tombHead = b.tombs[:n], 0
	}
}

func (c *memChannel) push(ev *wsv1.Event, size int) {
	if size == 0 {
		return
	}
	if len(c.ring) < size {
		c.ring = append(c.ring, ev)
		return
	}
	c.ring[c.head] = ev
	c.head = (c.head + 1) % len(c.ring)
}

// Position implements [Broker].
func (b *MemoryBroker) Position(ctx context.Context, channel string) (*wsv1.Position, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	off := b.floor
	if ch := b.channels[channel]; ch != nil {
		off = ch.offset
	}
	return &wsv1.Position{Epoch: b.epoch, Offset: off}, nil
}

// History implements [Broker].
func (b *MemoryBroker) History(ctx context.Context, channel string, since *wsv1.Position) ([]*wsv1.Event, error) {
	if since.GetEpoch() != b.epoch {
		return nil, fmt.Errorf("%w: %q: epoch %d is not the current epoch", ErrHistoryUnavailable, channel, since.GetEpoch())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := b.channels[channel]
	cur := b.floor
	if ch != nil {
		cur = ch.offset
	}
	from := since.GetOffset()
	switch {
	case from > cur:
		return nil, fmt.Errorf("%w: %q: offset %d is ahead of the channel (%d)", ErrHistoryUnavailable, channel, from, cur)
	case from == cur:
		return nil, nil
	}
	// The ring holds offsets cur-len(ring)+1 … cur.
	missing := cur - from
	if ch == nil || missing > uint64(len(ch.ring)) {
		return nil, fmt.Errorf("%w: %q: offset %d is older than the history kept", ErrHistoryUnavailable, channel, from)
	}
	out := make([]*wsv1.Event, 0, missing)
	n := len(ch.ring)
	for i := n - int(missing); i < n; i++ {
		out = append(out, ch.ring[(ch.head+i)%n])
	}
	return out, nil
}

// Listen implements [Broker]. fn runs on a goroutine of the listener's
// own, one call at a time, in publish order. The returned stop delivers
// what was published before it was called, then ends the goroutine; it
// must not be called from fn.
func (b *MemoryBroker) Listen(fn func(events []*wsv1.Event)) (stop func()) {
	l := newMemListener(fn)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		l.stop(false)
		return func() {}
	}
	b.listeners = append(b.listeners, l)
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			for i, x := range b.listeners {
				if x == l {
					b.listeners = append(b.listeners[:i:i], b.listeners[i+1:]...)
					break
				}
			}
			b.mu.Unlock()
			l.stop(true)
		})
	}
}

// Close implements [Broker]. It drops the listeners (and the events not
// yet delivered to them) and the history. It must not be called from a
// listener.
func (b *MemoryBroker) Close() error {
	b.mu.Lock()
	b.closed = true
	listeners := b.listeners
	b.listeners = nil
	b.channels = make(map[string]*memChannel)
	b.tombs, b.tombHead = nil, 0
	b.mu.Unlock()
	for _, l := range listeners {
		l.stop(false)
	}
	return nil
}
