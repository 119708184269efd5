package client

import (
	"fmt"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// The frame router: which channel each Subscribe id belongs to, the
// frames sent for a channel, and where each server frame goes. The twin of
// ts/runtime/src/router.ts.

// A channelHandler is what the Conn drives for one subscribed channel: the
// cache of a [WebSocket] transport. The Conn calls it without holding its
// own lock, from its read loop (acked, reset, events, failed) or its run
// loop (disconnected).
type channelHandler interface {
	// since is the position to resume from, or nil for a fresh subscription.
	since() *wsv1.Position
	acked(pos *wsv1.Position)
	reset(pos *wsv1.Position)
	events(evs []*wsv1.Event)
	failed(err error)
	// disconnected: the link dropped. resume is false when the channel
	// must not resume from its position (it would be sent the same
	// message again): it subscribes afresh and refetches, as after a
	// Reset.
	disconnected(resume bool)
	close()
}

type chanEntry struct {
	h     channelHandler
	refs  int
	subID uint32 // id of the Subscribe sent on the current link, 0 if none
	acked bool   // the current Subscribe was acknowledged
	// dropped: the server dropped the subscription after acknowledging it
	// (after a token refresh); it is not subscribed again.
	dropped bool
}

func (c *Conn) subscribeLocked(channel string, e *chanEntry) {
	c.nextID++
	if c.nextID == 0 {
		c.nextID++
	}
	e.subID = c.nextID
	e.acked = false
	c.acks[e.subID] = channel
	c.sendLocked(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{
		Subscribe: &wsv1.Subscribe{Id: e.subID, Channel: channel, Since: e.h.since(), Deltas: !c.opts.NoDeltas}}})
}

// sendLocked queues f on the current link.
func (c *Conn) sendLocked(f *wsv1.ClientFrame) {
	b, err := proto.Marshal(f)
	if err != nil {
		c.log.Error("ssotws/client: marshal frame", "err", err)
		return
	}
	c.link.out = append(c.link.out, b)
	select {
	case c.link.signal <- struct{}{}:
	default:
	}
}

// handle routes one server frame to the handlers of its channels.
func (c *Conn) handle(f *wsv1.ServerFrame) {
	if c.handlePresence(f) { // presence.go
		return
	}
	switch fr := f.Frame.(type) {
	case *wsv1.ServerFrame_Ack:
		if h := c.byID(fr.Ack.GetId()); h != nil {
			h.acked(fr.Ack.GetPosition())
		}
	case *wsv1.ServerFrame_Error:
		e := fr.Error
		channel, h, dropped := c.failedID(e.GetId())
		err := fmt.Errorf("ssotws/client: %s: %s", e.GetCode(), e.GetMessage())
		if dropped {
			err = fmt.Errorf("%w: %s: %s", ErrSubscriptionDropped, e.GetCode(), e.GetMessage())
		}
		if h == nil {
			c.log.Warn("ssotws/client: server error", "id", e.GetId(), "err", err)
			return
		}
		h.failed(err)
		if c.opts.OnError != nil {
			c.opts.OnError(channel, err)
		}
	case *wsv1.ServerFrame_Reset_:
		if h := c.byName(fr.Reset_.GetChannel()); h != nil {
			h.reset(fr.Reset_.GetPosition())
		}
	case *wsv1.ServerFrame_Events:
		evs := fr.Events.GetEvents()
		for i := 0; i < len(evs); {
			j := i + 1
			for j < len(evs) && evs[j].GetChannel() == evs[i].GetChannel() {
				j++
			}
			if h := c.byName(evs[i].GetChannel()); h != nil {
				h.events(evs[i:j])
			}
			i = j
		}
	}
}

func (c *Conn) byName(channel string) channelHandler {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.channels[channel]; e != nil && e.subID != 0 {
		return e.h
	}
	return nil
}

// byID returns the handler whose current Subscribe has id, and marks it
// acknowledged.
func (c *Conn) byID(id uint32) channelHandler {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.channels[c.acks[id]]; e != nil && e.subID == id {
		e.acked = true
		return e.h
	}
	return nil
}

// failedID returns the channel and handler whose current Subscribe has id,
// which the server refused, and whether the server had acknowledged it:
// then the subscription was dropped (after a token refresh), and it is not
// subscribed again.
func (c *Conn) failedID(id uint32) (string, channelHandler, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	channel, ok := c.acks[id]
	if !ok {
		return "", nil, false
	}
	delete(c.acks, id)
	e := c.channels[channel]
	if e == nil || e.subID != id {
		return "", nil, false
	}
	if e.acked {
		e.dropped = true
		e.subID = 0
	}
	return channel, e.h, e.dropped
}
