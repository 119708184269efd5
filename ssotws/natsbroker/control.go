package natsbroker

import (
	"context"

	"github.com/nats-io/nats.go"

	"github.com/ssot-codegen/ssot-ws/ssotws"
)

var _ ssotws.ControlBroker = (*Broker)(nil)

// ControlSubject returns the core NATS subject of the gateways' control
// messages: <prefix>_control, outside the stream's <prefix>.> so that they
// are never stored.
func (b *Broker) ControlSubject() string { return b.prefix + "_control" }

// PublishControl implements [ssotws.ControlBroker] with a core NATS
// publish: at most once, in order per connection, buffered by the client
// while it reconnects.
func (b *Broker) PublishControl(ctx context.Context, msg []byte) error {
	if b.isClosed() {
		return ssotws.ErrBrokerClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.js.Conn().Publish(b.ControlSubject(), msg)
}

// ListenControl implements [ssotws.ControlBroker] with a core NATS
// subscription (its callbacks are never concurrent), registered with the
// server before it returns. Messages that arrive after Close are dropped.
func (b *Broker) ListenControl(fn func(msg []byte)) (stop func()) {
	sub, err := b.js.Conn().Subscribe(b.ControlSubject(), func(m *nats.Msg) {
		if !b.isClosed() {
			fn(m.Data)
		}
	})
	if err != nil {
		b.logger.Error("natsbroker: listening to control messages", "subject", b.ControlSubject(), "err", err)
		return func() {}
	}
	// The server has the subscription before the gateway announces itself
	// (a round trip). If NATS is unreachable now, the client subscribes
	// again when it reconnects.
	if err := b.js.Conn().FlushTimeout(b.timeout); err != nil {
		b.logger.Warn("natsbroker: control subscription not confirmed", "subject", b.ControlSubject(), "err", err)
	}
	return func() { _ = sub.Unsubscribe() }
}
