package ssotws

import (
	"errors"
	"fmt"
)

// BatchError is the error of a [Store].ApplyBatch (and of a batch method
// of [Resource]) that failed on one of its writes: nothing of the batch
// was applied.
type BatchError struct {
	// Index is the failed write's index in the batch.
	Index int
	// Err is why it failed.
	Err error
}

func (e *BatchError) Error() string { return fmt.Sprintf("requests[%d]: %v", e.Index, e.Err) }

// Unwrap returns e.Err, so that errors.Is sees [ErrNotFound] and the others.
func (e *BatchError) Unwrap() error { return e.Err }

// AtIndex wraps err, the error of the write at index i of a batch, in a
// [*BatchError]; an error that is one already is returned as it is.
func AtIndex(i int, err error) error {
	var be *BatchError
	if err == nil || errors.As(err, &be) {
		return err
	}
	return &BatchError{Index: i, Err: err}
}
