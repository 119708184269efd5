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

func newResourceOptions(opts []Option) resourceOptions {
	o := resourceOptions{maxPageSize: 1000, defaultPageSize: DefaultPageSize, logger: slog.Default(), now: time.Now}
	for _, opt := range opts {
		opt.applyResource(&o)
	}
	if o.defaultPageSize > o.maxPageSize {
		o.defaultPageSize = o.maxPageSize
	}
	return o
}
