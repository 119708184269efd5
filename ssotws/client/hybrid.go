package client

import (
	"context"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"google.golang.org/protobuf/proto"
)

// Hybrid is the [DataClient] applications use. It routes as
// docs/client-semantics.md says:
//
//   - List is answered from the cache when the channel its filters map onto
//     (the model channel without filters, Model?field=value for a single
//     filter on a scope field) is subscribed, hydrated and complete, the
//     connection is open, there is no page token and the page size, if
//     any, holds every cached record; otherwise over HTTP.
//   - Get is answered from the cache of the item channel or the model
//     channel under the same conditions; otherwise over HTTP.
//   - Mutations always go over HTTP; their results are applied at once,
//     with the version rule, to the caches that were hydrated when they
//     were sent and have not been hydrated again since (a delete's
//     tombstone only while the record is as it was then). While one is in
//     flight, the caches' check of a record that came to life just after a
//     snapshot leaves that record to the mutation.
//   - Subscribe goes over the WebSocket; without a connection, or for a
//     model that is not realtime, it is a no-op and [Hybrid.State] reads
//     [StateUnavailable].
//
// It is safe for concurrent use.
type Hybrid[T proto.Message] struct {
	http *HTTPClient[T]
	ws   *WebSocket[T]
}

var _ DataClient[proto.Message] = (*Hybrid[proto.Message])(nil)

// NewHybrid returns the hybrid client of model. conn may be nil (or an
// unavailable Conn), and is not used for a model that is not realtime:
// everything then goes over HTTP. So the client of a model is built the
// same way whether the model is realtime or not, and turns live with it.
// opts may be nil.
func NewHybrid[T proto.Message](model *protocol.Model, api HTTP[T], conn *Conn, opts *Options) *Hybrid[T] {
	h := &Hybrid[T]{http: NewHTTP(api, opts)}
	if conn != nil && conn.State() != StateUnavailable && model.Realtime() {
		h.ws = NewWebSocket(model, api, conn, opts)
	}
	return h
}

// State returns the WebSocket connection's state, [StateUnavailable]
// without one.
func (h *Hybrid[T]) State() State {
	if h.ws == nil {
		return StateUnavailable
	}
	return h.ws.conn.State()
}

// HTTP returns the HTTP transport.
func (h *Hybrid[T]) HTTP() *HTTPClient[T] { return h.http }

// WebSocket returns the WebSocket transport, nil without a connection.
func (h *Hybrid[T]) WebSocket() *WebSocket[T] { return h.ws }

// List implements [DataClient].
func (h *Hybrid[T]) List(ctx context.Context, p ListParams) (*ListPage[T], error) {
	if h.ws != nil {
		if items, ok := h.ws.cachedList(p); ok {
			return &ListPage[T]{Items: items}, nil
		}
	}
	return h.http.List(ctx, p)
}

// Get implements [DataClient].
func (h *Hybrid[T]) Get(ctx context.Context, key string) (T, error) {
	if h.ws != nil {
		if v, found, ok := h.ws.cachedGet(key); ok {
			if !found {
				return v, notFoundError(h.ws.model, key)
			}
			return v, nil
		}
	}
	return h.http.Get(ctx, key)
}

// Create implements [DataClient].
func (h *Hybrid[T]) Create(ctx context.Context, item T) (T, error) {
	return h.write(item, func() (T, string, error) { return h.http.create(ctx, item) })
}

// Update implements [DataClient].
func (h *Hybrid[T]) Update(ctx context.Context, item T, paths ...string) (T, error) {
	return h.write(item, func() (T, string, error) { return h.http.update(ctx, item, paths) })
}

// write sends a Create or Update of item over HTTP (send) and applies its
// response to the cache at once, as one of this client's own writes.
func (h *Hybrid[T]) write(item T, send func() (T, string, error)) (T, error) {
	marks := h.ws.markLocal(h.keyOf(item))
	end := h.ws.beginLocal(item)
	out, reqID, err := send()
	var key string
	if err == nil && h.ws != nil {
		key = h.ws.model.KeyOf(out.ProtoReflect())
		h.ws.applyLocal(key, out, false, reqID, marks)
	}
	end(key, err == nil)
	return out, err
}

// Delete implements [DataClient].
func (h *Hybrid[T]) Delete(ctx context.Context, key string) (bool, error) {
	marks := h.ws.markLocal(key)
	end := h.ws.beginLocalKey(key)
	ok, reqID, err := h.http.delete(ctx, key)
	if ok && h.ws != nil {
		var zero T
		h.ws.applyLocal(key, zero, true, reqID, marks)
	}
	end("", ok)
	return ok, err
}

// keyOf returns item's key, "" without a WebSocket.
func (h *Hybrid[T]) keyOf(item T) string {
	if h.ws == nil {
		return ""
	}
	return h.ws.model.KeyOf(item.ProtoReflect())
}

// Subscribe implements [DataClient].
func (h *Hybrid[T]) Subscribe(channel string, fn func(Change[T])) func() {
	if h.ws == nil {
		return func() {}
	}
	return h.ws.Subscribe(channel, fn)
}
