package ssotws

import (
	"errors"
	"testing"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/stretchr/testify/assert"
)

// The server's names for the protocol vocabulary are the protocol's: the
// same error values and the same close codes, so that a client that
// imports only package protocol understands the server.
func TestReexportsAreTheProtocol(t *testing.T) {
	for _, pair := range [][2]error{
		{ErrNotFound, protocol.ErrNotFound},
		{ErrAlreadyExists, protocol.ErrAlreadyExists},
		{ErrVersionConflict, protocol.ErrVersionConflict},
		{ErrInvalidPageToken, protocol.ErrInvalidPageToken},
		{ErrUnauthenticated, protocol.ErrUnauthenticated},
		{ErrForbidden, protocol.ErrForbidden},
		{ErrTokenExpired, protocol.ErrTokenExpired},
		{ErrBadChannel, protocol.ErrBadChannel},
	} {
		assert.Same(t, pair[1], pair[0])
		assert.True(t, errors.Is(pair[0], pair[1]))
	}
	// The 1xxx codes are RFC 6455's, as the WebSocket library names them.
	assert.Equal(t, websocket.StatusGoingAway, CloseGoingAway)
	assert.Equal(t, websocket.StatusPolicyViolation, CloseBadFrame)
	assert.Equal(t, websocket.StatusMessageTooBig, CloseTooLarge)
	for server, proto := range map[websocket.StatusCode]protocol.CloseCode{
		CloseUnauthenticated: protocol.CloseUnauthenticated,
		CloseForbidden:       protocol.CloseForbidden,
		CloseTokenExpired:    protocol.CloseTokenExpired,
		CloseTooSlow:         protocol.CloseTooSlow,
	} {
		assert.Equal(t, int(proto), int(server))
	}
}
