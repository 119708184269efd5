package ssotws

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// A ReadPosition is where a Get or List read stands in a channel's stream:
// the channel's position, read before the store was. A client that
// subscribed to Channel first skips the buffered events its snapshot
// already holds. Its zero value stands for no position (a model that is
// not realtime, or a publisher that reports none).
type ReadPosition struct {
	// Channel is the channel the read maps onto: the item channel of a Get,
	// the model's or a scope's channel of a List.
	Channel string
	// Position is Channel's position (nil reads as 0:0).
	Position *wsv1.Position
}

// SetHeaders writes p to h as [HeaderChannel] and [HeaderPosition], the
// response headers clients read it from; a zero p writes nothing.
// Generated handlers call it on their response's headers.
func (p ReadPosition) SetHeaders(h http.Header) {
	if p.Channel == "" || h == nil {
		return
	}
	h.Set(HeaderChannel, p.Channel)
	h.Set(HeaderPosition, FormatPosition(p.Position))
}

// readPosition reads channel's position; it is called before the store is
// read.
func (r *Resource[T]) readPosition(ctx context.Context, channel string) (ReadPosition, error) {
	if !r.model.Realtime() {
		return ReadPosition{}, nil
	}
	pr, ok := r.pub.(PositionReader)
	if !ok {
		return ReadPosition{}, nil
	}
	pos, err := pr.Position(ctx, channel)
	if err != nil {
		return ReadPosition{}, connect.NewError(connect.CodeUnavailable, fmt.Errorf("ssotws: position of %q: %w", channel, err))
	}
	return ReadPosition{Channel: channel, Position: pos}, nil
}

// withPosition writes pos into a Connect error's metadata, so that a
// client hydrating an item channel learns the position of a NotFound
// answer too.
func withPosition(err error, pos ReadPosition) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		pos.SetHeaders(ce.Meta())
	}
	return err
}
