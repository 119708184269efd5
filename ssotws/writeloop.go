package ssotws

import (
	"context"
	"errors"
	"runtime"
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

	chunks [][]byte // the Events chunks of the frame being built
	buf    []byte   // the frame being built
	// stamps are the commit times (Unix ms) of the live events in the
	// frame being built, for the commit-to-write latency.
	stamps []int64
	// writeTimer closes the connection when one write outlasts
	// WriteTimeout; the write loop arms it around each write. One timer
	// per connection, made on the first write, instead of a context and a
	// timer per write.
	writeTimer *time.Timer
	// gathering is the adaptive wait before a take (gather.go).
	gathering gathering
}

// writeLoop writes what is queued until the queue is empty, then ends; the
// next push starts another. Once the connection is closing it closes the
// WebSocket and closes writerDone; no write loop starts after that.
//
// Before a take it lets events gather: adaptively while the connection
// is behind (gather.go), or for WriteDelay when that is set.
func (c *conn) writeLoop() {
	delay := c.g.opts.WriteDelay
	for {
		if delay > 0 {
			// Let more events gather: they go out in one message.
			time.Sleep(delay)
		} else if delay == 0 {
			c.gathering.gather() // gather.go
		}
		if c.isClosing.Load() {
			c.finish(c.closeRequested())
			return
		}
		items, ok := c.q.takeOrPark(c.trimBuffers)
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
		c.gathering.took(len(items), c.g.opts.Limits.SendQueue)
		c.g.tel.depth(len(items))
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

// idleBufCap is the largest frame buffer an idle connection keeps.
const idleBufCap = 4 << 10

// trimBuffers drops the write loop's large buffers when it parks.
func (c *conn) trimBuffers() {
	if cap(c.buf) > idleBufCap {
		c.buf = nil
	}
	if cap(c.chunks) > idleQueueCap {
		c.chunks = nil
	}
	if cap(c.stamps) > idleQueueCap {
		c.stamps = nil
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
	chunks, size := c.chunks[:0], 0
	stamps := c.stamps[:0]
	var written int
	var drops [numDropReasons]int
	tel := c.g.tel
	defer func() {
		clear(chunks)
		c.chunks = chunks[:0]
		c.stamps = stamps[:0]
		tel.delivered(written)
		for r := dropNone + 1; r < numDropReasons; r++ {
			tel.dropped(r, drops[r])
		}
	}()
	flush := func() error {
		if len(chunks) == 0 {
			return nil
		}
		c.buf = appendEventsFrame(c.buf[:0], chunks)
		n := len(chunks)
		clear(chunks)
		chunks, size = chunks[:0], 0
		if err := c.writeMessage(c.buf); err != nil {
			return err
		}
		written += n
		if tel != nil && len(stamps) > 0 {
			tel.written(time.Now(), stamps)
		}
		stamps = stamps[:0]
		return nil
	}
	for i := range items {
		it := &items[i]
		if it.ev == nil {
			if err := flush(); err != nil {
				return err
			}
			if err := c.writeMessage(it.frame); err != nil {
				return err
			}
			continue
		}
		if r := it.sub.passes(it.ev); r != dropNone {
			drops[r]++
			continue
		}
		chunk := it.chunk()
		if len(chunks) > 0 && size+len(chunk) > c.g.opts.Limits.MaxBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		chunks = append(chunks, chunk)
		size += len(chunk)
		if t := it.ev.ev.GetTimeUnixMs(); t > 0 && !it.forced && tel != nil {
			// Live events only: a replay's commit is as old as the
			// client's absence.
			stamps = append(stamps, t)
		}
	}
	err := flush()
	if cap(c.buf) > 4*c.g.opts.Limits.MaxBatchBytes {
		c.buf = nil // do not pin a burst's buffer for the connection's life
	}
	return err
}

var errClosing = errors.New("ssotws: connection closing")

func (c *conn) writeMessage(b []byte) error {
	if c.isClosing.Load() {
		return errClosing
	}
	if c.writeTimer == nil {
		c.writeTimer = time.AfterFunc(c.g.opts.WriteTimeout, func() { _ = c.ws.CloseNow() })
	} else {
		c.writeTimer.Reset(c.g.opts.WriteTimeout)
	}
	// A context without Done: websocket.Conn then sets up no timeout of
	// its own (no context.AfterFunc per write); writeTimer bounds it.
	err := c.ws.Write(context.Background(), websocket.MessageBinary, b)
	c.writeTimer.Stop()
	return err
}
