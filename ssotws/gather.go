package ssotws

import "time"

// Adaptive coalescing.
//
// A WebSocket message costs the server about the same whether it carries
// one event or ten (a write(2), the library's framing and its locks), so a
// connection that is behind should write several events per message. Its
// write loop reads that from its own takes: a take that finds more than one
// item means events arrived faster than the loop wrote them. After
// gatherAfter such takes in a row, the loop sleeps before each take,
// minGather first, twice as long after each further backlogged take, up to
// maxGather, so that the events of that time go out in one message. A take
// that finds a single item ends the wait at once: a connection that keeps
// up never waits, and at normal load (one event per connection at a time)
// nothing changes. The state lasts across the write loop's runs (the loop
// ends whenever the queue is empty), since under load every run ends so;
// but a connection that stayed idle for longer than maxGather since its
// last take is not behind, and does not wait.
//
// Bounded: the wait never exceeds maxGather, and a take of a quarter of the
// send queue or more ends it too, so that waiting cannot push a flooded
// connection over its queue's bound. GatewayOptions.WriteDelay, when set,
// replaces it with a fixed wait; a negative WriteDelay turns it off.
const (
	gatherAfter = 2
	minGather   = time.Millisecond
	maxGather   = 16 * time.Millisecond
)

// gathering is a connection's adaptive wait before a take. Only the
// running write loop touches it.
type gathering struct {
	behind int           // takes in a row that found a backlog (capped)
	wait   time.Duration // sleep before the next take
	last   time.Time     // of the last take, while wait > 0
	// timer sleeps the wait: the connection's own while it is behind
	// (time.Sleep would allocate one for each write loop, a goroutine
	// that lives for a few writes); dropped when the wait ends.
	timer *time.Timer
}

// took adapts the wait to a take of n items from a queue bounded at max.
func (g *gathering) took(n, max int) {
	if n <= 1 || n >= max/4 {
		g.reset()
		return
	}
	g.behind = min(g.behind+1, 32)
	if g.behind >= gatherAfter {
		g.wait = min(minGather<<(g.behind-gatherAfter), maxGather)
		g.last = time.Now()
	}
}

// gather sleeps as took decided, unless the connection was idle since.
func (g *gathering) gather() {
	if g.wait == 0 {
		return
	}
	if time.Since(g.last) > maxGather {
		g.reset()
		return
	}
	if g.timer == nil {
		g.timer = time.NewTimer(g.wait)
	} else {
		g.timer.Reset(g.wait)
	}
	<-g.timer.C
}

// reset ends the wait.
func (g *gathering) reset() {
	g.behind, g.wait, g.timer = 0, 0, nil
}
