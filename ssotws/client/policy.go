package client

import "github.com/ssot-codegen/ssot-ws/ssotws/protocol"

// The reconnect policy: what the Conn does when a connection (or an
// attempt) ends. It is a pure function of what ended it and of the
// redial loop's state, the twin of ts/runtime/src/policy.ts; both are
// tested against one table, testdata/reconnect-policy.json at the root of
// the repository. docs/client-semantics.md ("Close codes") is its spec.

// drop is what ended a connection or an attempt.
type drop struct {
	// Code is the WebSocket close code, 0 when there is none (a network
	// error, a dial that failed, a read that failed on our side).
	Code int
	// Accepted: the server sent a frame on the connection, so it accepted
	// the token.
	Accepted bool
	// TokenFailed: the token source failed, nothing was dialled.
	TokenFailed bool
	// TooLarge: a server message over the read limit dropped the
	// connection; resuming would replay it.
	TooLarge bool
}

// redialState is what the redial loop remembers between attempts.
type redialState struct {
	// Attempt counts the backoff waits since the server last accepted a
	// connection.
	Attempt int
	// AuthRetried: a 4401 was answered with a new token and a redial at
	// once, and no connection was accepted since.
	AuthRetried bool
	// Reason is why the token source was asked for the last dial.
	Reason TokenReason
	// Provider: a token source can give another token. Without one (the
	// TypeScript client's static token) a refused token stops the client.
	Provider bool
}

// verdict is what to do next.
type verdict int

const (
	// redialNow: dial again at once.
	redialNow verdict = iota
	// redialAfterBackoff: wait the backoff delay of decision.Backoff, then
	// dial.
	redialAfterBackoff
	// stopSignedOut: stop in [StateUnauthenticated] until Reconnect.
	stopSignedOut
	// stopForbidden: stop in [StateForbidden] until Reconnect.
	stopForbidden
)

// String returns the verdict's name in the shared table.
func (v verdict) String() string {
	switch v {
	case redialNow:
		return "reconnect-now"
	case redialAfterBackoff:
		return "reconnect-after-backoff"
	case stopSignedOut:
		return "stop-unauthenticated"
	case stopForbidden:
		return "stop-forbidden"
	}
	return "verdict(?)"
}

// decision is the policy's answer.
type decision struct {
	Do verdict
	// Backoff is the attempt number whose [Backoff.Delay] to wait, when Do
	// is redialAfterBackoff.
	Backoff int
	// Reason is why the token source is asked at the next dial.
	Reason TokenReason
	// Report: the close reveals a bug on one side (1008, 1009): log it as
	// an error.
	Report bool
	// Resume: the channels resume from their positions; false: they
	// subscribe afresh and refetch.
	Resume bool
	// Next is the redial loop's state after this decision.
	Next redialState
}

// policy decides what follows a drop.
func policy(d drop, s redialState) decision {
	if d.Accepted {
		// The server accepted the connection: the waits and the 4401
		// retry start over.
		s.Attempt, s.AuthRetried = 0, false
	}
	out := decision{Do: redialAfterBackoff, Reason: TokenCurrent, Resume: !d.TooLarge}
	switch {
	case d.TokenFailed:
		// No token, no dial: ask again, for the same reason, after a wait.
		out.Reason = s.Reason
	case d.Code == int(protocol.CloseForbidden):
		// A token of another user: this connection and its caches belong
		// to the previous one.
		out.Do = stopForbidden
	case d.Code == int(protocol.CloseTokenExpired):
		out.Reason = TokenExpired
		switch {
		case !s.Provider:
			out.Do = stopSignedOut
		case d.Accepted:
			// At once, unless the token was expired already at the
			// handshake: a source that keeps giving expired tokens is not
			// hammered.
			out.Do = redialNow
		}
	case d.Code == int(protocol.CloseUnauthenticated):
		out.Reason = TokenRejected
		switch {
		case !s.Provider, s.AuthRetried:
			// Refused again before any connection was accepted: signed out.
			out.Do = stopSignedOut
		default:
			out.Do, s.AuthRetried = redialNow, true
		}
	case d.Code == int(protocol.CloseBadFrame), d.Code == int(protocol.CloseTooLarge):
		out.Report = true
	}
	if out.Do == redialAfterBackoff {
		out.Backoff = s.Attempt
		s.Attempt++
	}
	s.Reason = out.Reason
	out.Next = s
	return out
}
