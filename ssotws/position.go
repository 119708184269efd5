package ssotws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// FormatPosition formats a position as "<epoch>:<offset>".
func FormatPosition(p *wsv1.Position) string {
	return strconv.FormatUint(p.GetEpoch(), 10) + ":" + strconv.FormatUint(p.GetOffset(), 10)
}

// ParsePosition parses the form written by [FormatPosition].
func ParsePosition(s string) (*wsv1.Position, error) {
	e, o, ok := strings.Cut(s, ":")
	if ok {
		epoch, err1 := strconv.ParseUint(e, 10, 64)
		offset, err2 := strconv.ParseUint(o, 10, 64)
		if err1 == nil && err2 == nil {
			return &wsv1.Position{Epoch: epoch, Offset: offset}, nil
		}
	}
	return nil, fmt.Errorf("ssotws: malformed position %q", s)
}

// positionHeader reads channel's position before the store is read and
// writes it to out.
func (r *Resource[T]) positionHeader(ctx context.Context, out http.Header, channel string) error {
	if !r.model.realtime || out == nil {
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
