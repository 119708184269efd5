package client

import (
	"context"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

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

// channelCache is the cache of one subscribed channel. It implements the
// hydration and resume of docs/client-semantics.md.
type channelCache[T proto.Message] struct {
	name   string
	parsed ssotws.ChannelName
	ws     *WebSocket[T]
	disp   *dispatcher
	ctx    context.Context // ends with close
	stop   context.CancelFunc

	mu           sync.Mutex
	phase        phase
	watch        chan struct{} // closed and replaced at each phase change
	err          error
	listeners    map[uint64]func(Change[T])
	nextListener uint64
	entries      map[string]*entry[T]
	seq          int64
	pos          *wsv1.Position // last position applied
	subPos       *wsv1.Position // position of the current Ack or Reset
	hydrated     bool           // a snapshot was installed once
	complete     bool
	buffer       []*wsv1.Event
	verifyUntil  time.Time // see applyEventLocked
	gen          uint64
	cancelFetch  context.CancelFunc
}

var _ channelHandler = (*channelCache[proto.Message])(nil)

func newChannelCache[T proto.Message](ws *WebSocket[T], name string, parsed ssotws.ChannelName) *channelCache[T] {
	c := &channelCache[T]{
		name:      name,
		parsed:    parsed,
		ws:        ws,
		disp:      ws.conn.disp,
		watch:     make(chan struct{}),
		listeners: make(map[uint64]func(Change[T])),
		entries:   make(map[string]*entry[T]),
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	return c
}

func (c *channelCache[T]) setPhaseLocked(p phase) {
	c.phase = p
	close(c.watch)
	c.watch = make(chan struct{})
}

func (c *channelCache[T]) addListener(fn func(Change[T])) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextListener++
	c.listeners[c.nextListener] = fn
	return c.nextListener
}

func (c *channelCache[T]) removeListener(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.listeners, id)
}

// notifyLocked posts changes to the listeners registered now; a listener
// removed before its turn is skipped.
func (c *channelCache[T]) notifyLocked(changes []Change[T]) {
	if len(changes) == 0 || len(c.listeners) == 0 {
		return
	}
	ids := make([]uint64, 0, len(c.listeners))
	for id := range c.listeners {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	c.disp.post(func() {
		for _, ch := range changes {
			for _, id := range ids {
				c.mu.Lock()
				fn := c.listeners[id]
				c.mu.Unlock()
				if fn != nil {
					fn(ch)
				}
			}
		}
	})
}

// since implements channelHandler.
func (c *channelCache[T]) since() *wsv1.Position {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase == phaseResuming && c.pos != nil {
		return proto.Clone(c.pos).(*wsv1.Position)
	}
	return nil
}

// acked implements channelHandler.
func (c *channelCache[T]) acked(pos *wsv1.Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.subPos = pos
	switch c.phase {
	case phaseSubscribing:
		c.startFetchLocked()
	case phaseResuming:
		if c.pos == nil || pos.GetEpoch() != c.pos.GetEpoch() {
			// The server's history is another epoch: it cannot replay
			// (it should say Reset); refetch.
			c.startFetchLocked()
			return
		}
		// The server replays the missed events before the Ack, whose
		// position is where the live events start: the cache is caught up.
		if pos.GetOffset() > c.pos.GetOffset() {
			c.pos = pos
		}
		c.setPhaseLocked(phaseLive)
	}
}

// reset implements channelHandler: the server cannot replay from our
// position; the subscription is active from pos on. Refetch.
func (c *channelCache[T]) reset(pos *wsv1.Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase == phaseClosed || c.phase == phaseFailed {
		return
	}
	c.subPos = pos
	c.buffer = nil
	c.startFetchLocked()
}

// failed implements channelHandler.
func (c *channelCache[T]) failed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase == phaseClosed {
		return
	}
	c.stopFetchLocked()
	c.err = err
	c.buffer = nil
	c.setPhaseLocked(phaseFailed)
}

// disconnected implements channelHandler.
func (c *channelCache[T]) disconnected(resume bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.phase == phaseClosed:
	case resume && (c.phase == phaseLive || c.phase == phaseResuming):
		if c.phase != phaseResuming {
			c.setPhaseLocked(phaseResuming)
		}
	default:
		// Without a snapshot there is no position to resume from; and
		// when resuming would replay what dropped the link, the position
		// is given up. Start over on the next connection: its Ack
		// refetches, as after a Reset.
		c.stopFetchLocked()
		c.buffer = nil
		c.err = nil
		c.setPhaseLocked(phaseSubscribing)
	}
}

// close implements channelHandler.
func (c *channelCache[T]) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopFetchLocked()
	c.stop()
	c.buffer = nil
	c.listeners = map[uint64]func(Change[T]){}
	if c.phase != phaseClosed {
		c.setPhaseLocked(phaseClosed)
	}
}

// events implements channelHandler.
func (c *channelCache[T]) events(evs []*wsv1.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var changes []Change[T]
	for i, ev := range evs {
		switch c.phase {
		case phaseSubscribing, phaseFetching:
			c.buffer = append(c.buffer, ev)
		case phaseResuming, phaseLive:
			if ev.GetPosition().GetEpoch() != c.pos.GetEpoch() {
				// The channel's history changed epoch under a live
				// subscription: what happened in between is unknown.
				c.subPos = &wsv1.Position{Epoch: ev.GetPosition().GetEpoch()}
				c.startFetchLocked()
				c.buffer = append(c.buffer, evs[i:]...)
				c.notifyLocked(changes)
				return
			}
			if ev.GetPosition().GetOffset() <= c.pos.GetOffset() {
				continue // replayed twice
			}
			if ch, ok := c.applyEventLocked(ev); ok {
				changes = append(changes, ch)
			}
			c.pos = ev.GetPosition()
		}
	}
	c.notifyLocked(changes)
}

func (c *channelCache[T]) stopFetchLocked() {
	c.gen++
	if c.cancelFetch != nil {
		c.cancelFetch()
		c.cancelFetch = nil
	}
}

// startFetchLocked starts fetching the snapshot; events are buffered
// meanwhile.
func (c *channelCache[T]) startFetchLocked() {
	c.stopFetchLocked()
	ctx, cancel := context.WithCancel(c.ctx)
	c.cancelFetch = cancel
	if c.phase != phaseFetching {
		c.setPhaseLocked(phaseFetching)
	}
	go c.fetchLoop(ctx, c.gen)
}

func (c *channelCache[T]) fetchLoop(ctx context.Context, gen uint64) {
	for attempt := 0; ; attempt++ {
		snap, err := c.ws.fetch(ctx, c.name, c.parsed)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			if c.install(gen, snap) {
				return
			}
		} else {
			c.ws.opts.logger.Debug("ssotws/client: snapshot fetch failed", "channel", c.name, "err", err)
		}
		if sleep(ctx, c.ws.opts.backoff.Delay(attempt)) != nil {
			return
		}
	}
}

// install puts the snapshot in the cache and applies the buffered events
// past its position. It reports false when the snapshot belongs to another
// epoch than the subscription: the caller fetches again.
func (c *channelCache[T]) install(gen uint64, snap snapshot[T]) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.phase != phaseFetching {
		return true // superseded
	}
	pos := snap.pos
	if pos == nil {
		// No position header: the subscription's position is a safe lower
		// bound, as the fetch started after it and versions make the
		// overlap harmless.
		pos = c.subPos
	} else if pos.GetEpoch() != c.subPos.GetEpoch() {
		return false
	}
	changes := c.replaceLocked(snap.items, c.hydrated)
	c.hydrated = true
	c.complete = snap.complete
	c.pos = pos
	// The window opens before the buffered events are applied: a late
	// event of a record deleted before the snapshot was read is most
	// likely among them.
	c.verifyUntil = time.Now().Add(verifyWindow)
	for _, ev := range c.buffer {
		if ev.GetPosition().GetEpoch() != pos.GetEpoch() || ev.GetPosition().GetOffset() <= c.pos.GetOffset() {
			continue
		}
		if ch, ok := c.applyEventLocked(ev); ok {
			changes = append(changes, ch)
		}
		c.pos = ev.GetPosition()
	}
	c.buffer = nil
	c.cancelFetch()
	c.cancelFetch = nil
	c.setPhaseLocked(phaseLive)
	c.notifyLocked(changes)
	return true
}

// replaceLocked replaces the cache with a snapshot. Records that are gone
// become tombstones at their last version; with notify, the differences
// are returned as changes.
func (c *channelCache[T]) replaceLocked(items []T, notify bool) []Change[T] {
	var changes []Change[T]
	old := c.entries
	c.entries = make(map[string]*entry[T], len(items))
	m := c.ws.model
	for _, item := range items {
		pm := item.ProtoReflect()
		key := m.KeyOf(pm)
		v := versionOf(m, pm)
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

// applyEventLocked applies one event with the version rule.
func (c *channelCache[T]) applyEventLocked(ev *wsv1.Event) (Change[T], bool) {
	key := ev.GetKey()
	if e := c.entries[key]; e != nil && ev.GetVersion() <= e.version {
		return Change[T]{}, false
	}
	val := c.ws.newT()
	if err := proto.Unmarshal(ev.GetData(), val); err != nil {
		c.ws.opts.logger.Warn("ssotws/client: undecodable event", "channel", c.name, "key", key, "err", err)
		return Change[T]{}, false
	}
	deleted := ev.GetType() == wsv1.EventType_EVENT_TYPE_DELETED || !c.member(key, val)
	if e := c.entries[key]; !deleted && (e == nil || e.deleted) && time.Now().Before(c.verifyUntil) {
		// A record the snapshot did not hold comes to life just after it.
		// It may be new, or a late event of a record deleted before the
		// snapshot was read (mutations publish after they commit, so two
		// writers' events can reach a channel out of version order):
		// check it with a Get.
		go c.verify(c.gen, key)
	}
	return c.setLocked(key, ev.GetVersion(), val, deleted, ev.GetRequestId())
}

// verifyWindow is how long after a snapshot a record that comes to life in
// the channel is checked over HTTP. Late events of mutations that committed
// before the snapshot was read arrive within it.
const verifyWindow = 2 * time.Second

// verify reads a record over HTTP and corrects the cache when an event made
// it live but it is gone (a tombstone at the version the cache holds) or
// newer. It never fights this client's own writes, nor an event that
// changed the record while the Get was in flight:
//
//   - A local mutation of the record in flight during the Get (see
//     localWrites) may have changed what the Get saw, and its response is
//     not applied yet: the Get's answer is set aside until the mutation
//     ends. If it succeeded, its response (and its event) is authoritative
//     and the answer is dropped; if every such mutation failed, none
//     changed the record, and the record is read again.
//   - A record found carries its version: the version rule orders it
//     against whatever the cache holds now.
//   - "Not found" carries none, so it is applied as a compare-and-set: only
//     when the cache still holds what it held when the Get was sent (every
//     write the cache knew of then committed before the Get read the
//     store, so the record's deletion is newer). When an event changed the
//     record meanwhile, the record is read again.
//   - A Get that fails otherwise (the network, a restarting server) is
//     sent again after a backoff.
func (c *channelCache[T]) verify(gen uint64, key string) {
	lw := &c.ws.conn.local
	id := localID(c.ws.model.Name(), key)
	w := lw.watch(id)
	defer lw.unwatch(id, w)
	failures := 0
	for {
		c.mu.Lock()
		e := c.entries[key]
		if gen != c.gen || (c.phase != phaseLive && c.phase != phaseResuming) || e == nil {
			c.mu.Unlock()
			return
		}
		heldVersion, heldDeleted := e.version, e.deleted
		lw.arm(id, w)
		c.mu.Unlock()

		item, _, err := c.ws.api.Get(c.ctx, key, nil)
		gone := connect.CodeOf(err) == connect.CodeNotFound
		if err != nil && !gone {
			// A check that got no answer proves nothing (the record may
			// be a ghost that no later event removes): read it again
			// after a backoff, as a snapshot fetch does, until the
			// subscription ends or a refetch supersedes the check.
			c.ws.opts.logger.Debug("ssotws/client: verify", "channel", c.name, "key", key, "err", err)
			if sleep(c.ctx, c.ws.opts.backoff.Delay(failures)) != nil {
				return
			}
			failures++
			continue
		}
		c.mu.Lock()
		if lw.overlapped(w) {
			// Checked under c.mu: a mutation that begins after this point
			// is sent after the Get was answered, and its response is
			// applied after this answer.
			c.mu.Unlock()
			if applied, err := lw.settle(c.ctx, id, w); err != nil || applied {
				return
			}
			continue
		}
		again := c.verifiedLocked(gen, key, item, gone, heldVersion, heldDeleted)
		c.mu.Unlock()
		if !again {
			return
		}
	}
}

// verifiedLocked applies a verify Get's answer (see verify); it reports
// whether the record must be read again.
func (c *channelCache[T]) verifiedLocked(gen uint64, key string, item T, gone bool, heldVersion int64, heldDeleted bool) bool {
	e := c.entries[key]
	if gen != c.gen || (c.phase != phaseLive && c.phase != phaseResuming) || e == nil {
		return false
	}
	var ch Change[T]
	var ok bool
	if gone {
		if e.deleted {
			return false
		}
		if e.version != heldVersion || e.deleted != heldDeleted {
			return true // an event changed it during the Get: look again
		}
		ch, ok = c.setLocked(key, e.version, e.value, true, "")
	} else {
		v := versionOf(c.ws.model, item.ProtoReflect())
		if v <= e.version {
			return false
		}
		ch, ok = c.setLocked(key, v, item, !c.member(key, item), "")
	}
	if ok {
		c.notifyLocked([]Change[T]{ch})
	}
	return false
}

// sendMark is what a channel's cache was when one of this client's
// mutations of a record was sent (see channelCache.mark): its reply is
// applied only to that hydration, and a delete's tombstone only while the
// record is as it was then.
type sendMark struct {
	gen     uint64 // the hydration generation (c.gen)
	held    bool   // the cache held the record (live or a tombstone)
	version int64  // its version then
	deleted bool   // a tombstone then
}

// mark records, right before a mutation of key is sent, what the cache is
// then. ok is false when the cache is not hydrated: the mutation's reply
// is not applied to it (the snapshot, or the mutation's event after it,
// brings the change).
func (c *channelCache[T]) mark(key string) (m sendMark, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != phaseLive && c.phase != phaseResuming {
		return sendMark{}, false
	}
	m.gen = c.gen
	if e := c.entries[key]; e != nil {
		m.held, m.version, m.deleted = true, e.version, e.deleted
	}
	return m, true
}

// applyLocal applies the result of this client's own mutation, with the
// version rule, to a channel that is hydrated. version 0 on a delete means
// "the version after the one cached when the delete was sent".
//
// m is what the cache was when the mutation was sent (mark). The result is
// applied only to that hydration: a snapshot fetched since (a refetch, a
// Reset, another epoch bump the generation) knows nothing of the record's
// past, so a reply older than it (a retried create's replayed reply, the
// record deleted since) would bring a deleted record back with no
// tombstone to stop it; the snapshot, or the mutation's event after it,
// carries the change instead. A delete's tombstone is set only while the
// cache holds the record at the version it held when the delete was sent:
// when an event changed it meanwhile (the delete's own DELETED event and
// another writer's re-create after it) the cache may hold a state newer
// than the deletion, and the events order it.
func (c *channelCache[T]) applyLocal(key string, version int64, val T, deleted bool, reqID string, m sendMark) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != phaseLive && c.phase != phaseResuming {
		return // the snapshot or the replay will bring it
	}
	if m.gen != c.gen {
		return // hydrated again since the mutation was sent
	}
	e := c.entries[key]
	if deleted {
		if e == nil || e.deleted || !m.held || m.deleted || e.version != m.version {
			return
		}
		if version == 0 {
			version = m.version + 1
		}
		val = e.value
	} else if version == 0 {
		return // no version field: events alone can order the change
	}
	if e != nil && version <= e.version {
		return
	}
	if !deleted && !c.member(key, val) {
		if e == nil || e.deleted {
			return
		}
		deleted = true
	}
	if ch, ok := c.setLocked(key, version, val, deleted, reqID); ok {
		c.notifyLocked([]Change[T]{ch})
	}
}

// setLocked stores a record's new state and returns the change it makes
// to the channel's content.
func (c *channelCache[T]) setLocked(key string, version int64, val T, deleted bool, reqID string) (Change[T], bool) {
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
func (c *channelCache[T]) member(key string, val T) bool {
	switch c.parsed.Kind {
	case ssotws.ChannelItem:
		return key == c.parsed.Key
	case ssotws.ChannelScope:
		return slices.Contains(c.ws.model.Channels(val.ProtoReflect()), c.name)
	}
	return true
}

// list returns the live records in channel order, and whether the cache
// can answer a List: live and complete.
func (c *channelCache[T]) list() ([]T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
func (c *channelCache[T]) get(key string) (T, bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
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

// state reports whether the channel is live, its failure, and a channel
// closed at the next phase change.
func (c *channelCache[T]) state() (live bool, err error, closed bool, watch <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.phase == phaseLive, c.err, c.phase == phaseClosed, c.watch
}

func (c *channelCache[T]) position() *wsv1.Position {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pos == nil {
		return nil
	}
	return proto.Clone(c.pos).(*wsv1.Position)
}

// versionOf reads a record's version field; 0 when the model has none.
func versionOf(m *ssotws.Model, pm protoreflect.Message) int64 {
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
