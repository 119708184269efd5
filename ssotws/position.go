package ssotws

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"connectrpc.com/connect"
)

// positionHeader reads channel's position before the store is read and
// writes it to out.
func (r *Resource[T]) positionHeader(ctx context.Context, out http.Header, channel string) error {
	if !r.model.Realtime() || out == nil {
		return nil
	}
	pr, ok := r.pub.(PositionReader)
	if !ok {
		return nil
	}
	pos, err := pr.Position(ctx, channel)
	if err != nil {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("ssotws: position of %q: %w", channel, err))
	}
	out.Set(HeaderChannel, channel)
	out.Set(HeaderPosition, FormatPosition(pos))
	return nil
}

// withPosition copies the position headers into a Connect error's metadata,
// so that a client hydrating an item channel learns the position of a
// NotFound answer too.
func withPosition(err error, out http.Header) error {
	var ce *connect.Error
	if out == nil || !errors.As(err, &ce) {
		return err
	}
	for _, h := range []string{HeaderChannel, HeaderPosition} {
		if v := out.Get(h); v != "" {
			ce.Meta().Set(h, v)
		}
	}
	return err
}
