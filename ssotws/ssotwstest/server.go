package ssotwstest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
)

// DefaultTimeout bounds [Server.WaitFor], [Server.Dial], [Server.Context]
// and the gateway's shutdown at the end of the test, unless
// [Options].Timeout says otherwise. It is a bound on a wait that should
// end far sooner, not an expected duration: a condition that holds ends
// the wait at once.
const DefaultTimeout = 10 * time.Second

// Options configures [NewServer]. A nil *Options means the defaults.
type Options struct {
	// Store keeps the records. Nil means a new [ssotws.MemoryStore].
	Store ssotws.Store
	// Broker carries the events. Nil means a new [ssotws.MemoryBroker],
	// closed when the test ends; a broker given here is left open (its
	// owner closes it).
	Broker ssotws.Broker
	// Authenticator replaces the server's own authenticator of test users,
	// in the Connect interceptor of [Server.HandlerOptions] and in the
	// gateway. Set Token with it, so that the clients of a named user
	// present a token it accepts.
	Authenticator ssotws.Authenticator
	// Token returns the token the user named user presents
	// ([Server.Token], and so [Server.HTTPClient], [Server.Dial]). Nil
	// means tokens the server issues itself, or, with an Authenticator,
	// the name itself.
	Token func(user string) string
	// RequireAuth refuses calls and connections without a token, in the
	// Connect interceptor and in the gateway. By default they go on
	// anonymously and the models' access rules decide.
	RequireAuth bool
	// Limits bound each WebSocket connection; the zero value means the
	// gateway's defaults (among them 5 connections per user).
	Limits ssotws.Limits
	// Gateway holds the other options of the gateway (Authorize, Filter,
	// KeepAlive, Presence …). Its Authenticator and RequireAuth are
	// replaced by the ones above, its Limits by Limits when Limits is not
	// the zero value, and a nil Logger by the test's.
	Gateway *ssotws.GatewayOptions
	// WebSocketPath is where the gateway is mounted. Empty means "/ws".
	WebSocketPath string
	// Timeout bounds the waits of the server's helpers. Zero means
	// [DefaultTimeout].
	Timeout time.Duration
	// Logger receives the gateway's and the clients' log records. Nil
	// means the test's log ([testing.TB.Log]), at level Warn and above,
	// until the test ends.
	Logger *slog.Logger
}

// Server is an ssot-ws server on a loopback httptest server. Build it
// with [NewServer]; mount the generated handlers with [Server.Handle] and
// [Server.HandlerOptions], and teach the gateway their channels with
// [Server.RegisterChannels]. Its methods are safe for concurrent use,
// except those that may fail a test, which follow the rules of testing:
// call the ones that take a testing.TB from that test's goroutine, and
// Handle, RegisterChannels and Issue, which fail the test the server was
// made for, from that one's.
type Server struct {
	// URL is the server's base URL, "http://127.0.0.1:<port>": the
	// address connect-go clients are given.
	URL string
	// Store is the store the services should keep their records in.
	Store ssotws.Store
	// Broker is the broker the services should publish to, and the one
	// the gateway listens to.
	Broker ssotws.Broker
	// Gateway is the WebSocket gateway, mounted at [Server.WebSocketURL].
	Gateway *ssotws.Gateway
	// HTTP is the underlying httptest server.
	HTTP *httptest.Server

	tb          testing.TB
	mux         *http.ServeMux
	wsPath      string
	timeout     time.Duration
	requireAuth bool
	auth        ssotws.Authenticator
	tokens      *issuer
	tokenOf     func(string) string
	log         *slog.Logger
	testLog     *testWriter // nil with Options.Logger
	ownBroker   bool
	closeOnce   sync.Once
}

// NewServer starts a server for the test tb and registers its shutdown
// with tb.Cleanup: when the test ends, the gateway closes its
// connections (the clients of [Server.Dial] are closed before), the HTTP
// server closes, and the broker closes if the server created it.
func NewServer(tb testing.TB, opts *Options) *Server {
	tb.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Server{
		tb:          tb,
		mux:         http.NewServeMux(),
		wsPath:      o.WebSocketPath,
		timeout:     o.Timeout,
		requireAuth: o.RequireAuth,
		Store:       o.Store,
		Broker:      o.Broker,
		log:         o.Logger,
		tokenOf:     o.Token,
	}
	if s.wsPath == "" {
		s.wsPath = "/ws"
	}
	if !strings.HasPrefix(s.wsPath, "/") {
		tb.Fatalf("ssotwstest: Options.WebSocketPath %q must start with /", s.wsPath)
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.log == nil {
		s.testLog = &testWriter{tb: tb}
		s.log = slog.New(slog.NewTextHandler(s.testLog, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if s.Store == nil {
		s.Store = ssotws.NewMemoryStore()
	}
	if s.Broker == nil {
		s.Broker = ssotws.NewMemoryBroker(nil)
		s.ownBroker = true
	}
	s.auth = o.Authenticator
	if s.auth == nil {
		s.tokens = newIssuer()
		s.auth = s.tokens
	}

	var g ssotws.GatewayOptions
	if o.Gateway != nil {
		g = *o.Gateway
	}
	g.Authenticator = s.auth
	g.RequireAuth = o.RequireAuth
	if !reflect.ValueOf(o.Limits).IsZero() {
		g.Limits = o.Limits
	}
	if g.Logger == nil {
		g.Logger = s.log
	}
	s.Gateway = ssotws.NewGateway(s.Broker, &g)
	s.mux.Handle(s.wsPath, s.Gateway)
	s.HTTP = httptest.NewServer(s.mux)
	s.URL = s.HTTP.URL
	tb.Cleanup(s.Close)
	return s
}

// Close shuts the server down, as the end of the test does: the gateway
// closes every connection (clients see close code 1001, going away) and
// waits, up to the timeout, for them to end; then the HTTP server closes
// and, if the server created the broker, the broker. Calling it again
// does nothing. A test calls it to see what its clients do when the
// server goes away; otherwise the cleanup does.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		if err := s.Gateway.Shutdown(ctx); err != nil {
			s.tb.Errorf("ssotwstest: the gateway's connections did not end within %v of shutdown: %v", s.timeout, err)
		}
		s.HTTP.Close()
		if s.ownBroker {
			if err := s.Broker.Close(); err != nil {
				s.tb.Errorf("ssotwstest: closing the broker: %v", err)
			}
		}
		// Nothing may log to the test once it has ended.
		if s.testLog != nil {
			s.testLog.stop()
		}
	})
}

// Handle mounts h at pattern on the server's mux, as
// [http.ServeMux.Handle] does. The generated handler constructors return
// both, so they can be passed straight in:
//
//	srv.Handle(chatv1ssotws.NewChatServiceHandler(svc, srv.HandlerOptions()...))
//
// The gateway's path (Options.WebSocketPath, "/ws") is taken; a pattern
// that conflicts with another fails the test.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.tb.Helper()
	defer func() {
		if r := recover(); r != nil {
			s.tb.Fatalf("ssotwstest: Handle(%q): %v", pattern, r)
		}
	}()
	s.mux.Handle(pattern, h)
}

// HandlerOptions returns the Connect handler options that authenticate
// calls with the server's authenticator ([ssotws.NewAuthInterceptor],
// with Options.RequireAuth), followed by opts. Give them to the generated
// New<Service>Handler constructor, which adds ssot-ws's request bounds
// itself.
func (s *Server) HandlerOptions(opts ...connect.HandlerOption) []connect.HandlerOption {
	auth := ssotws.NewAuthInterceptor(s.auth, &ssotws.AuthInterceptorOptions{
		RequireAuth: s.requireAuth,
		Logger:      s.log,
	})
	return append([]connect.HandlerOption{connect.WithInterceptors(auth)}, opts...)
}

// RegisterChannels teaches the gateway the channels of the realtime
// models, with the generated RegisterChannels functions of each package
// the test serves:
//
//	srv.RegisterChannels(chatv1ssotws.RegisterChannels)
//
// Without it the gateway refuses subscriptions to those models as unknown
// channels. An error fails the test.
func (s *Server) RegisterChannels(register ...func(ssotws.ChannelRegistry) error) {
	s.tb.Helper()
	for _, r := range register {
		if err := r(s.Gateway); err != nil {
			s.tb.Fatalf("ssotwstest: registering channels: %v", err)
		}
	}
}

// Authenticator returns the authenticator the server checks tokens with:
// Options.Authenticator, or its own, which accepts the tokens of
// [Server.Token] and [Server.Issue]. A test that builds its own mux or
// gateway gives it this one, to accept the same tokens.
func (s *Server) Authenticator() ssotws.Authenticator { return s.auth }

// WebSocketURL returns the gateway's URL, "ws://127.0.0.1:<port>/ws", the
// address a [client.Conn] is given.
func (s *Server) WebSocketURL() string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + s.wsPath
}

// testWriter writes the records of a slog text handler to the test's log
// until stop, after which it drops them: testing panics on a log line
// that arrives after the test has ended.
type testWriter struct {
	tb      testing.TB
	mu      sync.RWMutex
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.stopped {
		w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}
