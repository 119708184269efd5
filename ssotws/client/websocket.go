package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// WebSocket is the WebSocket transport of one model: subscriptions on the
// shared [Conn], each with a cache hydrated over HTTP (subscribe first,
// then fetch) and kept up to date by the channel's events. List and Get
// are answered only from the cache ([ErrNotCached] otherwise); mutations
// fail with [ErrUnsupported], as they always go over HTTP ([Hybrid] routes
// them). It is safe for concurrent use.
type WebSocket[T proto.Message] struct {
	model *protocol.Model
	api   HTTP[T]
	conn  *Conn
	opts  options
}

var _ DataClient[proto.Message] = (*WebSocket[proto.Message])(nil)

// NewWebSocket returns the WebSocket transport of model on conn; api
// fetches the snapshots. opts may be nil.
func NewWebSocket[T proto.Message](model *protocol.Model, api HTTP[T], conn *Conn, opts *Options) *WebSocket[T] {
	return &WebSocket[T]{model: model, api: api, conn: conn, opts: newOptions(opts)}
}

// Conn returns the shared connection.
func (w *WebSocket[T]) Conn() *Conn { return w.conn }

func (w *WebSocket[T]) newT() T {
	var zero T
	return zero.ProtoReflect().Type().New().Interface().(T)
}

// canonical parses a channel name of this model and returns its canonical
// spelling.
func (w *WebSocket[T]) canonical(channel string) (string, protocol.ChannelName, error) {
	p, err := protocol.ParseChannel(channel)
	if err != nil {
		return "", p, err
	}
	if p.Model != w.model.Name() {
		return "", p, fmt.Errorf("ssotws/client: channel %q is not a channel of %s", channel, w.model.Name())
	}
	if p.Kind == protocol.ChannelScope && !w.isScope(p.Field) {
		return "", p, fmt.Errorf("ssotws/client: %s has no scope %q", w.model.Name(), p.Field)
	}
	return p.String(), p, nil
}

func (w *WebSocket[T]) isScope(field string) bool { return w.model.IsScope(field) }

// Subscribe implements [DataClient]: it subscribes to channel on the shared
// connection (once, however many subscribers) and calls fn with every
// change of the channel's cache after it was first hydrated, including the
// differences found by a refetch. A malformed channel, or a Conn that is
// unavailable or closed, gives a no-op.
func (w *WebSocket[T]) Subscribe(channel string, fn func(Change[T])) func() {
	noop := func() {}
	if w.conn == nil {
		return noop
	}
	name, parsed, err := w.canonical(channel)
	if err != nil {
		w.opts.logger.Error("ssotws/client: subscribe", "err", err)
		return noop
	}
	h, ok := w.conn.attach(name, func() channelHandler { return newChannelCache(w, name, parsed) })
	if !ok {
		return noop
	}
	cc, ok := h.(*channelCache[T])
	if !ok {
		w.conn.detach(name, h)
		w.opts.logger.Error("ssotws/client: channel subscribed with another message type", "channel", name)
		return noop
	}
	id := cc.addListener(fn)
	var once sync.Once
	return func() {
		once.Do(func() {
			cc.removeListener(id)
			w.conn.detach(name, h)
		})
	}
}

// cache returns the cache of channel, nil when it is not subscribed.
func (w *WebSocket[T]) cache(channel string) *channelCache[T] {
	if w.conn == nil {
		return nil
	}
	w.conn.mu.Lock()
	defer w.conn.mu.Unlock()
	if e := w.conn.channels[channel]; e != nil {
		cc, _ := e.h.(*channelCache[T])
		return cc
	}
	return nil
}

// Hydrated reports whether channel is subscribed, hydrated and caught up,
// so that its cache can answer reads while the connection is open.
func (w *WebSocket[T]) Hydrated(channel string) bool {
	name, _, err := w.canonical(channel)
	if err != nil {
		return false
	}
	cc := w.cache(name)
	if cc == nil {
		return false
	}
	live, _, _, _ := cc.state()
	return live
}

// WaitHydrated blocks until channel is hydrated and caught up, or ctx
// ends. It fails at once when the channel is not subscribed, and when the
// server refused the subscription.
func (w *WebSocket[T]) WaitHydrated(ctx context.Context, channel string) error {
	name, _, err := w.canonical(channel)
	if err != nil {
		return err
	}
	cc := w.cache(name)
	if cc == nil {
		return fmt.Errorf("ssotws/client: %q is not subscribed", name)
	}
	for {
		live, ferr, closed, watch := cc.state()
		switch {
		case live:
			return nil
		case ferr != nil:
			return ferr
		case closed:
			return fmt.Errorf("ssotws/client: %q was unsubscribed", name)
		}
		select {
		case <-watch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// SubscriptionError returns why the server refused or dropped channel's
// subscription (see [ConnOptions].OnError), nil when it did not or the
// channel is not subscribed. A dropped subscription's error matches
// [ErrSubscriptionDropped].
func (w *WebSocket[T]) SubscriptionError(channel string) error {
	name, _, err := w.canonical(channel)
	if err != nil {
		return err
	}
	if cc := w.cache(name); cc != nil {
		_, ferr, _, _ := cc.state()
		return ferr
	}
	return nil
}

// Position returns the position of the last event applied to channel's
// cache (or of its snapshot), nil when there is none.
func (w *WebSocket[T]) Position(channel string) *wsv1.Position {
	name, _, err := w.canonical(channel)
	if err != nil {
		return nil
	}
	if cc := w.cache(name); cc != nil {
		return cc.position()
	}
	return nil
}

// listChannel maps List filters onto the channel that holds exactly the
// records they select: the model channel without filters, a scope channel
// for a single filter on a scope field.
func (w *WebSocket[T]) listChannel(filters map[string]string) (string, bool) {
	switch len(filters) {
	case 0:
		return protocol.ModelChannel(w.model.Name()), true
	case 1:
		for f, v := range filters {
			if w.isScope(f) {
				return protocol.ScopeChannel(w.model.Name(), f, v), true
			}
		}
	}
	return "", false
}

// cachedList answers p from the cache when the routing rules allow it.
func (w *WebSocket[T]) cachedList(p ListParams) ([]T, bool) {
	if w.conn == nil || p.PageToken != "" || w.conn.State() != StateOpen {
		return nil, false
	}
	name, ok := w.listChannel(p.Filters)
	if !ok {
		return nil, false
	}
	cc := w.cache(name)
	if cc == nil {
		return nil, false
	}
	items, ok := cc.list()
	if !ok || (p.PageSize > 0 && len(items) > int(p.PageSize)) {
		return nil, false
	}
	return items, true
}

// cachedGet answers a Get from the item channel or the model channel.
func (w *WebSocket[T]) cachedGet(key string) (T, bool, bool) {
	var zero T
	if w.conn == nil || w.conn.State() != StateOpen {
		return zero, false, false
	}
	for _, name := range []string{protocol.ItemChannel(w.model.Name(), key), protocol.ModelChannel(w.model.Name())} {
		if cc := w.cache(name); cc != nil {
			if v, found, ok := cc.get(key); ok {
				return v, found, true
			}
		}
	}
	return zero, false, false
}

// List implements [DataClient] from the cache only.
func (w *WebSocket[T]) List(ctx context.Context, p ListParams) (*ListPage[T], error) {
	items, ok := w.cachedList(p)
	if !ok {
		return nil, ErrNotCached
	}
	return &ListPage[T]{Items: items}, nil
}

// Get implements [DataClient] from the cache only.
func (w *WebSocket[T]) Get(ctx context.Context, key string) (T, error) {
	v, found, ok := w.cachedGet(key)
	switch {
	case !ok:
		return v, ErrNotCached
	case !found:
		return v, notFoundError(w.model, key)
	}
	return v, nil
}

func notFoundError(m *protocol.Model, key string) error {
	return connect.NewError(connect.CodeNotFound, fmt.Errorf("%w: %s %q", ErrNotFound, m.FullName(), key))
}

// Create fails with [ErrUnsupported].
func (w *WebSocket[T]) Create(ctx context.Context, item T) (T, error) {
	var zero T
	return zero, ErrUnsupported
}

// Update fails with [ErrUnsupported].
func (w *WebSocket[T]) Update(ctx context.Context, item T, paths ...string) (T, error) {
	var zero T
	return zero, ErrUnsupported
}

// Delete fails with [ErrUnsupported].
func (w *WebSocket[T]) Delete(ctx context.Context, key string) (bool, error) {
	return false, ErrUnsupported
}

// localMarks is what each of the model's hydrated caches was when one of
// this client's mutations was sent (see channelCache.mark).
type localMarks[T proto.Message] map[*channelCache[T]]sendMark

// modelCaches returns the caches of the model's channels.
func (w *WebSocket[T]) modelCaches() []*channelCache[T] {
	prefix := w.model.Name()
	var out []*channelCache[T]
	for name, h := range w.conn.handlers() {
		if name != prefix && !strings.HasPrefix(name, prefix+"/") && !strings.HasPrefix(name, prefix+"?") {
			continue
		}
		if cc, ok := h.(*channelCache[T]); ok {
			out = append(out, cc)
		}
	}
	return out
}

// markLocal records, right before a mutation of key is sent, what every
// hydrated cache of the model is then; applyLocal takes the marks. It is
// safe on a nil WebSocket.
func (w *WebSocket[T]) markLocal(key string) localMarks[T] {
	if w == nil || w.conn == nil {
		return nil
	}
	marks := localMarks[T]{}
	for _, cc := range w.modelCaches() {
		if m, ok := cc.mark(key); ok {
			marks[cc] = m
		}
	}
	return marks
}

// applyLocal applies the outcome of this client's own mutation to every
// cache of the model that was hydrated when it was sent (marks) and has
// not been hydrated again since, with the version rule.
func (w *WebSocket[T]) applyLocal(key string, val T, deleted bool, reqID string, marks localMarks[T]) {
	if w.conn == nil {
		return
	}
	var version int64
	if !deleted {
		version = versionOf(w.model, val.ProtoReflect())
	}
	for _, cc := range w.modelCaches() {
		if m, ok := marks[cc]; ok {
			cc.applyLocal(key, version, val, deleted, reqID, m)
		}
	}
}

// beginLocal records that this client is about to send a mutation of
// item's record (see localWrites); the returned func ends it. It is safe
// on a nil WebSocket.
func (w *WebSocket[T]) beginLocal(item T) func(final string, applied bool) {
	if w == nil || w.conn == nil {
		return func(string, bool) {}
	}
	return w.beginLocalKey(w.model.KeyOf(item.ProtoReflect()))
}

// beginLocalKey is beginLocal for a key.
func (w *WebSocket[T]) beginLocalKey(key string) func(final string, applied bool) {
	if w == nil || w.conn == nil {
		return func(string, bool) {}
	}
	end := w.conn.local.begin(localID(w.model.Name(), key))
	return func(final string, applied bool) {
		if final != "" {
			final = localID(w.model.Name(), final)
		}
		end(final, applied)
	}
}

// fetch reads a channel's snapshot over HTTP.
func (w *WebSocket[T]) fetch(ctx context.Context, name string, ch protocol.ChannelName) (snapshot[T], error) {
	if ch.Kind == protocol.ChannelItem {
		item, hdr, err := w.api.Get(ctx, ch.Key, nil)
		if err != nil {
			var ce *connect.Error
			if connect.CodeOf(err) != connect.CodeNotFound || !errors.As(err, &ce) {
				return snapshot[T]{}, err
			}
			return snapshot[T]{pos: positionOf(ce.Meta(), name), complete: true}, nil
		}
		return snapshot[T]{items: []T{item}, pos: positionOf(hdr, name), complete: true}, nil
	}
	var filters map[string]string
	if ch.Kind == protocol.ChannelScope {
		filters = map[string]string{ch.Field: ch.Value}
	}
	var snap snapshot[T]
	token := ""
	for first := true; ; first = false {
		items, next, hdr, err := w.api.List(ctx, ListParams{
			Filters:   filters,
			PageSize:  int32(min(w.opts.hydrationLimit-len(snap.items), 1000)),
			PageToken: token,
		}, nil)
		if err != nil {
			return snapshot[T]{}, err
		}
		if first {
			snap.pos = positionOf(hdr, name)
		}
		snap.items = append(snap.items, items...)
		if next == "" {
			snap.complete = true
			return snap, nil
		}
		if len(snap.items) >= w.opts.hydrationLimit {
			return snap, nil
		}
		token = next
	}
}

// positionOf reads the Ssot-Position header, if it is the position of
// channel.
func positionOf(h http.Header, channel string) *wsv1.Position {
	if h == nil {
		return nil
	}
	if c := h.Get(protocol.HeaderChannel); c != "" && c != channel {
		return nil
	}
	p, err := protocol.ParsePosition(h.Get(protocol.HeaderPosition))
	if err != nil {
		return nil
	}
	return p
}
