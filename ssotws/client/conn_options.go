package client

import (
	"log/slog"
	"time"

	"github.com/coder/websocket"
)

// ConnOptions configures a [Conn]. nil means the defaults.
type ConnOptions struct {
	// TokenSource returns the bearer token offered on each (re)connect (in
	// the Sec-WebSocket-Protocol header, never in the URL) and, when the
	// token has an [Token].Expires, the fresh token sent in an Auth frame
	// on the open socket [RefreshLead] before it expires. nil or a "" token
	// means anonymous. Share it with [NewTokenInterceptor] so that both
	// transports present the same token. The close codes the server
	// answers with decide what happens next: see [Conn]. For tokens
	// without a known expiry, [TokenFunc] adapts a func(ctx) (string,
	// error).
	TokenSource TokenSource
	// Dial is handed to websocket.Dial (HTTP client, headers, compression).
	// The Conn sets its Subprotocols.
	Dial *websocket.DialOptions
	// Backoff spaces reconnects (default 1 s doubling to 16 s, jittered).
	Backoff Backoff
	// PingInterval is how often a WebSocket ping checks a quiet connection
	// (default 20 s); negative disables pings.
	PingInterval time.Duration
	// ReadLimit bounds one server message (default 16 MiB). A message over
	// it drops the connection ([ErrMessageTooLarge], logged); the channels
	// then subscribe afresh and refetch, as after a Reset, rather than
	// resume from their positions, which would replay the same message.
	ReadLimit int64
	// NoDeltas asks the gateway for whole records in every event, as
	// clients before field-level deltas did (see delta.go). By default a
	// channel asks for deltas: an update of a few fields sends those.
	NoDeltas bool
	// OnError, when set, hears the errors the server reports for a channel.
	// A subscription the server refused (an unknown channel, a forbidden
	// one, too many subscriptions) stays inactive until the next reconnect.
	// One the server dropped after acknowledging it (a token refresh no
	// longer allows it; the error matches [ErrSubscriptionDropped]) is not
	// subscribed again: unsubscribe and subscribe again to retry.
	OnError func(channel string, err error)
	// Logger receives the connection's changes of state at Info (connected,
	// lost, connected again), each with its reason in words, further failed
	// attempts at Debug, a stop at Warn and protocol bugs at Error (default
	// slog.Default()).
	Logger *slog.Logger
}
