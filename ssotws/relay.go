package ssotws

import (
	"context"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// A ChangeRelay publishes what a store's change log holds: every committed
// write of the store's tables, whoever made it, in commit order. The SQL
// stores' relays are ChangeRelays.
type ChangeRelay interface {
	// Sync returns once every change committed before the call has been
	// published (or ctx ends).
	Sync(ctx context.Context) error
}

// RelayedPublisher is the [Publisher] to hand generated services whose
// store publishes through a relay: its Publish sends nothing (the relay
// publishes the change from the change log, so that subscribers see it
// once) and returns when the relay has published the caller's committed
// write. Position reads the broker's positions, so that Get and List
// still return them.
func RelayedPublisher(relay ChangeRelay, positions PositionReader) Publisher {
	return &relayedPublisher{relay: relay, positions: positions}
}

type relayedPublisher struct {
	relay     ChangeRelay
	positions PositionReader
}

func (p *relayedPublisher) Publish(ctx context.Context, _ []*wsv1.Event) error {
	return p.relay.Sync(ctx)
}

func (p *relayedPublisher) Position(ctx context.Context, channel string) (*wsv1.Position, error) {
	return p.positions.Position(ctx, channel)
}
