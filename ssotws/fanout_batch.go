package ssotws

import (
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// A publish that carries several events of one channel (the events of a
// batch method: one per record on the model channel and on each scope
// channel) reaches a subscriber as one Events frame: the hub hands the
// channel's events to each subscription at once, and the subscription
// queues them in one critical section, so that its connection's write
// loop takes them together and packs them into one frame (split only past
// Limits.MaxBatchBytes).

// sameChannelTwice reports whether events name a channel more than once.
// A single write's events name each of its channels once; a batch's do
// not.
func sameChannelTwice(events []*wsv1.Event) bool {
	if len(events) < 2 {
		return false
	}
	if len(events) <= 16 { // a single write's few channels: no allocation
		for i, ev := range events {
			for _, prev := range events[:i] {
				if prev.Channel == ev.Channel {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[string]struct{}, len(events))
	for _, ev := range events {
		if _, ok := seen[ev.Channel]; ok {
			return true
		}
		seen[ev.Channel] = struct{}{}
	}
	return false
}

// publishGrouped is hub.publish for events that name a channel more than
// once: each channel's events, in their order, are encoded once and
// handed to each subscription of the channel together.
func (h *hub) publishGrouped(events []*wsv1.Event, onError func(*wsv1.Event, error), wl *wakeList) {
	var order []string
	groups := make(map[string][]*wsv1.Event)
	for _, ev := range events {
		if _, ok := groups[ev.Channel]; !ok {
			order = append(order, ev.Channel)
		}
		groups[ev.Channel] = append(groups[ev.Channel], ev)
	}
	for _, channel := range order {
		sh := h.shard(channel)
		sh.mu.RLock()
		subs := sh.subs[channel]
		if len(subs) > 0 {
			shared := make([]*sharedEvent, 0, len(groups[channel]))
			for _, ev := range groups[channel] {
				se, err := newSharedEvent(ev, subs[0].model)
				if err != nil {
					onError(ev, err)
					continue
				}
				shared = append(shared, se)
			}
			for _, s := range subs {
				s.deliverAll(shared, wl)
			}
		}
		sh.mu.RUnlock()
	}
}

// deliverAll is deliver for several live events of s's channel, in offset
// order, queued at once.
func (s *subscription) deliverAll(es []*sharedEvent, wl *wakeList) {
	visible := make([]*sharedEvent, 0, len(es))
	for _, e := range es {
		if !s.visible(e) {
			continue
		}
		if e = s.view(e); e != nil {
			visible = append(visible, e)
		}
	}
	if len(visible) == 0 {
		return
	}
	ok, start := s.c.q.pushLiveAll(s, visible)
	s.pushed(ok, start, wl)
}

// pushLiveAll is pushLive for several events of s, queued in one critical
// section: the write loop takes all of them or none. Unlike pushLive it
// leaves the consumer to start (start) to its caller.
func (q *sendQueue) pushLiveAll(s *subscription, es []*sharedEvent) (ok, start bool) {
	q.mu.Lock()
	ok = true
	for _, e := range es {
		if s.pending {
			if len(s.buf) >= q.max {
				s.overflow = true
				q.tel.dropped(dropOverflow, 1)
			} else {
				s.buf = append(s.buf, e)
			}
			continue
		}
		o, st := q.pushEventLocked(s, e, false)
		ok, start = ok && o, start || st
	}
	q.mu.Unlock()
	return ok, start
}
