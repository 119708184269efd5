package client

import "log/slog"

// Options configures [NewHTTP], [NewWebSocket] and [NewHybrid]. nil means
// the defaults.
type Options struct {
	// Attempts bounds the tries of one mutation (default 3); retries reuse
	// the mutation's Idempotency-Key.
	Attempts int
	// Backoff spaces the retries of mutations and of snapshot fetches
	// (default 1 s doubling to 16 s).
	Backoff Backoff
	// HydrationLimit bounds the records fetched to hydrate a list channel
	// (default 1000). A channel with more records is still kept up to date,
	// but List is not answered from its cache.
	HydrationLimit int
	// Logger receives what cannot be returned to a caller (default
	// slog.Default()).
	Logger *slog.Logger
}

type options struct {
	attempts       int
	backoff        Backoff
	hydrationLimit int
	logger         *slog.Logger
}

func newOptions(o *Options) options {
	out := options{attempts: 3, hydrationLimit: 1000, logger: slog.Default()}
	if o == nil {
		out.backoff = out.backoff.withDefaults()
		return out
	}
	if o.Attempts > 0 {
		out.attempts = o.Attempts
	}
	if o.HydrationLimit > 0 {
		out.hydrationLimit = o.HydrationLimit
	}
	if o.Logger != nil {
		out.logger = o.Logger
	}
	out.backoff = o.Backoff.withDefaults()
	return out
}
