package ssotws

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// writer is the state of a connection's write loop. At most one write
// loop runs at a time: the send queue starts one when a push finds it idle
// and takes it back when it parks (sendQueue.running, under q.mu), so the
// loop that runs owns these fields without a lock of its own.
type writer struct {
	// writerDone is closed by the write loop that ends the connection
	// (after the closing handshake, or after a failed write); none starts
	// after that one. serve waits for it.
	writerDone chan struct{}

	// writeTimer closes the connection when one write outlasts
	// WriteTimeout; the write loop arms it around each write. One timer
	// per connection, made on the first write, instead of a context and a
	// timer per write.
	writeTimer *time.Timer
	// gathering is the adaptive wait before a take (gather.go).
	gathering gathering
	// direct writes prepared messages to the socket (direct.go); set
	// before serve. nil, or without a socket: every message goes through
	// the WebSocket library.
	direct *frameWriter
	// lastWake is when a fan-out last woke the connection (since the
	// hub's fanoutClock epoch): a burst goes to the write loop (inline.go).
	lastWake time.Duration
}

// writeLoop writes what is queued until the queue is empty, then ends; the
// next push starts another. Once the connection is closing it closes the
// WebSocket and closes writerDone; no write loop starts after that.
//
// Before a take it lets events gather: adaptively while the connection
// is behind (gather.go) or the server is saturated (inline.go, "Pacing"),
// or for WriteDelay when that is set.
func (c *conn) writeLoop() {
	delay := c.g.opts.WriteDelay
	if c.direct.hasPending() {
		// The rest of a message the fan-out wrote (inline.go) goes first.
		c.armWrite()
		err := c.direct.flushPending()
		c.writeTimer.Stop()
		if err != nil {
			_ = c.ws.CloseNow()
			close(c.writerDone)
			return
		}
	}
	for {
		if delay > 0 {
			// Let more events gather: they go out in one message.
			time.Sleep(delay)
		} else if delay == 0 {
			c.gathering.gather(c.g.hub.clock.paced(), c.q) // gather.go, inline.go
		}
		if c.isClosing.Load() {
			c.finish(c.closeRequested())
			return
		}
		items, ok := c.q.takeOrPark(nil)
		if !ok {
			// Parked: from here on another write loop may run; touch
			// nothing of the connection.
			return // idle: the next push starts a new write loop
		}
		if len(items) == 0 {
			// The queue overflowed and closed; the pusher is about to
			// call closeWith.
			runtime.Gosched()
			continue
		}
		if delay == 0 {
			c.gathering.took(items, c.g.opts.Limits.SendQueue, time.Now())
		}
		c.g.tel.depth(len(items))
		c.g.hub.clock.took(len(items)) // inline.go
		if err := c.write(items); err != nil {
			if errors.Is(err, errClosing) {
				c.finish(c.closeRequested())
			} else {
				_ = c.ws.CloseNow()
				close(c.writerDone)
			}
			return
		}
	}
}

// finish closes the WebSocket: with the closing handshake (which waits a
// few seconds at most for the peer) or, for code 0, at once.
func (c *conn) finish(code websocket.StatusCode, reason string, _ bool) {
	defer close(c.writerDone)
	if c.writeTimer != nil {
		c.writeTimer.Stop()
	}
	if code == 0 {
		_ = c.ws.CloseNow()
		return
	}
	_ = c.ws.Close(code, reason)
}

// write sends items: each run of events as one Events frame (split at
// MaxBatchBytes), each control frame as its own message.
//
// It counts the events written and dropped, and records the commit-to-write
// latency of the live ones once their frame is written.
func (c *conn) write(items []queueItem) error {
	var written int
	var drops [numDropReasons]int
	defer func() {
		c.g.tel.delivered(written)
		for r := dropNone + 1; r < numDropReasons; r++ {
			c.g.tel.dropped(r, drops[r])
		}
	}()
	// Drop what the subscription may no longer see, in place: items is
	// the write loop's until its next take.
	kept := items[:0]
	for _, it := range items {
		if it.ev != nil {
			if r := it.sub.passes(it.ev); r != dropNone {
				drops[r]++
				continue
			}
		}
		kept = append(kept, it)
	}
	items = kept
	limit := c.g.opts.Limits.MaxBatchBytes
	for i := 0; i < len(items); {
		if items[i].ev == nil {
			if err := c.writeMessage(items[i].frame); err != nil {
				return err
			}
			i++
			continue
		}
		j, size := i, 0
		for ; j < len(items) && items[j].ev != nil; j++ {
			n := len(items[j].chunk())
			if j > i && size+n > limit {
				break
			}
			size += n
		}
		if err := c.writeEvents(items[i:j], size); err != nil {
			return err
		}
		written += j - i
		i = j
	}
	return nil
}

// headerRoom is the room a packed frame leaves before it for its message's
// header (frameWithHeader).
var headerRoom [maxWSHeader]byte

// frameBufs holds the buffers write loops pack Events frames in, shared by
// the connections: a connection keeps none between writes.
var frameBufs = sync.Pool{New: func() any { return new([]byte) }}

// writeEvents writes run, events whose chunks take size bytes, as one
// Events message. A single event goes out as its shared message, not
// copied.
func (c *conn) writeEvents(run []queueItem, size int) error {
	if len(run) == 1 && run[0].ev.msg != nil {
		msg := run[0].ev.msg
		if err := c.writePrepared(msg, len(msg)-len(run[0].ev.frame)); err != nil {
			return err
		}
	} else {
		buf := frameBufs.Get().(*[]byte)
		*buf = appendEventRun(append((*buf)[:0], headerRoom[:]...), run, size)
		msg := frameWithHeader(*buf)
		err := c.writePrepared(msg, len(msg)-(len(*buf)-maxWSHeader))
		if cap(*buf) <= 4*c.g.opts.Limits.MaxBatchBytes {
			frameBufs.Put(buf) // not a burst's buffer: bounded
		}
		if err != nil {
			return err
		}
	}
	c.recordWritten(run)
	return nil
}

// recordWritten records the commit-to-write latency of the live events of
// run, just written.
func (c *conn) recordWritten(run []queueItem) {
	tel := c.g.tel
	if tel == nil {
		return
	}
	var now time.Time
	var stamps [16]int64
	n := 0
	for i := range run {
		// Live events only: a replay's commit is as old as the client's
		// absence.
		if t := run[i].ev.ev.GetTimeUnixMs(); t > 0 && !run[i].forced {
			if now.IsZero() {
				now = time.Now()
			}
			stamps[n] = t
			if n++; n == len(stamps) {
				tel.written(now, stamps[:n])
				n = 0
			}
		}
	}
	tel.written(now, stamps[:n])
}

var errClosing = errors.New("ssotws: connection closing")

// writePrepared writes msg, a prepared message whose header takes hl
// bytes (direct.go): as it is where the connection takes prepared
// messages, else its payload through the WebSocket library.
func (c *conn) writePrepared(msg []byte, hl int) error {
	if !c.direct.direct() {
		return c.writeMessage(msg[hl:])
	}
	if c.isClosing.Load() {
		return errClosing
	}
	c.armWrite()
	ok, err := c.direct.writePrepared(msg)
	c.writeTimer.Stop()
	if !ok {
		return c.writeMessage(msg[hl:])
	}
	return err
}

// armWrite arms the write timer for one write.
func (c *conn) armWrite() {
	if c.writeTimer == nil {
		c.writeTimer = time.AfterFunc(c.g.opts.WriteTimeout, func() { _ = c.ws.CloseNow() })
	} else {
		c.writeTimer.Reset(c.g.opts.WriteTimeout)
	}
}

func (c *conn) writeMessage(b []byte) error {
	if c.isClosing.Load() {
		return errClosing
	}
	c.armWrite()
	// A context without Done: websocket.Conn then sets up no timeout of
	// its own (no context.AfterFunc per write); writeTimer bounds it.
	err := c.ws.Write(context.Background(), websocket.MessageBinary, b)
	c.writeTimer.Stop()
	return err
}
