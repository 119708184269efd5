package sqlstore

import "time"

// Options returns *opts, or the zero value for nil: the options structs
// of the stores and relays, whose zero value is the default.
func Options[T any](opts *T) T {
	if opts == nil {
		var zero T
		return zero
	}
	return *opts
}

// OrDefault is v, or def when v is zero or negative.
func OrDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
