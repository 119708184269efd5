package ssotws

import (
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
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
	// delta is the encoding written to subscriptions that asked for
	// deltas (delta.go); the same bytes as chunk when ev is no delta.
	delta []byte
	// frame, when set, is the whole ServerFrame{Events} of this event
	// alone, chunk being its tail: a write loop that has this one event
	// to write writes these bytes as they are, shared by every
	// subscriber. Set when chunk and delta are the same encoding.
	frame []byte
	// msg is frame as a whole WebSocket message, header and payload
	// (direct.go): prepared once, written to every subscriber as it is.
	// Set with frame.
	msg []byte
	// at is when the event was encoded for the fan-out: a write loop
	// reads from it how late it runs (gather.go).
	at time.Time

	ownerOnce sync.Once
	owner     string

	recordOnce sync.Once
	record     protoreflect.Message // decoded for the Policy, shared read-only

	// views are the event's encodings for readers that may not see every
	// field (redact.go); base is, for such an encoding, the whole event.
	views redactedViews
	base  *sharedEvent
}

// newSharedEvent encodes ev once whole and, for an update that carries a
// delta mask, once as a delta; m is the channel's model (nil: no delta).
func newSharedEvent(ev *wsv1.Event, m *Model) (*sharedEvent, error) {
	if ev.GetDeltaMask() == nil {
		msg, frame, chunk, err := encodeFramed(ev)
		if err != nil {
			return nil, err
		}
		return &sharedEvent{ev: ev, chunk: chunk, delta: chunk, frame: frame, msg: msg, at: time.Now()}, nil
	}
	var desc protoreflect.MessageDescriptor
	if m != nil {
		desc = m.Descriptor()
	}
	full, delta, err := encodeEvent(ev, desc)
	if err != nil {
		return nil, err
	}
	return &sharedEvent{ev: ev, chunk: full, delta: delta, at: time.Now()}, nil
}

// recordOf returns the event's record, decoded once as a message of m
// (nil if its data does not decode). The Policy reads it; nobody writes it.
func (e *sharedEvent) recordOf(m *Model) protoreflect.Message {
	if e.base != nil { // a redacted encoding: the record as published
		return e.base.recordOf(m)
	}
	e.recordOnce.Do(func() {
		msg := newRecord(m)
		if proto.Unmarshal(e.ev.GetData(), msg.Interface()) == nil {
			e.record = msg
		}
	})
	return e.record
}

// newRecord returns an empty message of m: of its Go type when one is
// linked in, else a dynamic one.
func newRecord(m *Model) protoreflect.Message {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(m.Descriptor().FullName()); err == nil {
		return mt.New()
	}
	return dynamicpb.NewMessage(m.Descriptor())
}

// ownerOf returns the event's owner, decoded from its data once.
func (e *sharedEvent) ownerOf(fd protoreflect.FieldDescriptor) string {
	if e.base != nil {
		return e.base.ownerOf(fd)
	}
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

// encodeFramed encodes ev as one ServerFrame{Events} holding ev alone
// (frame), as that frame's WebSocket message (msg: header and frame,
// direct.go) and, within the frame, as one element of Events.events
// (chunk), in one buffer.
func encodeFramed(ev *wsv1.Event) (msg, frame, chunk []byte, err error) {
	size := proto.Size(ev)
	n := protowire.SizeTag(eventsEventField) + protowire.SizeVarint(uint64(size)) + size
	head := protowire.SizeTag(serverFrameEventsField) + protowire.SizeVarint(uint64(n))
	hl := wsHeaderLen(head + n)
	b := make([]byte, hl, hl+head+n)
	putWSHeader(b, head+n)
	b = protowire.AppendTag(b, serverFrameEventsField, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	b = protowire.AppendTag(b, eventsEventField, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	if b, err = (proto.MarshalOptions{UseCachedSize: true}).MarshalAppend(b, ev); err != nil {
		return nil, nil, nil, err
	}
	return b, b[hl:], b[hl+head:], nil
}

// appendEventRun appends to b one ServerFrame{Events} holding the events
// of run, size bytes of chunks in all.
func appendEventRun(b []byte, run []queueItem, size int) []byte {
	b = protowire.AppendTag(b, serverFrameEventsField, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	for i := range run {
		b = append(b, run[i].chunk()...)
	}
	return b
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
func (c *eventCache) get(ev *wsv1.Event, m *Model) (*sharedEvent, error) {
	k := eventKey{ev.GetChannel(), ev.GetPosition().GetEpoch(), ev.GetPosition().GetOffset()}
	c.mu.Lock()
	e := c.m[k].Value()
	c.mu.Unlock()
	if e != nil {
		return e, nil
	}
	e, err := newSharedEvent(ev, m)
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
