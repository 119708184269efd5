package ssotws

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"
)

// codeOf maps a store error to a Connect error, keeping the message.
func codeOf(err error) error {
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, ErrAlreadyExists):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, ErrVersionConflict):
		return connect.NewError(connect.CodeAborted, err)
	case errors.Is(err, ErrInvalidPageToken):
		return connect.NewError(connect.CodeInvalidArgument, err)
	default:
		return connect.NewError(connect.CodeInternal, err)
	}
}

func invalidArgument(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}
