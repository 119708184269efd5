package ssotws

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// DefaultHistorySize is the number of events a [MemoryBroker] keeps per
// channel unless told otherwise.
const DefaultHistorySize = 1000

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
}

// MemoryBroker is an in-process [Broker]: it serves one server, and its
// history lives as long as the process. Each instance draws a random epoch,
// so a client that resumes against a restarted server is told to refetch.
//
// It keeps the position of every channel ever published to (an item
// channel per record) and up to HistorySize events for each.
//
// It is safe for concurrent use. Publish calls the listeners while holding
// the broker's lock, which keeps their deliveries in position order.
type MemoryBroker struct {
	epoch       uint64
	historySize int

	mu        sync.Mutex
	channels  map[string]*memChannel
	listeners []*memListener
	closed    bool
}

type memListener struct {
	fn func([]*wsv1.Event)
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
	for o.Epoch == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		// Keep epochs within 2^53 so that JavaScript clients read them exactly.
		o.Epoch = binary.LittleEndian.Uint64(b[:]) & (1<<53 - 1)
	}
	return &MemoryBroker{
		epoch:       o.Epoch,
		historySize: o.HistorySize,
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
	defer b.mu.Unlock()
	if b.closed {
		return ErrBrokerClosed
	}
	for _, ev := range events {
		ch := b.channels[ev.Channel]
		if ch == nil {
			ch = &memChannel{}
			b.channels[ev.Channel] = ch
		}
		ch.offset++
		ev.Position = &wsv1.Position{Epoch: b.epoch, Offset: ch.offset}
		ch.push(ev, b.historySize)
	}
	for _, l := range b.listeners {
		l.fn(events)
	}
	return nil
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
	var off uint64
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
	var cur uint64
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
	if missing > uint64(len(ch.ring)) {
		return nil, fmt.Errorf("%w: %q: offset %d is older than the history kept", ErrHistoryUnavailable, channel, from)
	}
	out := make([]*wsv1.Event, 0, missing)
	n := len(ch.ring)
	for i := n - int(missing); i < n; i++ {
		out = append(out, ch.ring[(ch.head+i)%n])
	}
	return out, nil
}

// Listen implements [Broker].
func (b *MemoryBroker) Listen(fn func(events []*wsv1.Event)) (stop func()) {
	l := &memListener{fn: fn}
	b.mu.Lock()
	b.listeners = append(b.listeners, l)
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			for i, x := range b.listeners {
				if x == l {
					b.listeners = append(b.listeners[:i:i], b.listeners[i+1:]...)
					break
				}
			}
		})
	}
}

// Close implements [Broker]. It drops the listeners and the history.
func (b *MemoryBroker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.listeners = nil
	b.channels = make(map[string]*memChannel)
	return nil
}
