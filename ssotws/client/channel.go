package client

import (
	"context"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// The channel: one subscribed channel of a [WebSocket] transport. It feeds
// its cache (cache.go, pure) what the Conn hears and acts on what the cache
// returns: it announces changes to the listeners through the dispatcher,
// fetches snapshots and verifies records over HTTP. The TypeScript
// runtime's twin is LiveChannel in ts/runtime/src/channel.ts.

// channelCache is one subscribed channel: its cache, its listeners and its
// HTTP I/O. It implements the hydration and resume of
// docs/client-semantics.md.
type channelCache[T proto.Message] struct {
	ws   *WebSocket[T]
	disp *dispatcher
	ctx  context.Context // ends with close
	stop context.CancelFunc

	mu           sync.Mutex
	c            *cache[T]
	watch        chan struct{} // closed and replaced at each phase change
	listeners    map[uint64]func(Change[T])
	nextListener uint64
	cancelFetch  context.CancelFunc
}

var _ channelHandler = (*channelCache[proto.Message])(nil)

func newChannelCache[T proto.Message](ws *WebSocket[T], name string, parsed protocol.ChannelName) *channelCache[T] {
	c := &channelCache[T]{
		ws:        ws,
		disp:      ws.conn.disp,
		c:         newCache(name, parsed, ws.model, ws.newT, ws.opts.logger),
		watch:     make(chan struct{}),
		listeners: make(map[uint64]func(Change[T])),
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	return c
}

// feedLocked runs fn on the cache and does what it returns.
func (c *channelCache[T]) feedLocked(fn func(*cache[T]) step[T]) {
	before := c.c.phase
	s := fn(c.c)
	if c.c.phase != before {
		close(c.watch)
		c.watch = make(chan struct{})
	}
	c.actLocked(s)
}

// actLocked does what a step asks.
func (c *channelCache[T]) actLocked(s step[T]) {
	if (s.fetch || s.stopFetch || s.fetched) && c.cancelFetch != nil {
		c.cancelFetch()
		c.cancelFetch = nil
	}
	if s.fetch && c.ctx.Err() == nil {
		ctx, cancel := context.WithCancel(c.ctx)
		c.cancelFetch = cancel
		go c.fetchLoop(ctx, s.gen)
	}
	for _, key := range s.verify {
		go c.verify(s.verifyGen, key)
	}
	for _, key := range s.reread {
		go c.reread(s.rereadGen, key)
	}
	c.notifyLocked(s.changes)
}

func (c *channelCache[T]) addListener(fn func(Change[T])) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextListener++
	c.listeners[c.nextListener] = fn
	return c.nextListener
}

func (c *channelCache[T]) removeListener(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.listeners, id)
}

// notifyLocked posts changes to the listeners registered now; a listener
// removed before its turn is skipped.
func (c *channelCache[T]) notifyLocked(changes []Change[T]) {
	if len(changes) == 0 || len(c.listeners) == 0 {
		return
	}
	ids := make([]uint64, 0, len(c.listeners))
	for id := range c.listeners {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	c.disp.post(func() {
		for _, ch := range changes {
			for _, id := range ids {
				c.mu.Lock()
				fn := c.listeners[id]
				c.mu.Unlock()
				if fn != nil {
					fn(ch)
				}
			}
		}
	})
}

// since implements channelHandler.
func (c *channelCache[T]) since() *wsv1.Position {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c.since()
}

// acked implements channelHandler.
func (c *channelCache[T]) acked(pos *wsv1.Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.feedLocked(func(k *cache[T]) step[T] { return k.acked(pos) })
}

// reset implements channelHandler.
func (c *channelCache[T]) reset(pos *wsv1.Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.feedLocked(func(k *cache[T]) step[T] { return k.reset(pos) })
}

// failed implements channelHandler.
func (c *channelCache[T]) failed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.feedLocked(func(k *cache[T]) step[T] { return k.failed(err) })
}

// disconnected implements channelHandler.
func (c *channelCache[T]) disconnected(resume bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.feedLocked(func(k *cache[T]) step[T] { return k.disconnected(resume) })
}

// close implements channelHandler.
func (c *channelCache[T]) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stop()
	c.listeners = map[uint64]func(Change[T]){}
	c.feedLocked(func(k *cache[T]) step[T] { return k.close() })
}

// events implements channelHandler.
func (c *channelCache[T]) events(evs []*wsv1.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.feedLocked(func(k *cache[T]) step[T] { return k.events(evs, time.Now()) })
}

// fetchLoop fetches the snapshot of generation gen until it is installed
// or superseded.
func (c *channelCache[T]) fetchLoop(ctx context.Context, gen uint64) {
	for attempt := 0; ; attempt++ {
		snap, err := c.ws.fetch(ctx, c.c.name, c.c.parsed)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			c.mu.Lock()
			retry := false
			c.feedLocked(func(k *cache[T]) (s step[T]) {
				s, retry = k.install(gen, snap, time.Now())
				return s
			})
			c.mu.Unlock()
			if !retry {
				return
			}
		} else {
			c.ws.opts.logger.Debug("ssotws/client: snapshot fetch failed", "channel", c.c.name, "err", err)
		}
		if sleep(ctx, c.ws.opts.backoff.Delay(attempt)) != nil {
			return
		}
	}
}

// verify reads a record over HTTP and corrects the cache when an event made
// it live but it is gone (a tombstone at the version the cache holds) or
// newer. It never fights this client's own writes, nor an event that
// changed the record while the Get was in flight:
//
//   - A local mutation of the record in flight during the Get (see
//     localWrites) may have changed what the Get saw, and its response is
//     not applied yet: the Get's answer is set aside until the mutation
//     ends. If it succeeded, its response (and its event) is authoritative
//     and the answer is dropped; if every such mutation failed, none
//     changed the record, and the record is read again.
//   - A record found carries its version: the version rule orders it
//     against whatever the cache holds now.
//   - "Not found" carries none, so it is applied as a compare-and-set: only
//     when the cache still holds what it held when the Get was sent (every
//     write the cache knew of then committed before the Get read the
//     store, so the record's deletion is newer). When an event changed the
//     record meanwhile, the record is read again.
//   - A Get that fails otherwise (the network, a restarting server) is
//     sent again after a backoff.
func (c *channelCache[T]) verify(gen uint64, key string) {
	lw := &c.ws.conn.local
	id := localID(c.ws.model.Name(), key)
	w := lw.watch(id)
	defer lw.unwatch(id, w)
	failures := 0
	for {
		c.mu.Lock()
		heldVersion, heldDeleted, ok := c.c.held(gen, key)
		if !ok {
			c.mu.Unlock()
			return
		}
		lw.arm(id, w)
		c.mu.Unlock()

		item, _, err := c.ws.api.Get(c.ctx, key, nil)
		gone := connect.CodeOf(err) == connect.CodeNotFound
		if err != nil && !gone {
			// A check that got no answer proves nothing (the record may
			// be a ghost that no later event removes): read it again
			// after a backoff, as a snapshot fetch does, until the
			// subscription ends or a refetch supersedes the check.
			c.ws.opts.logger.Debug("ssotws/client: verify", "channel", c.c.name, "key", key, "err", err)
			if sleep(c.ctx, c.ws.opts.backoff.Delay(failures)) != nil {
				return
			}
			failures++
			continue
		}
		c.mu.Lock()
		if lw.overlapped(w) {
			// Checked under c.mu: a mutation that begins after this point
			// is sent after the Get was answered, and its response is
			// applied after this answer.
			c.mu.Unlock()
			if applied, err := lw.settle(c.ctx, id, w); err != nil || applied {
				return
			}
			continue
		}
		again := false
		c.feedLocked(func(k *cache[T]) (s step[T]) {
			s, again = k.verified(gen, key, item, gone, heldVersion, heldDeleted)
			return s
		})
		c.mu.Unlock()
		if !again {
			return
		}
	}
}

// reread reads a record over HTTP after a delta the cache could not apply
// (it held another version than the delta's base) and applies the answer
// by the version rule (cache.reread). "Not found" changes nothing: the
// record was deleted after the delta, and the delete's event follows. A Get
// that got no answer is sent again after a backoff until the subscription
// ends or a refetch (whose snapshot holds the record) supersedes it; one
// the server refuses (the client may no longer read the record) is given
// up.
func (c *channelCache[T]) reread(gen uint64, key string) {
	for failures := 0; ; failures++ {
		c.mu.Lock()
		current := c.c.checking(gen)
		c.mu.Unlock()
		if !current {
			return
		}
		item, _, err := c.ws.api.Get(c.ctx, key, nil)
		switch connect.CodeOf(err) {
		case connect.CodeNotFound, connect.CodePermissionDenied, connect.CodeUnauthenticated, connect.CodeInvalidArgument:
			c.ws.opts.logger.Debug("ssotws/client: reread after a delta", "channel", c.c.name, "key", key, "err", err)
			return
		}
		if err == nil {
			c.mu.Lock()
			c.feedLocked(func(k *cache[T]) step[T] { return k.reread(gen, key, item) })
			c.mu.Unlock()
			return
		}
		if sleep(c.ctx, c.ws.opts.backoff.Delay(failures)) != nil {
			return
		}
	}
}

// mark records, right before a mutation of key is sent, what the cache is
// then (see cache.mark).
func (c *channelCache[T]) mark(key string) (sendMark, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c.mark(key)
}

// applyLocal applies the result of this client's own mutation (see
// cache.applyLocal).
func (c *channelCache[T]) applyLocal(key string, version int64, val T, deleted bool, reqID string, m sendMark) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.feedLocked(func(k *cache[T]) step[T] { return k.applyLocal(key, version, val, deleted, reqID, m) })
}

// list returns the live records in channel order, and whether the cache
// can answer a List: live and complete.
func (c *channelCache[T]) list() ([]T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c.list()
}

// get returns the record with key, whether it exists, and whether the
// cache can answer (it is live).
func (c *channelCache[T]) get(key string) (T, bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c.get(key)
}

// state reports whether the channel is live, its failure, and a channel
// closed at the next phase change.
func (c *channelCache[T]) state() (live bool, err error, closed bool, watch <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c.phase == phaseLive, c.c.err, c.c.phase == phaseClosed, c.watch
}

func (c *channelCache[T]) position() *wsv1.Position {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c.position()
}
