package client

import (
	"log/slog"
	"slices"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The cache of one subscribed channel: the version rule, tombstones and
// gap-free hydration (docs/client-semantics.md). It does no I/O, starts no
// goroutine and holds no lock: the channel (channel.go) feeds it what the
// connection hears and what HTTP answered, and acts on the [step] it
// returns (announce changes, fetch a snapshot, verify records). The twin of
// ts/runtime/src/cache.ts.

// phase is where a channel's cache stands in its subscription.
type phase int

const (
	// phaseSubscribing: Subscribe sent (or waiting for a connection);
	// events are buffered until the Ack starts the snapshot fetch.
	phaseSubscribing phase = iota
	// phaseFetching: the snapshot is being fetched; events are buffered.
	phaseFetching
	// phaseResuming: the connection dropped, or the channel was
	// resubscribed with its last position and the replayed events are
	// being applied; the Ack that follows them makes it live again.
	phaseResuming
	// phaseLive: hydrated and caught up; events are applied as they come.
	phaseLive
	// phaseFailed: the server refused the subscription.
	phaseFailed
	// phaseClosed: unsubscribed.
	phaseClosed
)

// entry is the cached state of one record: live, or a tombstone that keeps
// the version of the delete so that late events of the record are ignored.
type entry[T proto.Message] struct {
	version int64
	value   T // last known state, also for a tombstone
	deleted bool
	seq     int64 // order of entry into the channel, for List
}

// snapshot is a channel's state fetched over HTTP.
type snapshot[T proto.Message] struct {
	items []T
	// pos is the channel position read before the store, nil if the
	// response did not carry one.
	pos *wsv1.Position
	// complete is false when the hydration limit cut the list short.
	complete bool
}

// step is what the channel must do after feeding the cache.
type step[T proto.Message] struct {
	// changes are to be announced to the listeners, in order.
	changes []Change[T]
	// fetch: start fetching the snapshot for generation gen, giving up
	// the fetch in flight.
	fetch bool
	// stopFetch: give up the fetch in flight.
	stopFetch bool
	// fetched: the fetch of generation gen is over.
	fetched bool
	gen     uint64
	// verify lists the keys to read over HTTP for generation verifyGen,
	// and to hand to cache.verified.
	verify    []string
	verifyGen uint64
	// reread lists the keys to read over HTTP for generation rereadGen,
	// and to hand to cache.reread: a delta arrived for a version the cache
	// does not hold (delta.go).
	reread    []string
	rereadGen uint64
}

// verifyWindow is how long after a snapshot a record that comes to life in
// the channel is checked over HTTP. Late events of mutations that committed
// before the snapshot was read arrive within it.
const verifyWindow = 2 * time.Second

// cache is the state of one channel's cache.
type cache[T proto.Message] struct {
	name   string
	parsed protocol.ChannelName
	model  *protocol.Model
	newT   func() T
	log    *slog.Logger

	phase       phase
	err         error
	entries     map[string]*entry[T]
	seq         int64
	pos         *wsv1.Position // last position applied
	subPos      *wsv1.Position // position of the current Ack or Reset
	hydrated    bool           // a snapshot was installed once
	complete    bool
	buffer      []*wsv1.Event
	verifyUntil time.Time // see applyEvent
	gen         uint64    // hydration generation: bumped by every fetch started or stopped
}

func newCache[T proto.Message](name string, parsed protocol.ChannelName, model *protocol.Model, newT func() T, log *slog.Logger) *cache[T] {
	return &cache[T]{name: name, parsed: parsed, model: model, newT: newT, log: log, entries: make(map[string]*entry[T])}
}

// checking reports whether a verify of generation gen still counts.
func (c *cache[T]) checking(gen uint64) bool {
	return gen == c.gen && (c.phase == phaseLive || c.phase == phaseResuming)
}

func (c *cache[T]) startFetch(s *step[T]) {
	c.gen++
	c.phase = phaseFetching
	s.fetch, s.gen = true, c.gen
}

func (c *cache[T]) stopFetch(s *step[T]) {
	c.gen++
	s.stopFetch = true
}

// since is the position to resume from, nil for a fresh subscription.
func (c *cache[T]) since() *wsv1.Position {
	if c.phase == phaseResuming && c.pos != nil {
		return proto.Clone(c.pos).(*wsv1.Position)
	}
	return nil
}

// acked: the server acknowledged the subscription at pos.
func (c *cache[T]) acked(pos *wsv1.Position) (s step[T]) {
	c.subPos = pos
	switch c.phase {
	case phaseSubscribing:
		c.startFetch(&s)
	case phaseResuming:
		if c.pos == nil || pos.GetEpoch() != c.pos.GetEpoch() {
			// The server's history is another epoch: it cannot replay
			// (it should say Reset); refetch.
			c.startFetch(&s)
			return s
		}
		// The server replays the missed events before the Ack, whose
		// position is where the live events start: the cache is caught up.
		if pos.GetOffset() > c.pos.GetOffset() {
			c.pos = pos
		}
		c.phase = phaseLive
	}
	return s
}

// reset: the server cannot replay from our position; the subscription is
// active from pos on. Refetch.
func (c *cache[T]) reset(pos *wsv1.Position) (s step[T]) {
	if c.phase == phaseClosed || c.phase == phaseFailed {
		return s
	}
	c.subPos = pos
	c.buffer = nil
	c.startFetch(&s)
	return s
}

// failed: the server refused or dropped the subscription.
func (c *cache[T]) failed(err error) (s step[T]) {
	if c.phase == phaseClosed {
		return s
	}
	c.stopFetch(&s)
	c.err = err
	c.buffer = nil
	c.phase = phaseFailed
	return s
}

// disconnected: the link dropped; see channelHandler.
func (c *cache[T]) disconnected(resume bool) (s step[T]) {
	switch {
	case c.phase == phaseClosed:
	case resume && (c.phase == phaseLive || c.phase == phaseResuming):
		c.phase = phaseResuming
	default:
		// Without a snapshot there is no position to resume from; and
		// when resuming would replay what dropped the link, the position
		// is given up. Start over on the next connection: its Ack
		// refetches, as after a Reset.
		c.stopFetch(&s)
		c.buffer = nil
		c.err = nil
		c.phase = phaseSubscribing
	}
	return s
}

// close: unsubscribed.
func (c *cache[T]) close() (s step[T]) {
	c.stopFetch(&s)
	c.buffer = nil
	c.phase = phaseClosed
	return s
}

// events applies (or buffers) events of the channel heard at now.
func (c *cache[T]) events(evs []*wsv1.Event, now time.Time) (s step[T]) {
	for i, ev := range evs {
		switch c.phase {
		case phaseSubscribing, phaseFetching:
			c.buffer = append(c.buffer, ev)
		case phaseResuming, phaseLive:
			if ev.GetPosition().GetEpoch() != c.pos.GetEpoch() {
				// The channel's history changed epoch under a live
				// subscription: what happened in between is unknown.
				c.subPos = &wsv1.Position{Epoch: ev.GetPosition().GetEpoch()}
				c.startFetch(&s)
				c.buffer = append(c.buffer, evs[i:]...)
				return s
			}
			if ev.GetPosition().GetOffset() <= c.pos.GetOffset() {
				continue // replayed twice
			}
			c.applyEvent(ev, now, &s)
			c.pos = ev.GetPosition()
		}
	}
	return s
}

// install puts the snapshot of generation gen in the cache and applies the
// buffered events past its position. retry is true when the snapshot
// belongs to another epoch than the subscription: fetch again.
func (c *cache[T]) install(gen uint64, snap snapshot[T], now time.Time) (s step[T], retry bool) {
	if gen != c.gen || c.phase != phaseFetching {
		return s, false // superseded
	}
	pos := snap.pos
	if pos == nil {
		// No position header: the subscription's position is a safe lower
		// bound, as the fetch started after it and versions make the
		// overlap harmless.
		pos = c.subPos
	} else if pos.GetEpoch() != c.subPos.GetEpoch() {
		return s, true
	}
	s.changes = c.replace(snap.items, c.hydrated)
	c.hydrated = true
	c.complete = snap.complete
	c.pos = pos
	// The window opens before the buffered events are applied: a late
	// event of a record deleted before the snapshot was read is most
	// likely among them.
	c.verifyUntil = now.Add(verifyWindow)
	for _, ev := range c.buffer {
		if ev.GetPosition().GetEpoch() != pos.GetEpoch() || ev.GetPosition().GetOffset() <= c.pos.GetOffset() {
			continue
		}
		c.applyEvent(ev, now, &s)
		c.pos = ev.GetPosition()
	}
	c.buffer = nil
	s.fetched, s.gen = true, gen
	c.phase = phaseLive
	return s, false
}

// replace replaces the cache with a snapshot. Records that are gone become
// tombstones at their last version; with notify, the differences are
// returned as changes.
func (c *cache[T]) replace(items []T, notify bool) []Change[T] {
	var changes []Change[T]
	old := c.entries
	c.entries = make(map[string]*entry[T], len(items))
	for _, item := range items {
		pm := item.ProtoReflect()
		key := c.model.KeyOf(pm)
		v := versionOf(c.model, pm)
		c.seq++
		e := &entry[T]{version: v, value: item, seq: c.seq}
		o := old[key]
		if o != nil && !o.deleted {
			e.seq = o.seq
		}
		c.entries[key] = e
		if !notify {
			continue
		}
		switch {
		case o == nil || o.deleted:
			changes = append(changes, Change[T]{Channel: c.name, Type: Created, Key: key, Version: v, Value: item})
		case o.version != v || !proto.Equal(o.value, item):
			changes = append(changes, Change[T]{Channel: c.name, Type: Updated, Key: key, Version: v, Value: item})
		}
	}
	for key, o := range old {
		if _, ok := c.entries[key]; ok {
			continue
		}
		c.entries[key] = &entry[T]{version: o.version, value: o.value, deleted: true}
		if notify && !o.deleted {
			changes = append(changes, Change[T]{Channel: c.name, Type: Deleted, Key: key, Version: o.version, Value: o.value})
		}
	}
	return changes
}

// applyEvent applies one event with the version rule.
func (c *cache[T]) applyEvent(ev *wsv1.Event, now time.Time, s *step[T]) {
	key := ev.GetKey()
	if e := c.entries[key]; e != nil && ev.GetVersion() <= e.version {
		return
	}
	if ev.GetDeltaMask() != nil {
		c.applyDelta(ev, s) // delta.go
		return
	}
	val := c.newT()
	if err := proto.Unmarshal(ev.GetData(), val); err != nil {
		c.log.Warn("ssotws/client: undecodable event", "channel", c.name, "key", key, "err", err)
		return
	}
	deleted := ev.GetType() == wsv1.EventType_EVENT_TYPE_DELETED || !c.member(key, val)
	if e := c.entries[key]; !deleted && (e == nil || e.deleted) && now.Before(c.verifyUntil) {
		// A record the snapshot did not hold comes to life just after it.
		// It may be new, or a late event of a record deleted before the
		// snapshot was read (mutations publish after they commit, so two
		// writers' events can reach a channel out of version order):
		// check it with a Get.
		s.verify, s.verifyGen = append(s.verify, key), c.gen
	}
	if ch, ok := c.set(key, ev.GetVersion(), val, deleted, ev.GetRequestId()); ok {
		s.changes = append(s.changes, ch)
	}
}

// set stores a record's new state and returns the change it makes to the
// channel's content.
func (c *cache[T]) set(key string, version int64, val T, deleted bool, reqID string) (Change[T], bool) {
	e := c.entries[key]
	wasLive := e != nil && !e.deleted
	if e == nil {
		e = &entry[T]{}
		c.entries[key] = e
	}
	if !deleted && !wasLive {
		c.seq++
		e.seq = c.seq
	}
	e.version, e.value, e.deleted = version, val, deleted
	ch := Change[T]{Channel: c.name, Key: key, Version: version, Value: val, RequestID: reqID}
	switch {
	case deleted && !wasLive:
		return ch, false
	case deleted:
		ch.Type = Deleted
	case !wasLive:
		ch.Type = Created
	default:
		ch.Type = Updated
	}
	return ch, true
}

// member reports whether a record belongs to the channel.
func (c *cache[T]) member(key string, val T) bool {
	switch c.parsed.Kind {
	case protocol.ChannelItem:
		return key == c.parsed.Key
	case protocol.ChannelScope:
		return slices.Contains(c.model.Channels(val.ProtoReflect()), c.name)
	}
	return true
}

// list returns the live records in channel order, and whether the cache
// can answer a List: live and complete.
func (c *cache[T]) list() ([]T, bool) {
	if c.phase != phaseLive || !c.complete {
		return nil, false
	}
	type kv struct {
		seq int64
		v   T
	}
	live := make([]kv, 0, len(c.entries))
	for _, e := range c.entries {
		if !e.deleted {
			live = append(live, kv{e.seq, e.value})
		}
	}
	slices.SortFunc(live, func(a, b kv) int { return int(a.seq - b.seq) })
	out := make([]T, len(live))
	for i, x := range live {
		out[i] = proto.Clone(x.v).(T)
	}
	return out, true
}

// get returns the record with key, whether it exists, and whether the
// cache can answer (it is live).
func (c *cache[T]) get(key string) (T, bool, bool) {
	var zero T
	if c.phase != phaseLive || !c.complete {
		return zero, false, false
	}
	e := c.entries[key]
	if e == nil || e.deleted {
		return zero, false, true
	}
	return proto.Clone(e.value).(T), true, true
}

// position returns the position of the last event applied, nil if none.
func (c *cache[T]) position() *wsv1.Position {
	if c.pos == nil {
		return nil
	}
	return proto.Clone(c.pos).(*wsv1.Position)
}

// versionOf reads a record's version field; 0 when the model has none.
func versionOf(m *protocol.Model, pm protoreflect.Message) int64 {
	fd := m.VersionField()
	if fd == nil {
		return 0
	}
	switch fd.Kind() {
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return int64(pm.Get(fd).Uint())
	}
	return pm.Get(fd).Int()
}
