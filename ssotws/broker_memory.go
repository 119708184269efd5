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

// DefaultItemChannels is the number of live records' item channels a
// [MemoryBroker] keeps unless told otherwise.
const DefaultItemChannels = 10000

// DefaultListenerBacklog is the number of events a [MemoryBroker] queues
// for a listener, ahead of its fan-out, unless told otherwise.
const DefaultListenerBacklog = 128

// DefaultListenerBacklogBytes is the size of the events (their data,
// channel and key) a [MemoryBroker] queues for a listener, ahead of its
// fan-out, unless told otherwise.
const DefaultListenerBacklogBytes = 1 << 20

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
	// ItemChannels is the number of item channels of records not deleted
	// (one per record written) that are kept with their history: past it,
	// the one written least recently is forgotten. Zero means
	// [DefaultItemChannels]; a negative value keeps none beyond the
	// publish that wrote them.
	ItemChannels int
	// ListenerBacklog bounds the events queued for each listener that it
	// has not finished delivering: Publish returns without waiting for the
	// fan-out while the backlog is within the bound, and waits for the
	// listener to catch up past it. Zero means [DefaultListenerBacklog]; a
	// negative value makes every Publish wait until the listeners have
	// delivered its events.
	ListenerBacklog int
	// ListenerBacklogBytes bounds the same backlog by the size of its
	// events (data, channel and key): a few large events fill it as many
	// small ones do. Zero means [DefaultListenerBacklogBytes]; a negative
	// value makes every Publish wait as a negative ListenerBacklog does.
	ListenerBacklogBytes int
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
// channel), Position and History need. Publish does not wait for the
// fan-out: it returns once its events are in the history and queued for
// every listener. Each listener's queue holds at most ListenerBacklog
// events and ListenerBacklogBytes of them (plus one Publish per concurrent
// publisher); past that, Publish waits until the listener has caught up
// to the bound, so a listener that falls behind slows publishers rather
// than growing memory, and no event is ever dropped. Subscribers of the gateway are protected by their own
// bound ([Limits].SendQueue): a connection that cannot keep up is closed
// as too slow (close code 4429), and its client resumes from the history.
type MemoryBroker struct {
	epoch       uint64
	historySize int
	maxTombs    int
	maxItems    int
	backlog     int // ListenerBacklog
	backlogSize int // ListenerBacklogBytes

	mu        sync.Mutex
	channels  map[string]*memChannel
	listeners []*memListener
	closed    bool

	control memControl // the gateways' control messages (broker_memory_control.go)

	// tombs lists the tombstones, oldest first.
	tombs memFIFO
	// writes orders the item channels of records not deleted by their
	// last write (broker_memory_items.go).
	writes memWrites
	// floor is the highest offset of a forgotten channel: the position of
	// every channel the broker does not know.
	floor uint64
}

type memChannel struct {
	offset uint64
	// ring holds the last events; head is the index of the oldest.
	ring []*wsv1.Event
	head int
}

var _ Broker = (*MemoryBroker)(nil)

// zeroMeans is the value of a bound whose zero means def and whose
// negative values mean none (0).
func zeroMeans(v, def int) int {
	if v == 0 {
		return def
	}
	return max(v, 0)
}

// NewMemoryBroker returns an empty broker.
func NewMemoryBroker(opts *MemoryBrokerOptions) *MemoryBroker {
	var o MemoryBrokerOptions
	if opts != nil {
		o = *opts
	}
	o.HistorySize = zeroMeans(o.HistorySize, DefaultHistorySize)
	o.Tombstones = zeroMeans(o.Tombstones, DefaultTombstones)
	o.ItemChannels = zeroMeans(o.ItemChannels, DefaultItemChannels)
	o.ListenerBacklog = zeroMeans(o.ListenerBacklog, DefaultListenerBacklog)
	o.ListenerBacklogBytes = zeroMeans(o.ListenerBacklogBytes, DefaultListenerBacklogBytes)
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
		maxItems:    o.ItemChannels,
		backlog:     o.ListenerBacklog,
		backlogSize: o.ListenerBacklogBytes,
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
		if isItemChannel(ev.Channel) {
			if ev.Type == wsv1.EventType_EVENT_TYPE_DELETED {
				b.tombstone(ev, ch)
			} else {
				b.written(ev.Channel, ch)
			}
		}
	}
	var one [1]*memListener
	full := one[:0]
	for _, l := range b.listeners {
		if l.enqueue(events) {
			full = append(full, l)
		}
	}
	b.mu.Unlock()
	for _, l := range full {
		l.waitRoom()
	}
	return nil
}

// isItemChannel reports whether channel names one record: only item
// channel names hold a '/' (scope values are query-escaped).
func isItemChannel(channel string) bool { return strings.IndexByte(channel, '/') >= 0 }

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
	l := newMemListener(fn, b.backlog, b.backlogSize)
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
	b.tombs, b.writes = memFIFO{}, memWrites{}
	b.mu.Unlock()
	for _, l := range listeners {
		l.stop(false)
	}
	return nil
}
