package ssotws

import "time"

// Adaptive coalescing.
//
// A WebSocket message costs the server several times what one more event
// in it costs (a write(2), the library's framing and its locks), so when
// the server is behind, its connections should write several events per
// message. A write loop reads that from its own takes: a take is behind
// when it finds more than one item and its oldest event waited, since the
// fan-out queued it, more than gatherLag beyond the wait the loop itself
// chose (the processors are busy: write loops run late). After
// gatherAfter such takes in a row, the loop waits before its next take for
// about gatherTarget events to arrive at the rate the last take saw (its
// items over the time since the take before), at most maxGather. A take
// that is not behind (a single item, or on time) ends the wait at once: a
// server that keeps up never waits, so at normal load nothing changes,
// and the wait cannot feed itself (the events that gathered during a wait
// are not late because of it). A burst (many events at once, then quiet)
// makes a high rate and so a short wait.
//
// The state lasts across the write loop's runs (the loop ends whenever the
// queue is empty), since under load nearly every run ends so; but a
// connection that stayed idle for longer than maxGather since its last
// take is not behind, and does not wait.
//
// Bounded: the wait never exceeds maxGather, and a take of a quarter of the
// send queue or more ends it, so that waiting cannot push a flooded
// connection over its queue's bound. GatewayOptions.WriteDelay, when set,
// replaces it with a fixed wait; a negative WriteDelay turns it off.
const (
	gatherAfter  = 3
	gatherOnTime = 4
	gatherLag    = 3 * time.Millisecond
	gatherTarget = 10
	maxGather    = 16 * time.Millisecond
)

// gathering is a connection's adaptive wait before a take. Only the
// running write loop touches it.
type gathering struct {
	behind int           // takes in a row that were behind (capped)
	onTime int           // takes in a row that were on time, while waiting
	wait   time.Duration // before the next take
	waited time.Duration // before the last take
	last   time.Time     // of the last take
	// timer sleeps the wait: the connection's own while it is behind or
	// paced (time.Sleep would allocate one for each write loop, a
	// goroutine that lives for a few writes); dropped when the waits end.
	timer *time.Timer
	// hurry ends the wait early: the send queue signals it when it holds
	// a quarter of its bounds (sendQueue.hurry). Made and dropped with
	// timer.
	hurry chan struct{}
}

// took adapts the wait to a take of items, at now, from a queue bounded
// at max.
func (g *gathering) took(items []queueItem, max int, now time.Time) {
	n := len(items)
	since := now.Sub(g.last)
	g.last = now
	waited := g.waited
	g.waited = 0
	if n <= 1 || n >= max/4 {
		g.reset()
		return
	}
	if since > g.wait+maxGather {
		g.behind, g.onTime = 0, 0 // after a quiet spell: behind again, not still
	}
	if now.Sub(oldest(items))-waited <= gatherLag {
		// On time: leaves the wait after gatherOnTime such takes.
		if g.onTime++; g.behind < gatherAfter || g.onTime >= gatherOnTime {
			g.reset()
			return
		}
	} else {
		g.onTime = 0
		g.behind = min(g.behind+1, gatherAfter)
		if g.behind < gatherAfter {
			g.wait = 0
			return
		}
	}
	// n items in since: gatherTarget of them take since*target/n.
	g.wait = min(since*gatherTarget/time.Duration(n), maxGather)
}

// oldest returns when the first live event of items was queued by the
// fan-out; now if there is none (replays and control frames only).
func oldest(items []queueItem) time.Time {
	for i := range items {
		if it := &items[i]; it.ev != nil && !it.forced && !it.ev.at.IsZero() {
			return it.ev.at
		}
	}
	return time.Now()
}

// gather waits as took decided, unless the connection was idle since, or
// for pace, the saturated server's wait (inline.go), when that is longer.
// A wait ends early when q holds a quarter of its bounds, so that waiting
// never pushes a connection over them.
func (g *gathering) gather(pace time.Duration, q *sendQueue) {
	wait := g.wait
	if wait > 0 && time.Since(g.last) > maxGather {
		g.reset()
		wait = 0
	}
	wait = max(wait, pace)
	if wait <= 0 {
		g.timer, g.hurry = nil, nil // a connection keeps them only while it waits
		return
	}
	if g.timer == nil {
		g.timer, g.hurry = time.NewTimer(wait), make(chan struct{}, 1)
	} else {
		g.timer.Reset(wait)
	}
	if !q.armHurry(g.hurry) {
		g.timer.Stop()
		return // full enough already
	}
	start := time.Now()
	select {
	case <-g.timer.C:
		g.waited = wait
	case <-g.hurry:
		g.timer.Stop()
		g.waited = time.Since(start)
	}
	q.disarmHurry(g.hurry)
}

// reset ends the wait. The timer stays for gather, which drops it when
// it has nothing to wait for.
func (g *gathering) reset() {
	g.behind, g.onTime, g.wait, g.waited = 0, 0, 0, 0
}
