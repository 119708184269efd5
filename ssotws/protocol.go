package ssotws

import (
	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The vocabulary server and clients share lives in package protocol, which
// clients and the plugin import without linking the server. These names
// re-export it so that generated code and applications written against
// ssotws keep compiling: the types are aliases, the errors the same values
// (errors.Is matches either name).

// Model descriptors: see [protocol.Model].
type (
	Model       = protocol.Model
	ModelConfig = protocol.ModelConfig
)

// NewModel describes the message desc as a model: see [protocol.NewModel].
func NewModel(desc protoreflect.MessageDescriptor, cfg ModelConfig) (*Model, error) {
	return protocol.NewModel(desc, cfg)
}

// MustModel is like [NewModel] but panics on error: see [protocol.MustModel].
func MustModel(desc protoreflect.MessageDescriptor, cfg ModelConfig) *Model {
	return protocol.MustModel(desc, cfg)
}

// Channel names: see [protocol.ParseChannel].
type (
	ChannelKind = protocol.ChannelKind
	ChannelName = protocol.ChannelName
)

// The kinds of channel.
const (
	ChannelModel = protocol.ChannelModel
	ChannelItem  = protocol.ChannelItem
	ChannelScope = protocol.ChannelScope
)

// MaxChannelLen bounds the length of a channel name.
const MaxChannelLen = protocol.MaxChannelLen

// ParentScope is the scope an AIP resource's parent gives its records:
// see [protocol.ParentScope].
const ParentScope = protocol.ParentScope

// ErrBadChannel is returned by [ParseChannel] for a malformed name.
var ErrBadChannel = protocol.ErrBadChannel

// ModelChannel names the channel that carries every record of a model.
func ModelChannel(model string) string { return protocol.ModelChannel(model) }

// ItemChannel names the channel of one record. The key is path-escaped.
func ItemChannel(model, key string) string { return protocol.ItemChannel(model, key) }

// ScopeChannel names the channel of the records whose field equals value.
// The value is query-escaped.
func ScopeChannel(model, field, value string) string {
	return protocol.ScopeChannel(model, field, value)
}

// ParseChannel parses a channel name: see [protocol.ParseChannel].
func ParseChannel(name string) (ChannelName, error) { return protocol.ParseChannel(name) }

// FormatPosition formats a position as "<epoch>:<offset>".
func FormatPosition(p *wsv1.Position) string { return protocol.FormatPosition(p) }

// ParsePosition parses the form written by [FormatPosition].
func ParsePosition(s string) (*wsv1.Position, error) { return protocol.ParsePosition(s) }

// HTTP headers used by ssot-ws on top of Connect: see [protocol.HeaderPosition].
const (
	HeaderIdempotencyKey = protocol.HeaderIdempotencyKey
	HeaderPosition       = protocol.HeaderPosition
	HeaderChannel        = protocol.HeaderChannel
)

// Close codes of the gateway, in the WebSocket library's type: the values
// of [protocol.CloseCode], which frame.proto's CloseCode enum defines.
const (
	// CloseGoingAway: the server is shutting down; reconnect elsewhere or later.
	CloseGoingAway = websocket.StatusCode(protocol.CloseGoingAway) // 1001
	// CloseBadFrame: a text frame or a frame that is not a ClientFrame.
	CloseBadFrame = websocket.StatusCode(protocol.CloseBadFrame) // 1008
	// CloseTooLarge: a frame larger than [Limits].MaxMessageBytes.
	CloseTooLarge = websocket.StatusCode(protocol.CloseTooLarge) // 1009
	// CloseUnauthenticated: the token was rejected.
	CloseUnauthenticated = websocket.StatusCode(protocol.CloseUnauthenticated) // 4401
	// CloseForbidden: the identity may not use this connection.
	CloseForbidden = websocket.StatusCode(protocol.CloseForbidden) // 4403
	// CloseTokenExpired: the token expired and no fresh Auth frame came.
	CloseTokenExpired = websocket.StatusCode(protocol.CloseTokenExpired) // 4408
	// CloseTooSlow: a limit was exceeded or the client did not read fast
	// enough; it should reconnect and resume from its last position.
	CloseTooSlow = websocket.StatusCode(protocol.CloseTooSlow) // 4429
)

// Subprotocols of the gateway. A client offers [Subprotocol] and, to
// authenticate without an Auth frame, [AuthSubprotocolPrefix] followed by
// its token in unpadded base64url; the server selects [Subprotocol].
const (
	Subprotocol           = protocol.Subprotocol
	AuthSubprotocolPrefix = protocol.AuthSubprotocolPrefix
)

// AuthSubprotocol returns the subprotocol that carries token.
func AuthSubprotocol(token string) string { return protocol.AuthSubprotocol(token) }

// Errors returned by a [Store]. Store implementations return them (wrapped
// with %w if they like); [Resource] maps them to Connect codes.
var (
	// ErrNotFound: the record does not exist (or was deleted).
	ErrNotFound = protocol.ErrNotFound
	// ErrAlreadyExists: a record with this key exists.
	ErrAlreadyExists = protocol.ErrAlreadyExists
	// ErrVersionConflict: the record's version is not the expected one.
	ErrVersionConflict = protocol.ErrVersionConflict
	// ErrInvalidPageToken: the page token was not issued by this store.
	ErrInvalidPageToken = protocol.ErrInvalidPageToken
)

// Errors an [GatewayOptions].Authorize hook may return (wrapped or not) to
// choose the Error code of a refused subscription. Any other error reads as
// forbidden.
var (
	ErrUnauthenticated = protocol.ErrUnauthenticated
	ErrForbidden       = protocol.ErrForbidden
)

// ErrTokenExpired may be returned (wrapped or not) by an [Authenticator]
// for a token that was valid but has expired. The gateway then closes with
// [CloseTokenExpired] rather than [CloseUnauthenticated], and the Connect
// interceptor says so in its Unauthenticated error, so that a client knows
// to ask its token provider for a fresh token.
var ErrTokenExpired = protocol.ErrTokenExpired

// Text forms of keys and values: see [protocol.FormatKey].
type (
	KeyType    = protocol.KeyType
	ScalarType = protocol.ScalarType
)

// FormatKey returns the canonical text form of a key: the string itself,
// or the integer in decimal.
func FormatKey[K KeyType](k K) string { return protocol.FormatKey(k) }

// FormatScalar returns the canonical text form of a scalar value, as
// channel names and filters carry it: see [protocol.FormatScalar].
func FormatScalar[V ScalarType](v V) string { return protocol.FormatScalar(v) }

// ParseValue parses the canonical text form of a scalar field's value: see
// [protocol.ParseValue].
func ParseValue(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	return protocol.ParseValue(fd, s)
}

// Version is the semantic version of the ssot-ws Go runtime.
const Version = protocol.Version

// truncate shortens a channel name quoted in an error message.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
