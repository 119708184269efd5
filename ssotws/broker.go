package ssotws

import (
	"context"
	"errors"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// Errors returned by a [Broker].
var (
	// ErrHistoryUnavailable: the broker cannot replay the events after a
	// position, because the position belongs to another epoch, lies in the
	// future, or is older than the history the broker keeps. The subscriber
	// must refetch the channel (the gateway answers [wsv1.Reset]).
	ErrHistoryUnavailable = errors.New("ssotws: history unavailable")
	// ErrBrokerClosed: the broker was closed.
	ErrBrokerClosed = errors.New("ssotws: broker closed")
)

// A Broker carries change events from the servers that commit mutations to
// the gateways that serve subscribers, possibly on other nodes. It assigns
// each event its channel position when it is published, and keeps a bounded
// history per channel so that a subscriber that reconnects can resume.
//
// Implementations must be safe for concurrent use.
type Broker interface {
	// Publish assigns each event the next position of its channel, stamps
	// it into the event's Position, records the event in the channel's
	// history and hands it to every listener. Events of one channel get
	// gap-free, strictly increasing offsets in the order they are published.
	// Publish takes ownership of the events: the caller must not modify them
	// afterwards.
	Publisher
	// Position returns a channel's current position: the position of its
	// last event, or offset 0 in the current epoch when it has none.
	PositionReader
	// Listen registers fn to receive every event published after Listen
	// returns, on every channel. For each channel, fn sees the events in
	// the order of their offsets, without gaps, and calls to fn are never
	// concurrent. fn must not block, must not modify the events (they are
	// shared) and must not call back into the broker. The returned function
	// stops the deliveries; after it returns, fn is not called again.
	Listen(fn func(events []*wsv1.Event)) (stop func())
	// History returns the events of channel after since, in order. It
	// returns an error wrapping [ErrHistoryUnavailable] when since has
	// another epoch or its history was trimmed. The events are shared and
	// must not be modified.
	History(ctx context.Context, channel string, since *wsv1.Position) ([]*wsv1.Event, error)
	// Close releases the broker. Publish then fails with [ErrBrokerClosed].
	Close() error
}
