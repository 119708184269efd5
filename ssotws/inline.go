package ssotws

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Inline writes.
//
// When the fan-out queues an event for a connection that has nothing else
// queued, the connection's write loop would start, write that one event
// and end: a goroutine started, scheduled and ended per delivery, which at
// normal load (one event per message) cost as much as the framing. The
// fan-out writes such an event itself instead, once it has left the
// hub's lock: the event's prepared message (direct.go), in one
// non-blocking write(2). What the socket does not take at once, and every
// other case, goes to the write loop as before:
//
//   - the connection has more queued, or its write loop already runs;
//   - it is behind (its adaptive wait is on, gather.go), or
//     GatewayOptions.WriteDelay sets a fixed wait;
//   - a Policy (or the Filter hook) decides on each event (the write
//     loop asks it, so that a slow policy holds up its own connection
//     only), or the event has no prepared message (a delta, several
//     events of one batch);
//   - the connection was woken less than burstGap before: it is getting a
//     burst, and its write loop, while it writes, lets the next events
//     gather to go out together;
//   - the server is saturated (busyShare): write loops that start late
//     take several events per message, which is what keeps a saturated
//     server ahead; an inline write is always one event.
//
// Order holds: the fan-out takes the connection's write slot (the one a
// write loop would take, sendQueue.running) before it writes, so nothing
// else writes the connection's data meanwhile, and it hands the slot to a
// write loop when more was queued meanwhile. Nothing is lost: an event is
// removed from the queue only once the socket took it, or once the rest
// of its message is held to go out before any other byte
// (frameWriter.pending), which the write loop then sends.
//
// With more than one processor, the writes of a large fan-out are spread
// over up to GOMAXPROCS goroutines, inlineChunk connections at a time.

// A server whose processors were busier than busyShare of the time over
// the last busyWindow is saturated: its fan-outs then leave their writes
// to the write loops, which run late and pack several events per message.
// An inline write is always one event; at saturation, where a message
// costs several times what one more event in it does, writing inline
// would deliver a fraction of what packing write loops deliver. But write
// loops pack only when events arrive while they wait: a server that is
// busy with fan-outs of one event to many connections (each connection's
// events far apart) gains nothing from them and pays a goroutine per
// delivery. So the hub goes back to writing inline for retryWindows when
// its write loops took fewer than packMin events per take in a busy
// window.
const (
	busyWindow   = 100 * time.Millisecond
	busyShare    = 0.9
	packMin      = 1.5
	retryWindows = 10
)

// Pacing at saturation.
//
// Write loops that run late pack several events per message, but only as
// many as arrive while the processors are busy with the others: a server
// kept saturated by its fan-out packs just enough to keep up (about 3
// events per message with 1,000 subscribers at 600 events/s), and stays
// saturated. Everything else it does then waits for a processor: Go's
// scheduler reads the network only when it has nothing else to run (or
// every 10 ms), so a mutation's request waits behind the write loops, and
// its acknowledgement takes many times what it takes when idle, although
// Publish does not wait for the fan-out.
//
// So a saturated server paces its write loops: each waits before its take
// (gathering.gather), for a pace that starts at paceMin and doubles, up to
// maxPace, after every window in which the processors were saturated, or
// after two in a row busier than paceHigh (one alone may be a collection
// or a burst). It halves after a window less busy than paceLow, and it
// tries half paceProbe windows after its last change (the load may have
// fallen: a pace that holds the processors between paceLow and paceHigh
// cannot tell whether it is still needed); a probe that leaves them busier
// than paceHigh is undone at once. Packing more events per message frees
// the processors (at 1,000 subscribers and 600 events/s, 20 events per
// message cost half of what 3 cost), the scheduler finds them idle
// between the write loops' turns, and requests are read as they arrive.
// maxPace is that long because the cost is per message, so per
// connection: with 5,000 subscribers, a message per connection every
// 32 ms still takes a whole core.
//
// The pace starts only where write loops pack (packMin): a fan-out of
// events far apart on each connection gains nothing from it, and the
// clock drops it with the write loops. A connection's wait ends early
// when its queue holds a quarter of its bounds (sendQueue.hurry), so no
// pace overflows it. GatewayOptions.WriteDelay, when set, replaces the
// pacing as it replaces the adaptive wait.
const (
	paceMin  = 2 * time.Millisecond
	maxPace  = 128 * time.Millisecond
	paceHigh = 0.6
	paceLow  = 0.4
	// paceProbe is 1 s of windows.
	paceProbe = 10
)

// burstGap: a connection woken again this soon after its last wake is
// getting a burst (a busy channel, a publisher in a loop), and is left to
// its write loop.
const burstGap = time.Millisecond

// inlineChunk is how many connections a goroutine of a parallel inline
// fan-out writes at a time.
const inlineChunk = 64

// wakeList collects the connections a fan-out found idle, to write or
// start once the hub's lock is released.
type wakeList struct{ conns []*conn }

var wakeLists = sync.Pool{New: func() any { return new(wakeList) }}

// fanoutClock follows the process's use of its processors and how the
// write loops pack, to decide whether a fan-out writes inline.
type fanoutClock struct {
	epoch time.Time
	// cpu returns the CPU time the process has used: processCPU, or a
	// test's.
	cpu   func() (time.Duration, bool)
	loops atomic.Bool  // saturated: leave the writes to the write loops
	pace  atomic.Int64 // the write loops' wait at saturation (a Duration); 0 unless loops
	// burstGap is burstGap, or a test's (0: no connection gets bursts).
	burstGap time.Duration

	// What the write loops took in the current window.
	takes, taken atomic.Int64

	mu       sync.Mutex    // guards the window; held by one sampler at a time
	windowAt time.Duration // since epoch
	cpuAt    time.Duration // processCPU at windowAt
	backoff  int           // windows left before loops may be tried again
	held     int           // windows since the pace last changed
	over     int           // windows in a row busier than paceHigh
	probed   bool          // the last change of pace was a probe
}

// fanoutStart is what a fan-out needs to know when it writes inline.
type fanoutStart struct {
	inline   bool          // it may write inline
	now      time.Duration // when it began, since the clock's epoch
	burstGap time.Duration
}

// begin starts a fan-out.
func (k *fanoutClock) begin() fanoutStart {
	now := time.Since(k.epoch)
	k.sample(now)
	return fanoutStart{inline: !k.loops.Load(), now: now, burstGap: k.burstGap}
}

// took counts a write loop's take of n items.
func (k *fanoutClock) took(n int) {
	k.takes.Add(1)
	k.taken.Add(int64(n))
}

// sample closes the window when it is busyWindow old and decides, from
// the share of the processors' time the process used in it and from how
// the write loops packed, whether fan-outs write inline, and the write
// loops' pace.
func (k *fanoutClock) sample(now time.Duration) {
	if !k.mu.TryLock() {
		return
	}
	defer k.mu.Unlock()
	if k.windowAt != 0 && now-k.windowAt < busyWindow {
		return
	}
	cpu, ok := k.cpu()
	if !ok {
		return
	}
	takes, taken := k.takes.Swap(0), k.taken.Swap(0)
	if k.windowAt != 0 {
		share := float64(cpu-k.cpuAt) / float64(now-k.windowAt) / float64(runtime.GOMAXPROCS(0))
		packs := takes > 0 && float64(taken) >= packMin*float64(takes)
		loops, prev := k.loops.Load(), time.Duration(k.pace.Load())
		pace := prev
		probe := false // this window's change of pace is a probe
		switch {
		case pace == 0 && share <= busyShare:
			loops = false
		case loops && !packs:
			loops, pace = false, 0
			if share > busyShare {
				k.backoff = retryWindows
			}
		case share > busyShare && k.backoff > 1:
			k.backoff--
		case share > busyShare && pace == 0:
			k.backoff = 0
			if loops { // the loops pack: pace them
				pace = paceMin
			}
			loops = true
		case share > paceHigh:
			// Pack more: when saturated, or busier than it should be two
			// windows in a row (one may be a collection, or a burst), or
			// right after a probe.
			if k.over++; share > busyShare || k.over >= 2 || k.probed {
				pace = min(2*pace, maxPace)
			}
		case share < paceLow, k.held >= paceProbe:
			// Less busy than it need be, or held long enough: is as
			// much packing still needed?
			probe = share >= paceLow
			if pace /= 2; pace < paceMin {
				loops, pace = false, 0
			}
		}
		if share <= paceHigh {
			k.over = 0
		}
		if pace != prev {
			k.held, k.over, k.probed = 0, 0, probe
		} else {
			k.held, k.probed = k.held+1, false
		}
		k.loops.Store(loops)
		k.pace.Store(int64(pace))
	}
	k.windowAt, k.cpuAt = now, cpu
}

// paced returns the write loops' wait before a take: 0 unless the server
// is saturated.
func (k *fanoutClock) paced() time.Duration { return time.Duration(k.pace.Load()) }

// run writes (inline) or starts the write loops of the listed connections,
// then empties the list.
func (wl *wakeList) run(f fanoutStart) {
	conns := wl.conns
	defer func() {
		clear(conns)
		wl.conns = conns[:0]
	}()
	if !f.inline {
		for _, c := range conns {
			c.lastWake = f.now
			c.q.start()
		}
		return
	}
	workers := 1
	if len(conns) > inlineChunk { // GOMAXPROCS takes the scheduler's lock
		workers = min(runtime.GOMAXPROCS(0), (len(conns)+inlineChunk-1)/inlineChunk)
	}
	if workers <= 1 {
		for _, c := range conns {
			c.writeInline(f)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(inlineChunk)) - inlineChunk
			if i >= len(conns) {
				return
			}
			for _, c := range conns[i:min(i+inlineChunk, len(conns))] {
				c.writeInline(f)
			}
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// writeInline is the first turn of c's write loop, taken by the fan-out
// f: it holds c's write slot (sendQueue.running). It writes the one event
// queued, when it can, without waiting for the socket, and then parks the
// queue, or starts the write loop for what is left.
func (c *conn) writeInline(f fanoutStart) {
	burst := f.now-c.lastWake < f.burstGap
	c.lastWake = f.now
	if burst || !c.direct.direct() || c.g.policy != nil || c.g.opts.WriteDelay > 0 || c.gathering.wait > 0 || c.isClosing.Load() {
		c.q.start()
		return
	}
	it, ok := c.q.peekOne()
	if !ok || it.ev == nil || it.ev.msg == nil || it.forced {
		c.q.start()
		return
	}
	handoff := false
	if r := it.sub.passes(it.ev); r != dropNone {
		c.g.tel.dropped(r, 1)
	} else {
		switch c.direct.tryWrite(it.ev.msg) {
		case tryRefused:
			c.q.start() // the write loop writes it
			return
		case tryFailed:
			handoff = true // the write loop finds the failure and closes
		case tryPending:
			handoff = true // the write loop sends the rest
			fallthrough
		default:
			c.g.tel.depth(1)
			c.g.tel.delivered(1)
			run := [1]queueItem{it}
			c.recordWritten(run[:])
		}
	}
	if c.q.doneFirst(it, handoff) {
		c.q.start()
	}
}

// peekOne returns the one item queued, leaving it queued; false when
// there is not exactly one.
func (q *sendQueue) peekOne() (queueItem, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) != 1 || q.closed {
		return queueItem{}, false
	}
	return q.items[0], true
}

// doneFirst removes it, the first item, which peekOne returned and the
// caller wrote, and parks the consumer unless more was queued meanwhile
// or keep is set. It reports whether the consumer must be started (it
// keeps the write slot).
func (q *sendQueue) doneFirst(it queueItem, keep bool) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return true // the write loop closes the connection
	}
	// Unless a push coalesced it away meanwhile (queue.go).
	if n := len(q.items); n > 0 && q.items[0].ev == it.ev && q.items[0].sub == it.sub && !q.items[0].forced {
		q.bytes -= q.items[0].size()
		copy(q.items, q.items[1:])
		q.items[n-1] = queueItem{}
		q.items = q.items[:n-1]
	}
	if keep || len(q.items) > 0 {
		return true
	}
	q.running = false
	clear(q.spare)
	q.spare = q.release(q.spare)
	q.items = q.release(q.items)
	return false
}
