package client

import (
	"context"
	"errors"
	"strconv"

	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"google.golang.org/protobuf/proto"
)

// A DataClient reads, writes and watches the records of one model. Every
// implementation in this package is safe for concurrent use.
type DataClient[T proto.Message] interface {
	// List returns one page of records matching p.
	List(ctx context.Context, p ListParams) (*ListPage[T], error)
	// Get returns the record with key (its canonical text form). It fails
	// with an error matching [ErrNotFound] (Connect code NotFound) when the
	// record does not exist.
	Get(ctx context.Context, key string) (T, error)
	// Create creates item and returns the stored record.
	Create(ctx context.Context, item T) (T, error)
	// Update changes the record whose key item holds. paths name the fields
	// to change (a field mask); none means every field item populates, "*"
	// every field. When the model has a version field and item sets it, the
	// update is conditional on it.
	Update(ctx context.Context, item T, paths ...string) (T, error)
	// Delete deletes the record with key. It reports false, and no error,
	// when the record was already gone.
	Delete(ctx context.Context, key string) (bool, error)
	// Subscribe calls fn with each change of channel's records, until the
	// returned function is called. Transports without a WebSocket return a
	// no-op. fn runs on the connection's dispatch goroutine, one change at a
	// time and in order; it may call the client but should not block.
	Subscribe(channel string, fn func(Change[T])) (unsubscribe func())
}

// ListParams is the query of a List.
type ListParams struct {
	// Filters are equality filters: a model field name and the canonical text
	// form of the value ([protocol.FormatKey] for integers, "true"/"false").
	Filters map[string]string
	// PageSize bounds the page; zero lets the server choose.
	PageSize int32
	// PageToken continues a previous List.
	PageToken string
}

// ListPage is one page of a List.
type ListPage[T proto.Message] struct {
	Items []T
	// NextPageToken is empty on the last page.
	NextPageToken string
}

// ChangeType says what a change did to a channel's cache.
type ChangeType int

// The kinds of change.
const (
	// Created: the record entered the channel (it was created, or it moved
	// into the channel's scope).
	Created ChangeType = iota + 1
	// Updated: the record changed and stays in the channel.
	Updated
	// Deleted: the record left the channel (it was deleted, or moved out of
	// the channel's scope).
	Deleted
)

// String returns "created", "updated" or "deleted".
func (t ChangeType) String() string {
	switch t {
	case Created:
		return "created"
	case Updated:
		return "updated"
	case Deleted:
		return "deleted"
	}
	return "ChangeType(" + strconv.Itoa(int(t)) + ")"
}

// Change is one change of one record in one channel's cache.
type Change[T proto.Message] struct {
	// Channel is the channel whose cache changed.
	Channel string
	Type    ChangeType
	// Key is the record key in its canonical text form.
	Key string
	// Version is the record version after the change.
	Version int64
	// Value is the record; for Deleted, its last known state.
	Value T
	// RequestID is the Idempotency-Key of the mutation that caused the
	// change, when known: a client recognizes its own writes by it.
	RequestID string
}

// Errors of this package.
var (
	// ErrNotFound matches the error of a Get whose record does not exist.
	// It is [protocol.ErrNotFound]; the error also carries connect.CodeNotFound.
	ErrNotFound = protocol.ErrNotFound
	// ErrNotCached is returned by the [WebSocket] transport's reads when the
	// cache cannot answer them (the channel is not subscribed, not hydrated,
	// or the connection is not open).
	ErrNotCached = errors.New("ssotws/client: not in the cache")
	// ErrUnsupported is returned by the [WebSocket] transport's mutations:
	// mutations always go over HTTP.
	ErrUnsupported = errors.New("ssotws/client: mutations go over HTTP")
	// ErrNoMethod is returned (with connect.CodeUnimplemented) by a call
	// whose standard method the model's service does not have.
	ErrNoMethod = errors.New("ssotws/client: the service has no such standard method")
	// ErrClosed is returned after [Conn.Close].
	ErrClosed = errors.New("ssotws/client: connection closed")
	// ErrSignedOut is matched by [Conn.LastError] in
	// [StateUnauthenticated]: the server refused the token, then a new one.
	ErrSignedOut = errors.New("ssotws/client: signed out: the server refused a new token")
	// ErrIdentityChanged is matched by [Conn.LastError] in
	// [StateForbidden]: a refreshed token was another user's.
	ErrIdentityChanged = errors.New("ssotws/client: the server refused a token of another user on this connection")
	// ErrSubscriptionDropped is matched by the error of a subscription the
	// server dropped after acknowledging it (a token refresh no longer
	// allows it). It is not subscribed again automatically.
	ErrSubscriptionDropped = errors.New("ssotws/client: subscription dropped by the server")
)
