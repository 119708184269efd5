package ssotws

import (
	"sync"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// queueItem is one thing waiting to be written to a connection: an event of
// a subscription, or a pre-encoded control frame (Ack, Error, Reset, Pong).
type queueItem struct {
	sub   *subscription // the event's subscription; nil for a control frame
	ev    *sharedEvent
	frame []byte // an encoded ServerFrame
	// forced items were pushed past the bound; they do not count against
	// it and are never coalesced.
	forced bool
	// full: the event goes out whole even to a subscription that asked
	// for deltas, as coalescing dropped an older update of its record.
	full bool
}

// sendQueue is a connection's bounded send queue. Producers (the fan-out and
// the read loop) push; the write loop takes everything at once. When the
// queue is full, queued UPDATED events of a record are coalesced into the
// newest one of the same subscription; CREATED and DELETED events and
// control frames are never dropped. When that does not make room, push
// reports an overflow and the connection is closed as too slow.
//
// The queue starts its consumer on demand: the first push into an idle
// queue (and close) calls start, once, and the consumer runs until
// takeOrPark finds the queue empty. An idle connection therefore holds no
// write goroutine, and pushes into a busy queue wake nobody.
//
// It is safe for concurrent use.
type sendQueue struct {
	max int
	// maxBytes bounds the bytes of the unforced items queued (an event
	// counts its whole encoding, even where it is shared with other
	// connections); 0: no byte bound.
	maxBytes int
	start    func()     // starts the consumer; nil: nobody consumes (tests)
	tel      *telemetry // counts coalesced and dropped events; nil: none

	// mu guards the fields below and the delivery state of every
	// subscription of the connection ([delivery]), so that a delivery
	// takes one lock. Producers (the hub's fan-out on the broker's
	// listener, the read loop) hold it to push; the write loop holds it to
	// take everything queued, or to park.
	mu      sync.Mutex
	items   []queueItem
	spare   []queueItem // the slice handed out last time, reused
	forced  int         // forced items in items
	bytes   int         // bytes of the unforced items in items (queueItem.size)
	closed  bool
	running bool // the consumer runs (or was started)
	// hurry, while the consumer waits for events to gather, is signalled
	// (once) when the queue holds a quarter of its bounds, or closes.
	hurry chan<- struct{}
	// boxes are empty itemBufs this queue got buffers in, kept to hand
	// its buffers back in when it parks (itemBufs).
	boxes [2]*itemBuf
}

// itemBufs keeps the large item buffers of parked queues for the next
// queue that grows: under load a write loop parks after nearly every
// write, and its queue would otherwise grow new buffers each time, while
// an idle connection still keeps none.
var itemBufs sync.Pool // of *itemBuf

// itemBuf boxes a buffer for itemBufs (a pointer: putting a bare slice
// into a Pool allocates).
type itemBuf struct{ s []queueItem }

// grow makes room for one more item, in a pooled buffer when there is one:
// for a queue that outgrew its idle size, or that gave its buffer back
// when it parked (a queue that keeps up never has to grow). q.mu must be
// held.
func (q *sendQueue) grow() {
	b, _ := itemBufs.Get().(*itemBuf)
	if b == nil {
		return // append grows it
	}
	if cap(b.s) <= len(q.items) {
		itemBufs.Put(b) // too small: leave it to a smaller queue
		return
	}
	old := q.items
	q.items = append(b.s[:0], old...)
	if cap(old) > idleQueueCap {
		// Outgrown: hand it back in the same box.
		clear(old)
		b.s = old[:0]
		itemBufs.Put(b)
		return
	}
	b.s = nil
	for i, box := range q.boxes {
		if box == nil {
			q.boxes[i] = b
			return
		}
	}
}

// release hands s, when it is large, back to itemBufs and returns what the
// parked queue keeps of it. s holds no items (they were cleared). q.mu
// must be held.
func (q *sendQueue) release(s []queueItem) []queueItem {
	if cap(s) <= idleQueueCap {
		return s
	}
	var b *itemBuf
	for i, box := range q.boxes {
		if box != nil {
			b, q.boxes[i] = box, nil
			break
		}
	}
	if b == nil {
		b = new(itemBuf)
	}
	b.s = s[:0]
	itemBufs.Put(b)
	return nil
}

// idleQueueCap is the largest buffer a parked queue keeps.
const idleQueueCap = 8

func newSendQueue(max int) *sendQueue {
	return &sendQueue{max: max}
}

// push appends it. force skips the bound (for a subscription's replay,
// which the connection's replay budget bounds, and its Ack): forced items
// do not count against it. It reports false when the
// queue overflowed; the caller must then close the connection. Pushing to
// a closed queue does nothing and reports true.
func (q *sendQueue) push(it queueItem, force bool) bool {
	q.mu.Lock()
	ok, start := q.pushLocked(it, force)
	q.mu.Unlock()
	if start {
		q.start()
	}
	return ok
}

// pushLocked is push with q.mu held. start reports that the caller must
// call q.start after unlocking.
func (q *sendQueue) pushLocked(it queueItem, force bool) (ok, start bool) {
	if q.closed {
		return true, false
	}
	it.forced = force
	if len(q.items) == cap(q.items) && (len(q.items) >= idleQueueCap || q.items == nil) {
		q.grow()
	}
	q.items = append(q.items, it)
	if force {
		q.forced++
	} else {
		n := it.size()
		q.bytes += n
		if q.over(n) {
			q.coalesce()
			if q.over(n) {
				q.tel.dropped(dropOverflow, len(q.items))
				q.closed = true
				q.items = nil
				if q.hurry != nil {
					q.signalHurry()
				}
				return false, q.wakeLocked()
			}
		}
	}
	if q.hurry != nil && q.quarterFull() {
		q.signalHurry()
	}
	return true, q.wakeLocked()
}

// quarterFull reports whether the unforced items reach a quarter of the
// queue's bounds. q.mu must be held.
func (q *sendQueue) quarterFull() bool {
	return len(q.items)-q.forced >= q.max/4 || (q.maxBytes > 0 && q.bytes >= q.maxBytes/4)
}

// signalHurry ends the consumer's wait. q.mu must be held.
func (q *sendQueue) signalHurry() {
	select {
	case q.hurry <- struct{}{}:
	default:
	}
	q.hurry = nil
}

// armHurry has ch signalled when the queue fills to a quarter of its
// bounds or closes, for a consumer about to wait; false (and nothing
// armed) when it already has.
func (q *sendQueue) armHurry(ch chan<- struct{}) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.quarterFull() {
		return false
	}
	q.hurry = ch
	return true
}

// disarmHurry ends armHurry's watch, once the wait is over, and drains
// ch of a signal the wait did not take.
func (q *sendQueue) disarmHurry(ch chan struct{}) {
	q.mu.Lock()
	q.hurry = nil
	q.mu.Unlock()
	select {
	case <-ch:
	default:
	}
}

// over reports whether the unforced items exceed the queue's bounds: more
// than max items, or maxBytes reached before the item of size last, just
// pushed, came (so that an event larger than the byte bound still goes,
// alone). q.mu must be held.
func (q *sendQueue) over(last int) bool {
	return len(q.items)-q.forced > q.max || (q.maxBytes > 0 && q.bytes-last >= q.maxBytes)
}

// size is what it counts against the queue's byte bound.
func (it *queueItem) size() int {
	if it.ev != nil {
		return len(it.ev.chunk)
	}
	return len(it.frame)
}

// wakeLocked marks the consumer running and reports whether it must be
// started. q.mu must be held.
func (q *sendQueue) wakeLocked() bool {
	if q.running || q.start == nil {
		return false
	}
	q.running = true
	return true
}

// delivery is where a subscription stands in its connection's send queue:
// its replay is queued ahead of the live events that arrive meanwhile, and
// an event is queued once, in offset order. sendQueue.mu guards it.
type delivery struct {
	pending  bool           // replay not queued yet: live events wait in buf
	buf      []*sharedEvent // live events that arrived while pending
	overflow bool           // buf outgrew the send queue's bound
	last     uint64         // offset of the last event queued
}

// pushLive queues a live event of s: held back while s's replay is
// pending, dropped when an event at or after its offset was queued. It
// reports false when the queue overflowed; the caller must then close the
// connection.
func (q *sendQueue) pushLive(s *subscription, e *sharedEvent) bool {
	one := [1]*sharedEvent{e}
	ok, start := q.pushLiveAll(s, one[:]) // fanout_batch.go
	if start {
		q.start()
	}
	return ok
}

// pushEventLocked pushes e of s unless an event at or after its offset was
// queued. q.mu must be held; start reports that the caller must call
// q.start after unlocking.
func (q *sendQueue) pushEventLocked(s *subscription, e *sharedEvent, force bool) (ok, start bool) {
	off := e.ev.GetPosition().GetOffset()
	if off <= s.last {
		return true, false
	}
	s.last = off
	return q.pushLocked(queueItem{sub: s, ev: e}, force)
}

// replayFits reports whether a replay of n events fits in what is left of
// budget, the connection's replay budget, which the forced items queued
// spend.
func (q *sendQueue) replayFits(n, budget int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.forced+n <= budget
}

// goLive queues, in one critical section, s's replay and frame (its Ack or
// Reset) past the bound, then the live events held back meanwhile, and
// ends s's pending state: from here on pushLive queues s's events at once.
// offset is the position the replay reaches. It reports false when the
// queue overflowed, or held-back events did; the caller must then close
// the connection.
func (q *sendQueue) goLive(s *subscription, replay []*sharedEvent, frame []byte, offset uint64) bool {
	q.mu.Lock()
	ok, start := true, false
	note := func(o, st bool) {
		ok = ok && o
		start = start || st
	}
	for _, e := range replay {
		note(q.pushEventLocked(s, e, true))
	}
	s.last = offset
	note(q.pushLocked(queueItem{frame: frame}, true))
	for _, e := range s.buf {
		note(q.pushEventLocked(s, e, false))
	}
	s.pending, s.buf = false, nil
	if s.overflow {
		ok = false
	}
	q.mu.Unlock()
	if start {
		q.start()
	}
	return ok
}

type recordKey struct {
	sub *subscription
	key string
}

// coalesce drops every queued UPDATED event that a newer UPDATED or DELETED
// event of the same record, on the same subscription, supersedes.
// "Newer" compares record versions, not queue order: the newest version
// wins even if its event was published first. q.mu must be held.
func (q *sendQueue) coalesce() {
	latest := make(map[recordKey]int64)
	for _, it := range q.items {
		if it.ev == nil {
			continue
		}
		switch it.ev.ev.Type {
		case wsv1.EventType_EVENT_TYPE_UPDATED, wsv1.EventType_EVENT_TYPE_DELETED:
			k := recordKey{it.sub, it.ev.ev.Key}
			if v, ok := latest[k]; !ok || it.ev.ev.Version > v {
				latest[k] = it.ev.ev.Version
			}
		}
	}
	kept := q.items[:0]
	var dropped map[recordKey]bool
	for _, it := range q.items {
		if it.ev != nil && !it.forced && it.ev.ev.Type == wsv1.EventType_EVENT_TYPE_UPDATED &&
			it.ev.ev.Version < latest[recordKey{it.sub, it.ev.ev.Key}] {
			if dropped == nil {
				dropped = make(map[recordKey]bool)
			}
			dropped[recordKey{it.sub, it.ev.ev.Key}] = true
			continue
		}
		kept = append(kept, it)
	}
	markFull(kept, dropped)
	q.bytes = 0
	for i := range kept {
		if !kept[i].forced {
			q.bytes += kept[i].size()
		}
	}
	clear(q.items[len(kept):])
	q.tel.coalescedN(len(q.items) - len(kept))
	q.items = kept
}

// take returns everything queued, oldest first, and empties the queue. The
// returned slice is valid until the next call to take.
func (q *sendQueue) take() []queueItem {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.takeLocked()
}

func (q *sendQueue) takeLocked() []queueItem {
	out := q.items
	q.forced, q.bytes = 0, 0
	clear(q.spare)
	q.items = q.spare[:0]
	q.spare = out
	return out
}

// takeOrPark is take for the consumer: with nothing queued and the queue
// open it calls onPark (under the lock: the consumer still owns its
// state), marks the consumer stopped and reports false; the next push
// starts a new one. A closed queue never parks its consumer (it has to
// close the connection), so after close no consumer is started again.
func (q *sendQueue) takeOrPark(onPark func()) ([]queueItem, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 && !q.closed {
		if onPark != nil {
			onPark()
		}
		q.running = false
		// An idle connection keeps no more than small buffers.
		clear(q.spare)
		q.spare = q.release(q.spare)
		q.items = q.release(q.items)
		return nil, false
	}
	return q.takeLocked(), true
}

// len returns the number of queued items, forced ones included.
func (q *sendQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// close drops what is queued; later pushes do nothing. It starts the
// consumer if none runs, so that it closes the connection.
func (q *sendQueue) close() {
	q.mu.Lock()
	if q.hurry != nil {
		q.signalHurry()
	}
	q.closed = true
	q.items = nil
	q.spare = nil
	start := q.wakeLocked()
	q.mu.Unlock()
	if start {
		q.start()
	}
}
