package ssotws

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// hubShards spreads the channels over several locks, so that subscribes and
// unsubscribes on one channel do not contend with the fan-out of another.
const hubShards = 32

// hub maps channel names to their subscriptions. It is safe for concurrent
// use.
type hub struct {
	seed   maphash.Seed
	shards [hubShards]hubShard
	clock  fanoutClock // inline.go
}

type hubShard struct {
	// mu guards subs and the hubIdx of every subscription listed in it.
	// Subscribes and unsubscribes (read loops) write-lock it; the fan-out
	// (the broker's listener) read-locks it while it delivers an event.
	mu sync.RWMutex
	// subs lists the subscriptions of each channel; a subscription knows
	// its index (subscription.hubIdx), so that removal is O(1) and the
	// fan-out walks a slice rather than a map.
	subs map[string][]*subscription
}

func newHub() *hub {
	h := &hub{seed: maphash.MakeSeed(), clock: fanoutClock{epoch: time.Now(), cpu: processCPU, burstGap: burstGap}}
	for i := range h.shards {
		h.shards[i].subs = make(map[string][]*subscription)
	}
	return h
}

func (h *hub) shard(channel string) *hubShard {
	return &h.shards[maphash.String(h.seed, channel)%hubShards]
}

func (h *hub) add(channel string, s *subscription) {
	sh := h.shard(channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.subs[channel]
	s.hubIdx = len(list)
	sh.subs[channel] = append(list, s)
}

func (h *hub) remove(channel string, s *subscription) {
	sh := h.shard(channel)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.subs[channel]
	i := s.hubIdx
	if i < 0 || i >= len(list) || list[i] != s {
		return // not subscribed (or removed already)
	}
	last := len(list) - 1
	list[i] = list[last]
	list[i].hubIdx = i
	list[last] = nil
	s.hubIdx = -1
	if last == 0 {
		delete(sh.subs, channel)
		return
	}
	if cap(list) > 64 && last < cap(list)/4 {
		list = append([]*subscription(nil), list[:last]...) // shrink after a crowd left
		for j, x := range list {
			x.hubIdx = j
		}
	}
	sh.subs[channel] = list[:last]
}

// publish hands each event to the subscriptions of its channel. An event
// nobody subscribed to is not even encoded; otherwise it is encoded once
// and the bytes are shared. Subscriptions only queue the event, under the
// hub's lock; once every event is queued, publish writes the event of
// each connection that was idle, or starts its write loop (inline.go). A
// slow connection never blocks publish. Each delivery takes one lock, its
// connection's queue, and allocates nothing; a connection whose write
// loop is already running is not woken again.
func (h *hub) publish(events []*wsv1.Event, onError func(*wsv1.Event, error)) {
	f := h.clock.begin()
	wl := wakeLists.Get().(*wakeList)
	defer func() {
		wl.run(f)
		wakeLists.Put(wl)
	}()
	if sameChannelTwice(events) {
		h.publishGrouped(events, onError, wl) // fanout_batch.go
		return
	}
	for _, ev := range events {
		sh := h.shard(ev.Channel)
		sh.mu.RLock()
		subs := sh.subs[ev.Channel]
		if len(subs) > 0 {
			se, err := newSharedEvent(ev, subs[0].model)
			if err != nil {
				onError(ev, err)
			} else {
				for _, s := range subs {
					s.deliver(se, wl)
				}
			}
		}
		sh.mu.RUnlock()
	}
}

// count returns the number of subscriptions of channel.
func (h *hub) count(channel string) int {
	sh := h.shard(channel)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return len(sh.subs[channel])
}
