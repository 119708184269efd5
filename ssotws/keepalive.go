package ssotws

import (
	"context"
	"time"
)

// keepAliveSlots spreads keep-alive pings over the interval: each tick
// (KeepAlive / keepAliveSlots) pings one slot of the connections, so that
// thousands of pings (and their goroutines) are not in flight at once.
const keepAliveSlots = 8

// keepAlive pings every connection once per KeepAlive interval, from one
// ticker for the whole gateway (instead of a timer per connection). It
// ends with the last connection, or at shutdown; the next connection
// starts it again.
func (g *Gateway) keepAlive() {
	t := time.NewTicker(max(g.opts.KeepAlive/keepAliveSlots, time.Millisecond))
	defer t.Stop()
	var conns []*conn
	for slot := uint32(0); ; slot = (slot + 1) % keepAliveSlots {
		select {
		case <-g.stopPing:
			g.mu.Lock()
			g.pinging = false
			g.mu.Unlock()
			return
		case <-t.C:
		}
		g.mu.Lock()
		if len(g.conns) == 0 || g.closing {
			g.pinging = false
			g.mu.Unlock()
			return
		}
		for c := range g.conns {
			if c.pingSlot == slot {
				conns = append(conns, c)
			}
		}
		g.mu.Unlock()
		for _, c := range conns {
			c.ping()
		}
		clear(conns)
		conns = conns[:0]
	}
}

// ping sends a keepalive ping unless one is in flight; a peer that does not
// answer within the keepalive interval is disconnected. The gateway's
// keep-alive ticker calls it.
func (c *conn) ping() {
	if !c.pinging.CompareAndSwap(false, true) {
		return
	}
	// Count the ping under closeMu while the connection is open: serve
	// waits for c.pings only after closing is set.
	c.closeMu.Lock()
	if c.closing {
		c.closeMu.Unlock()
		c.pinging.Store(false)
		return
	}
	c.pings.Add(1)
	c.closeMu.Unlock()
	go func() {
		defer c.pings.Done()
		defer c.pinging.Store(false)
		ctx, cancel := context.WithTimeout(c.ctx, c.g.opts.KeepAlive)
		defer cancel()
		if err := c.ws.Ping(ctx); err != nil {
			c.closeWith(0, "no pong to the keep-alive ping")
		}
	}()
}
