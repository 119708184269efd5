package ssotws

import (
	"log/slog"
	"time"
)

// An Option configures a [Resource].
type Option interface {
	applyResource(*resourceOptions)
}

type resourceOptions struct {
	maxPageSize     int
	defaultPageSize int
	logger          *slog.Logger
	now             func() time.Time
	authorizer      Authorizer
	maxRecordBytes  int
}

type optionFunc func(*resourceOptions)

func (f optionFunc) applyResource(o *resourceOptions) { f(o) }

// WithPageSize sets the page size used when a List asks for none (default
// 50) and the largest page a List may ask for (default 1000); larger
// requests are coerced, as AIP-158 suggests.
func WithPageSize(def, max int) Option {
	return optionFunc(func(o *resourceOptions) {
		if def > 0 {
			o.defaultPageSize = def
		}
		if max > 0 {
			o.maxPageSize = max
		}
	})
}

// WithLogger sets the logger for failures that do not reach the caller.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *resourceOptions) { o.logger = l })
}

// DefaultMaxRecordBytes is the default bound of one record's encoding:
// 1 MiB less 16 KiB, so that a record's change event (the record, its
// channel name, key and request id) fits in one Events frame of the
// gateway's default [Limits].MaxBatchBytes (1 MiB), far below the Go
// client's default read limit (16 MiB), and every subscriber can receive
// it.
const DefaultMaxRecordBytes = 1<<20 - 16<<10

// WithMaxRecordBytes bounds the protobuf encoding of a record a Create or
// Update stores (default [DefaultMaxRecordBytes]); a larger one is refused
// with CodeInvalidArgument naming its size and the limit. Keep it below
// the gateway's [Limits].MaxBatchBytes and every client's read limit: a
// change event carries the whole record, and an event a client cannot
// receive cuts it off its channel. A negative n removes the bound.
func WithMaxRecordBytes(n int) Option {
	return optionFunc(func(o *resourceOptions) {
		if n != 0 {
			o.maxRecordBytes = n
		}
	})
}

func newResourceOptions(opts []Option) resourceOptions {
	o := resourceOptions{maxPageSize: 1000, defaultPageSize: DefaultPageSize, logger: slog.Default(), now: time.Now, maxRecordBytes: DefaultMaxRecordBytes}
	for _, opt := range opts {
		opt.applyResource(&o)
	}
	if o.defaultPageSize > o.maxPageSize {
		o.defaultPageSize = o.maxPageSize
	}
	return o
}
