package ssotwstest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// HTTPClient returns an HTTP client of the server that signs every
// request in as user ("Authorization: Bearer " + [Server.Token](user)),
// unless the request carries an Authorization header already. Give it to
// the connect-go client constructors:
//
//	chatv1connect.NewChatServiceClient(srv.HTTPClient("alice"), srv.URL)
//
// The empty name gives an anonymous client. Its idle connections are
// closed with the server.
func (s *Server) HTTPClient(user string) *http.Client {
	base := s.HTTP.Client()
	token := s.Token(user)
	if token == "" {
		return base
	}
	return &http.Client{
		Transport:     &bearer{base: base.Transport, token: token},
		CheckRedirect: base.CheckRedirect,
		Jar:           base.Jar,
		Timeout:       base.Timeout,
	}
}

// bearer adds an Authorization header to the requests that have none.
type bearer struct {
	base  http.RoundTripper
	token string
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") != "" {
		return b.base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// CloseIdleConnections lets the server's Close reach the connections of
// this client's transport.
func (b *bearer) CloseIdleConnections() {
	if c, ok := b.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// TokenSource returns a [client.TokenSource] of user's token, for a
// [client.ConnOptions] or [client.NewTokenInterceptor]; nil (anonymous)
// for the empty name.
func (s *Server) TokenSource(user string) client.TokenSource {
	token := s.Token(user)
	if token == "" {
		return nil
	}
	return client.StaticToken(token)
}

// ConnOptions returns the options of a [client.Conn] signed in as user
// (anonymous for the empty name): user's [Server.TokenSource], reconnects
// spaced for a test (10 ms doubling to 250 ms rather than seconds), the
// server's logger, and an OnError that logs the subscriptions the server
// refused, with a hint when the channel is unknown. Change what you need
// before [client.NewConn] or [client.Dial]:
//
//	opts := srv.ConnOptions("alice")
//	opts.NoDeltas = true
//	conn := client.NewConn(srv.WebSocketURL(), opts)
//	t.Cleanup(func() { conn.Close() })
func (s *Server) ConnOptions(user string) *client.ConnOptions {
	return &client.ConnOptions{
		TokenSource: s.TokenSource(user),
		Backoff:     client.Backoff{Base: 10 * time.Millisecond, Max: 250 * time.Millisecond},
		Logger:      s.log,
		OnError: func(channel string, err error) {
			hint := ""
			if strings.Contains(err.Error(), wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL.String()) {
				hint = "is its model registered with Server.RegisterChannels?"
			}
			s.log.Warn("ssotwstest: the gateway refused a subscription",
				"user", nameOf(user), "channel", channel, "err", err, "hint", hint)
		},
	}
}

// Dial returns a [client.Conn] to the gateway, open and signed in as user
// (anonymous for the empty name), with the options of
// [Server.ConnOptions]. It is closed when t ends (before the server, when
// t is the server's test or one of its subtests). If the connection does
// not open within the timeout, or the gateway refuses user's token, the
// test fails with the reason.
func (s *Server) Dial(t testing.TB, user string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	conn, err := client.Dial(ctx, s.WebSocketURL(), s.ConnOptions(user))
	if err != nil {
		t.Fatalf("ssotwstest: dialling %s as %s: %v%s", s.WebSocketURL(), nameOf(user), err, s.dialHint(user, err))
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// dialHint says what to check after a failed Dial.
func (s *Server) dialHint(user string, err error) string {
	switch {
	case user == "" && s.requireAuth:
		return " (Options.RequireAuth refuses anonymous connections: dial as a named user)"
	case errors.Is(err, client.ErrSignedOut) || errors.Is(err, client.ErrIdentityChanged):
		if s.tokens == nil {
			return " (the gateway refused the token: does Options.Token give one Options.Authenticator accepts?)"
		}
		return " (the gateway refused the token: was the user's identity revoked, or its token expired?)"
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf(" (not open within %v; is the test's load or Limits.MaxConnsPerUser in the way?)", s.timeout)
	}
	return ""
}

// nameOf is user as failures name it.
func nameOf(user string) string {
	if user == "" {
		return "an anonymous user"
	}
	return fmt.Sprintf("%q", user)
}
