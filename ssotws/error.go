package ssotws

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"
)

// Errors returned by a [Store]. Store implementations return them (wrapped
// with %w if they like); [Resource] maps them to Connect codes.
var (
	// ErrNotFound: the record does not exist (or was deleted).
	ErrNotFound = errors.New("ssotws: record not found")
	// ErrAlreadyExists: a record with this key exists.
	ErrAlreadyExists = errors.New("ssotws: record already exists")
	// ErrVersionConflict: the record's version is not the expected one.
	ErrVersionConflict = errors.New("ssotws: version conflict")
	// ErrInvalidPageToken: the page token was not issued by this store.
	ErrInvalidPageToken = errors.New("ssotws: invalid page token")
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
