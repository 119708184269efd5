package natsbroker

import (
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// groupWait bounds how long a listener holds events for a group whose
// last event does not come (its publisher failed or died half-way): then
// it delivers what it holds.
const groupWait = time.Second

// groups holds a listener's events while a channel's events of one
// Publish (a group, several events of a batch write) have not all
// arrived. Each channel's events are stored in order, but the channels
// of one Publish are written concurrently and other publishers' events
// interleave: a listener that handed each event on as it came would send
// a subscriber a batch's events in several frames. Holding every event
// from the first incomplete group on keeps the stream's order and
// delivers each group in one call, so in one frame per channel. Its
// methods run under the listener's mutex.
type groups struct {
	held  []*wsv1.Event
	open  map[string]int // channel → events of its group still to come
	timer *time.Timer
}

// add takes ev, followed on its channel by left more events of its
// group, and returns what to deliver now: nil while a group is
// incomplete. stale runs after groupWait if a group stays incomplete.
func (g *groups) add(ev *wsv1.Event, left int, stale func()) []*wsv1.Event {
	if len(g.open) == 0 && left == 0 {
		return []*wsv1.Event{ev} // the common case: nothing held
	}
	g.held = append(g.held, ev)
	if left > 0 {
		if g.open == nil {
			g.open = make(map[string]int)
		}
		g.open[ev.Channel] = left
	} else {
		delete(g.open, ev.Channel)
	}
	if len(g.open) > 0 {
		if g.timer == nil {
			g.timer = time.AfterFunc(groupWait, stale)
		}
		return nil
	}
	return g.take()
}

// take returns the held events and forgets the groups.
func (g *groups) take() []*wsv1.Event {
	held := g.held
	g.held, g.open = nil, nil
	g.stop()
	return held
}

// stop disarms the timer.
func (g *groups) stop() {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
}

// flushStale delivers what the listener held for a group that did not
// complete within groupWait.
func (l *listener) flushStale() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped || len(l.groups.held) == 0 {
		return
	}
	l.b.logger.Warn("natsbroker: a group of events stayed incomplete; delivering what arrived",
		"stream", l.b.name, "events", len(l.groups.held))
	l.fn(l.groups.take())
}

// groupLeft reads HeaderGroupLeft of msg: 0 when absent or malformed.
func groupLeft(msg jetstream.Msg) int {
	h := msg.Headers()
	if h == nil {
		return 0
	}
	n, err := strconv.Atoi(h.Get(HeaderGroupLeft))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
