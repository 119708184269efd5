package protocol

import (
	"encoding/base64"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// CloseCode is the status code of a WebSocket close frame of the gateway:
// the CloseCode enum of frame.proto, so that the TypeScript runtime uses
// the same generated constants. Convert it to the WebSocket library's type
// (websocket.StatusCode(protocol.CloseTooSlow)) or compare in this type
// (protocol.CloseCode(websocket.CloseStatus(err))).
type CloseCode = wsv1.CloseCode

// Close codes of the gateway. The 4xxx codes mirror HTTP statuses.
const (
	// CloseGoingAway: the server is shutting down; reconnect elsewhere or later.
	CloseGoingAway = wsv1.CloseCode_CLOSE_CODE_GOING_AWAY // 1001
	// CloseBadFrame: a text frame or a frame that is not a ClientFrame.
	CloseBadFrame = wsv1.CloseCode_CLOSE_CODE_BAD_FRAME // 1008
	// CloseTooLarge: a frame larger than the server's message size limit.
	CloseTooLarge = wsv1.CloseCode_CLOSE_CODE_TOO_LARGE // 1009
	// CloseUnauthenticated: the token was rejected.
	CloseUnauthenticated = wsv1.CloseCode_CLOSE_CODE_UNAUTHENTICATED // 4401
	// CloseForbidden: the identity may not use this connection.
	CloseForbidden = wsv1.CloseCode_CLOSE_CODE_FORBIDDEN // 4403
	// CloseTokenExpired: the token expired and no fresh Auth frame came.
	CloseTokenExpired = wsv1.CloseCode_CLOSE_CODE_TOKEN_EXPIRED // 4408
	// CloseTooSlow: a limit was exceeded or the client did not read fast
	// enough; it should reconnect and resume from its last position.
	CloseTooSlow = wsv1.CloseCode_CLOSE_CODE_TOO_SLOW // 4429
)

// Subprotocols of the gateway. A client offers [Subprotocol] and, to
// authenticate without an Auth frame, [AuthSubprotocolPrefix] followed by
// its token in unpadded base64url; the server selects [Subprotocol].
const (
	Subprotocol           = "ssot.v1"
	AuthSubprotocolPrefix = "ssot.auth."
)

// AuthSubprotocol returns the subprotocol that carries token.
func AuthSubprotocol(token string) string {
	return AuthSubprotocolPrefix + base64.RawURLEncoding.EncodeToString([]byte(token))
}
