// Package ssotwstest runs an ssot-ws server inside a test: an httptest
// server on loopback with the [ssotws.Gateway] mounted, a store and a
// broker (in memory unless the test passes its own), an in-process token
// authenticator for named test users wired into both the Connect
// interceptor and the gateway, and HTTP and WebSocket clients signed in as
// one of those users. Everything is closed when the test ends.
//
//	func TestLiveMessages(t *testing.T) {
//		srv := ssotwstest.NewServer(t, nil)
//		srv.RegisterChannels(chatv1ssotws.RegisterChannels)
//		svc := chatv1ssotws.NewChatService(srv.Store, srv.Broker, nil)
//		srv.Handle(chatv1ssotws.NewChatServiceHandler(svc, srv.HandlerOptions()...))
//
//		alice := chatv1ssotws.NewMessageClient(
//			chatv1connect.NewChatServiceClient(srv.HTTPClient("alice"), srv.URL),
//			srv.Dial(t, "alice"), nil)
//		// … create, subscribe, then srv.WaitFor(t, func() bool { … })
//	}
//
// The users are names: [Server.Token] issues a token for a name the first
// time it is asked, and the server's authenticator accepts exactly the
// tokens it issued, so a made-up token is refused as a real one would be.
// [Server.Issue] issues a token for a whole [ssotws.Identity] (claims, an
// expiry). A test that brings its own [ssotws.Authenticator] says which
// token each name presents with [Options].Token.
//
// The package imports testing, as net/http/httptest does: import it from
// _test.go files only. Its failures name the user and the URL and say
// what to check (the channels registered, the token refused), and the
// gateway's warnings and errors go to the test's log.
package ssotwstest
