package ssotws

import (
	"context"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// A Publisher carries change events from the handlers that commit mutations
// to the subscribers of their channels. A [Broker] is a Publisher.
// Publish assigns each event its channel position. Implementations must be
// safe for concurrent use.
type Publisher interface {
	Publish(ctx context.Context, events []*wsv1.Event) error
}

// A PositionReader reports a channel's current position: the position of
// its last published event. Get and List handlers read it before the store
// and return it in [HeaderPosition], so that a client that subscribed first
// knows which buffered events its snapshot already holds.
type PositionReader interface {
	Position(ctx context.Context, channel string) (*wsv1.Position, error)
}
