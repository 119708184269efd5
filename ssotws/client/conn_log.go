package client

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
)

// What the Conn tells a person reading its log: each change of state at
// Info (connected, connected again, lost, could not connect), a stop at
// Warn, each further failed attempt at Debug, always with the reason in
// words (dropReason) next to the error itself.

// errDial marks a connection attempt that failed before a WebSocket was
// open; errPingTimeout a connection closed because a ping got no answer.
var (
	errDial        = errors.New("ssotws/client: dial")
	errPingTimeout = errors.New("ssotws/client: the server did not answer a ping")
)

// logOpen records a connection the server accepted: the first one, or one
// after a drop, with how long the Conn was without one.
func (c *Conn) logOpen(again bool, downAt time.Time) {
	if !again {
		c.log.Info("ssotws/client: connected", "url", c.url)
		return
	}
	c.log.Info("ssotws/client: connected again; the channels resume", "url", c.url,
		"down_for", time.Since(downAt).Round(time.Millisecond))
}

// logDrop records a lost connection or a failed attempt: a connection
// that had been open is lost at Info, so is the first failed attempt
// after it (or of the first connection), and each further one at Debug.
func (c *Conn) logDrop(err error, accepted, failing bool, attempt int, retryIn time.Duration) {
	level, msg := slog.LevelDebug, "ssotws/client: connection attempt failed; retrying"
	switch {
	case accepted:
		level, msg = slog.LevelInfo, "ssotws/client: connection lost; reconnecting"
	case !failing:
		level, msg = slog.LevelInfo, "ssotws/client: could not connect; retrying"
	}
	attrs := []any{"url", c.url, "reason", dropReason(err), "attempt", attempt, "retry_in", retryIn.Round(time.Millisecond)}
	if code := websocket.CloseStatus(err); code >= 0 {
		attrs = append(attrs, "code", int(code))
	}
	c.log.Log(c.ctx, level, msg, append(attrs, "err", err)...)
}

// logStop records that the Conn stopped reconnecting, and what brings it
// back.
func (c *Conn) logStop(s State, err error) {
	msg := "ssotws/client: signed out; not reconnecting until Reconnect (after a new sign-in)"
	if s == StateForbidden {
		msg = "ssotws/client: the token now names another user; not reconnecting (close this Conn, use a new one for that user)"
	}
	attrs := []any{"url", c.url, "state", s.String(), "reason", dropReason(err)}
	if code := websocket.CloseStatus(err); code >= 0 {
		attrs = append(attrs, "code", int(code))
	}
	c.log.Warn(msg, append(attrs, "err", err)...)
}

// dropReason says in words why a connection or an attempt ended.
func dropReason(err error) string {
	var netErr *net.OpError
	switch code := websocket.CloseStatus(err); {
	case code >= 0:
		return closeMeaning(int(code))
	case errors.Is(err, ErrMessageTooLarge):
		return "a server message was over the read limit (ConnOptions.ReadLimit); the channels refetch"
	case errors.Is(err, errTokenSource):
		return "the token source gave no token"
	case errors.Is(err, errPingTimeout):
		return "the server did not answer a ping in time"
	case errors.Is(err, errDial) && errors.As(err, &netErr):
		return "the server could not be reached"
	case errors.Is(err, errDial):
		return "the server did not accept the WebSocket handshake"
	}
	return "the connection broke"
}

// closeMeaning says what a close code means for this client.
func closeMeaning(code int) string {
	switch protocol.CloseCode(code) {
	case protocol.CloseGoingAway:
		return "the server is going away (restarting or shutting down)"
	case protocol.CloseBadFrame:
		return "the server refused a frame of this client"
	case protocol.CloseTooLarge:
		return "a frame was too large"
	case protocol.CloseUnauthenticated:
		return "the server refused the token"
	case protocol.CloseForbidden:
		return "the server refused a token of another user"
	case protocol.CloseTokenExpired:
		return "the token expired"
	case protocol.CloseTooSlow:
		return "a limit was exceeded (too many connections, frames too fast, or too slow to read)"
	}
	if code == int(websocket.StatusNormalClosure) {
		return "the server closed the connection normally"
	}
	return "the connection was closed"
}
