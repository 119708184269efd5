// Package protocol is the vocabulary the ssot-ws server and its clients
// agree on, and nothing of the server: channel names ([ModelChannel],
// [ItemChannel], [ScopeChannel], [ParseChannel]), channel positions
// ([FormatPosition]), the HTTP headers ssot-ws adds to Connect
// ([HeaderPosition]…), the WebSocket close codes ([CloseTooSlow]…) and
// subprotocols ([Subprotocol], [AuthSubprotocol]), model descriptors
// ([Model], [NewModel]), the text form of keys and field values
// ([FormatKey], [ParseValue]), the sentinel errors whose text crosses the
// wire ([ErrNotFound], [ErrTokenExpired]…) and the runtime [Version].
//
// The server runtime (package ssotws), the Go client (ssotws/client) and
// the plugin (protoc-gen-ssot-ws) import it; it imports only the standard
// library, protobuf and the wire types of package wsv1, so a client or the
// plugin that imports it links neither Connect nor a WebSocket library nor
// the gateway. Package ssotws re-exports every name here (as type aliases,
// constants and the same error values), so code written against ssotws
// keeps compiling and errors.Is matches either name.
//
// The TypeScript runtime has the same vocabulary: the close codes are the
// CloseCode enum generated from frame.proto, the rest is in
// ts/runtime/src/protocol.ts.
package protocol
