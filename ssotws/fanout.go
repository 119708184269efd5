package ssotws

import (
	"hash/maphash"
	"runtime"
	"sync"
	"weak"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Field numbers of the wire protocol that the fan-out writes by hand.
const (
	serverFrameEventsField protowire.Number = 3 // ServerFrame.events
	eventsEventField       protowire.Number = 1 // Events.events
)

// sharedEvent is an event encoded once for every subscriber of its channel.
type sharedEvent struct {
	ev *wsv1.Event
	// chunk is the event as one element of Events.events: tag, length and
	// the Event's encoding. A write loop packs chunks into one ServerFrame
	// by concatenation.
	chunk []byte

	ownerOnce sync.Once
	owner     string
}

func newSharedEvent(ev *wsv1.Event) (*sharedEvent, error) {
	size := proto.Size(ev)
	b := make([]byte, 0, protowire.SizeTag(eventsEventField)+protowire.SizeVarint(uint64(size))+size)
	b = protowire.AppendTag(b, eventsEventField, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	b, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, ev)
	if err != nil {
		return nil, err
	}
	return &sharedEvent{ev: ev, chunk: b}, nil
}

// eventCache shares the encoding of replayed events: the subscriptions
// that replay the same history (after a restart, every client resumes from
// about the same positions) queue the same bytes instead of an encoding
// each. It holds its events weakly: an event is encoded again only once
// no queue holds it any more, and the cache keeps nothing else.
//
// It is safe for concurrent use.
type eventCache struct {
	mu sync.Mutex
	m  map[eventKey]weak.Pointer[sharedEvent]
}

// eventKey names an event: its channel and position (a broker gives each
// position of a channel one event).
type eventKey struct {
	channel       string
	epoch, offset uint64
}

func newEventCache() *eventCache {
	return &eventCache{m: make(map[eventKey]weak.Pointer[sharedEvent])}
}

// get returns ev encoded, encoding it unless a queue holds its encoding.
func (c *eventCache) get(ev *wsv1.Event) (*sharedEvent, error) {
	k := eventKey{ev.GetChannel(), ev.GetPosition().GetEpoch(), ev.GetPosition().GetOffset()}
	c.mu.Lock()
	e := c.m[k].Value()
	c.mu.Unlock()
	if e != nil {
		return e, nil
	}
	e, err := newSharedEvent(ev)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if old := c.m[k].Value(); old != nil {
		c.mu.Unlock()
		return old, nil // encoded meanwhile by another connection
	}
	c.m[k] = weak.Make(e)
	c.mu.Unlock()
	runtime.AddCleanup(e, c.forget, k)
	return e, nil
}

// forget drops the entry of k once its event was collected (unless a new
// encoding took its place).
func (c *eventCache) forget(k eventKey) {
	c.mu.Lock()
	if p, ok := c.m[k]; ok && p.Value() == nil {
		delete(c.m, k)
	}
	c.mu.Unlock()
}

// len returns the number of entries (tests).
func (c *eventCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// ownerOf returns the event's owner, decoded from its data once.
func (e *sharedEvent) ownerOf(fd protoreflect.FieldDescriptor) string {
	e.ownerOnce.Do(func() { e.owner = scanString(e.ev.Data, fd.Number()) })
	return e.owner
}

// scanString returns the last value of the string field num in the
// encoded message b (protobuf's last-one-wins rule), without decoding the
// rest. It returns "" for a malformed message.
func scanString(b []byte, num protowire.Number) string {
	var out string
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return ""
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return ""
			}
			out = string(v)
			b = b[l:]
			continue
		}
		l = protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return ""
		}
		b = b[l:]
	}
	return out
}

// appendEventsFrame appends to b one ServerFrame{Events} holding chunks.
func appendEventsFrame(b []byte, chunks [][]byte) []byte {
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	b = protowire.AppendTag(b, serverFrameEventsField, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	for _, c := range chunks {
		b = append(b, c...)
	}
	return b
}

// hubShards spreads the channels over several locks, so that subscribes and
// unsubscribes on one channel do not contend with the fan-out of another.
const hubShards = 32

// hub maps channel names to their subscriptions. It is safe for concurrent
// use.
type hub struct {
	seed   maphash.Seed
	shards [hubShards]hubShard
}

type hubShard struct {
	mu sync.RWMutex
	// subs lists the subscriptions of each channel; a subscription knows
	// its index (subscription.hubIdx), so that removal is O(1) and the
	// fan-out walks a slice rather than a map.
	subs map[string][]*subscription
}

func newHub() *hub {
	h := &hub{seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].subs = make(map[string][]*subscription)
	}
	return h
}

func (h *hub) shard(channel string) *hubShard {
	return &h.shards[maphash.String(h.seed, channel)%hubShards]
}

func (h *hub) add(channel string, s *subscription) {
	sh := h.shard(channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.subs[channel]
	s.hubIdx = len(list)
	sh.subs[channel] = append(list, s)
}

func (h *hub) remove(channel string, s *subscription) {
	sh := h.shard(channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.subs[channel]
	i := s.hubIdx
	if i < 0 || i >= len(list) || list[i] != s {
		return // not subscribed (or removed already)
	}
	last := len(list) - 1
	list[i] = list[last]
	list[i].hubIdx = i
	list[last] = nil
	s.hubIdx = -1
	if last == 0 {
		delete(sh.subs, channel)
		return
	}
	if cap(list) > 64 && last < cap(list)/4 {
		list = append([]*subscription(nil), list[:last]...) // shrink after a crowd left
		for j, x := range list {
			x.hubIdx = j
		}
	}
	sh.subs[channel] = list[:last]
}

// publish hands each event to the subscriptions of its channel. An event
// nobody subscribed to is not even encoded; otherwise it is encoded once
// and the bytes are shared. Subscriptions only queue the event: a slow
// connection never blocks publish. Each delivery takes one lock, its
// connection's queue, and allocates nothing; a connection whose write loop
// is already running is not woken again.
func (h *hub) publish(events []*wsv1.Event, onError func(*wsv1.Event, error)) {
	for _, ev := range events {
		sh := h.shard(ev.Channel)
		sh.mu.RLock()
		subs := sh.subs[ev.Channel]
		if len(subs) > 0 {
			se, err := newSharedEvent(ev)
			if err != nil {
				onError(ev, err)
			} else {
				for _, s := range subs {
					s.deliver(se)
				}
			}
		}
		sh.mu.RUnlock()
	}
}

// count returns the number of subscriptions of channel.
func (h *hub) count(channel string) int {
	sh := h.shard(channel)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return len(sh.subs[channel])
}
