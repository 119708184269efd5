package client

import (
	"context"
	"strconv"
)

// State is the state of a [Conn].
type State int

// The states of a connection: Idle → Connecting → Open → Reconnecting →
// Open …, Closed after [Conn.Close]; Unavailable when no WebSocket URL was
// configured (everything then goes over HTTP); Unauthenticated or
// Forbidden when the server refused the tokens and the Conn stopped
// reconnecting, until [Conn.Reconnect].
const (
	// StateIdle: nothing subscribed yet; the connection opens with the first
	// subscription or [Conn.Connect].
	StateIdle State = iota
	// StateConnecting: the first connection attempt is under way.
	StateConnecting
	// StateOpen: connected; subscriptions are live.
	StateOpen
	// StateReconnecting: the connection dropped; waiting or redialling.
	StateReconnecting
	// StateClosed: [Conn.Close] was called.
	StateClosed
	// StateUnavailable: no WebSocket URL; subscriptions are no-ops.
	StateUnavailable
	// StateUnauthenticated: signed out. The server refused the token
	// (4401) and then a new one from the token source; the Conn stopped
	// reconnecting. [Conn.Reconnect] tries again (after a new sign-in).
	StateUnauthenticated
	// StateForbidden: the server refused a refreshed token of another user
	// on the connection (4403); the Conn stopped reconnecting. Close it and
	// use a new Conn for the new user.
	StateForbidden
)

// String returns the state's lowercase name, as the TypeScript client
// spells it.
func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	case StateUnavailable:
		return "unavailable"
	case StateUnauthenticated:
		return "unauthenticated"
	case StateForbidden:
		return "forbidden"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// waitUntil blocks until cond() holds, re-checking each time watch's
// channel fires, or ctx ends.
func waitUntil(ctx context.Context, watch func() (bool, <-chan struct{})) error {
	for {
		ok, ch := watch()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
