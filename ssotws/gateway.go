package ssotws

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// Close codes of the gateway. The 4xxx codes mirror HTTP statuses.
const (
	// CloseGoingAway: the server is shutting down; reconnect elsewhere or later.
	CloseGoingAway = websocket.StatusGoingAway // 1001
	// CloseBadFrame: a text frame or a frame that is not a ClientFrame.
	CloseBadFrame = websocket.StatusPolicyViolation // 1008
	// CloseTooLarge: a frame larger than [Limits].MaxMessageBytes.
	CloseTooLarge = websocket.StatusMessageTooBig // 1009
	// CloseUnauthenticated: the token was rejected.
	CloseUnauthenticated websocket.StatusCode = 4401
	// CloseForbidden: the identity may not use this connection.
	CloseForbidden websocket.StatusCode = 4403
	// CloseTokenExpired: the token expired and no fresh Auth frame came.
	CloseTokenExpired websocket.StatusCode = 4408
	// CloseTooSlow: a limit was exceeded or the client did not read fast
	// enough; it should reconnect and resume from its last position.
	CloseTooSlow websocket.StatusCode = 4429
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

// Errors an [GatewayOptions].Authorize hook may return (wrapped or not) to
// choose the Error code of a refused subscription. Any other error reads as
// forbidden.
var (
	ErrUnauthenticated = errors.New("ssotws: unauthenticated")
	ErrForbidden       = errors.New("ssotws: forbidden")
)

// Limits bound what one connection may use. Zero fields mean the defaults.
type Limits struct {
	// MaxSubscriptions per connection. Default 50.
	MaxSubscriptions int
	// MaxMessageBytes bounds a client frame; a larger one closes the
	// connection with [CloseTooLarge]. Default 64 KiB.
	MaxMessageBytes int64
	// SendQueue bounds the frames queued for a connection (a subscription's
	// replay does not count). When it is full even after coalescing, the
	// connection is closed with [CloseTooSlow]. Default 256.
	SendQueue int
	// MaxBatchBytes bounds the events packed into one Events frame; a single
	// larger event is sent alone. Clients must accept messages of this
	// size. Default 1 MiB.
	MaxBatchBytes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSubscriptions <= 0 {
		l.MaxSubscriptions = 50
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = 64 << 10
	}
	if l.SendQueue <= 0 {
		l.SendQueue = 256
	}
	if l.MaxBatchBytes <= 0 {
		l.MaxBatchBytes = 1 << 20
	}
	return l
}

// GatewayOptions configures a [Gateway]. A nil *GatewayOptions means the
// defaults. Hooks are called concurrently from many connections and must be
// safe for concurrent use; a hook that panics is recovered and only the
// request or delivery that called it fails.
type GatewayOptions struct {
	// AcceptOptions are handed to [websocket.Accept] (origin patterns,
	// compression). The gateway adds [Subprotocol] to Subprotocols.
	AcceptOptions *websocket.AcceptOptions
	// Authenticator checks the token offered in the Sec-WebSocket-Protocol
	// header or in an Auth frame. Nil means every connection is anonymous.
	Authenticator Authenticator
	// Authorize, when set, is asked after the model's read access allowed
	// a subscription. id is nil for an anonymous connection. An error
	// refuses the subscription with ERROR_CODE_FORBIDDEN, or
	// ERROR_CODE_UNAUTHENTICATED if it wraps [ErrUnauthenticated].
	Authorize func(ctx context.Context, id *Identity, m *Model, ch ChannelName) error
	// Filter, when set, is asked before each event is delivered to a
	// connection; false drops it for that connection only. ev is shared
	// and must not be modified. It runs on the connection's write loop.
	Filter func(ctx context.Context, id *Identity, m *Model, ev *wsv1.Event) bool
	// Limits bound each connection.
	Limits Limits
	// KeepAlive is the interval of server pings. Zero means 30 seconds; a
	// negative value disables them.
	KeepAlive time.Duration
	// WriteTimeout bounds each write to a connection; a client that does
	// not read for that long is disconnected. Zero means 10 seconds.
	WriteTimeout time.Duration
	// Logger receives failures that reach no client. Nil means slog.Default.
	Logger *slog.Logger
}

// Gateway serves the WebSocket protocol of ssot-ws: clients subscribe to
// channels and receive the events a [Broker] carries. It is an
// [http.Handler]; mount it at a path such as "/ws". Models are taught with
// [Gateway.RegisterModel], usually by generated RegisterChannels functions.
//
// Each connection has one read loop (the ServeHTTP goroutine) and one write
// loop. Events are encoded once per channel and the bytes are shared among
// subscribers; everything queued for a connection goes out in one Events
// frame. A connection that cannot keep up is closed with [CloseTooSlow]
// and never slows the others.
//
// A Gateway is safe for concurrent use.
type Gateway struct {
	broker     Broker
	opts       GatewayOptions
	accept     *websocket.AcceptOptions
	logger     *slog.Logger
	hub        *hub
	stopListen func()

	modelsMu sync.RWMutex
	models   map[string]*Model

	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing bool
	wg      sync.WaitGroup // one per ServeHTTP past the closing check

	// onClose, when set (by tests), hears every close the gateway starts.
	onClose func(code websocket.StatusCode)
}

var _ ChannelRegistry = (*Gateway)(nil)
var _ http.Handler = (*Gateway)(nil)

// NewGateway returns a gateway that delivers the events of broker. It
// listens to the broker until [Gateway.Shutdown] or [Gateway.Close].
func NewGateway(broker Broker, opts *GatewayOptions) *Gateway {
	var o GatewayOptions
	if opts != nil {
		o = *opts
	}
	o.Limits = o.Limits.withDefaults()
	if o.KeepAlive == 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var accept websocket.AcceptOptions
	if o.AcceptOptions != nil {
		accept = *o.AcceptOptions
	}
	if !slices.Contains(accept.Subprotocols, Subprotocol) {
		accept.Subprotocols = append([]string{Subprotocol}, accept.Subprotocols...)
	}
	g := &Gateway{
		broker: broker,
		opts:   o,
		accept: &accept,
		logger: o.Logger,
		hub:    newHub(),
		models: make(map[string]*Model),
		conns:  make(map[*conn]struct{}),
	}
	g.stopListen = broker.Listen(func(events []*wsv1.Event) {
		g.hub.publish(events, func(ev *wsv1.Event, err error) {
			g.logger.Error("ssotws: encoding event", "channel", ev.Channel, "err", err)
		})
	})
	return g
}

// RegisterModel teaches the gateway the channels of m. Registering the same
// model twice is harmless; a different model with the same name (in
// another package) is an error, since channel names would clash.
func (g *Gateway) RegisterModel(m *Model) error {
	if m == nil {
		return errors.New("ssotws: register: nil model")
	}
	if !m.Realtime() {
		return fmt.Errorf("ssotws: register: %s is not a realtime model", m.FullName())
	}
	g.modelsMu.Lock()
	defer g.modelsMu.Unlock()
	if prev := g.models[m.Name()]; prev != nil {
		if prev.FullName() == m.FullName() {
			g.models[m.Name()] = m
			return nil
		}
		return fmt.Errorf("ssotws: register: %s and %s share the channel name %q", prev.FullName(), m.FullName(), m.Name())
	}
	g.models[m.Name()] = m
	return nil
}

func (g *Gateway) model(name string) *Model {
	g.modelsMu.RLock()
	defer g.modelsMu.RUnlock()
	return g.models[name]
}

// ServeHTTP accepts a WebSocket connection and serves it until it closes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		http.Error(w, "ssotws: the gateway is shutting down", http.StatusServiceUnavailable)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	defer g.wg.Done()

	token, hasToken := tokenFromProtocols(r.Header)
	ws, err := websocket.Accept(w, r, g.accept)
	if err != nil {
		return // Accept wrote the response
	}
	// r.Context() must not be used after Accept.
	c := newConn(g, ws)
	g.mu.Lock()
	closing := g.closing
	if !closing {
		g.conns[c] = struct{}{}
	}
	g.mu.Unlock()
	if closing {
		_ = ws.Close(CloseGoingAway, "server shutting down")
		return
	}
	c.serve(token, hasToken)
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// tokenFromProtocols finds the token offered as an "ssot.auth.<base64url>"
// subprotocol.
func tokenFromProtocols(h http.Header) (string, bool) {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			p = strings.TrimSpace(p)
			if enc, ok := strings.CutPrefix(p, AuthSubprotocolPrefix); ok {
				b, err := base64.RawURLEncoding.DecodeString(enc)
				if err != nil {
					return "", true // an offered but unreadable token fails authentication
				}
				return string(b), true
			}
		}
	}
	return "", false
}

// Shutdown stops accepting connections, closes every open one with
// [CloseGoingAway] and waits until their loops have ended or ctx is done,
// whichever comes first. It stops listening to the broker (which it does
// not close). Connections still closing when ctx ends finish in the
// background.
func (g *Gateway) Shutdown(ctx context.Context) error {
	return g.shutdown(ctx, CloseGoingAway)
}

// Close closes every connection at once, without the closing handshake,
// and waits for their loops to end.
func (g *Gateway) Close() error {
	return g.shutdown(context.Background(), 0)
}

func (g *Gateway) shutdown(ctx context.Context, code websocket.StatusCode) error {
	g.mu.Lock()
	g.closing = true
	conns := make([]*conn, 0, len(g.conns))
	for c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		c.closeWith(code, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	defer g.stopListen()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Conns returns the number of open connections.
func (g *Gateway) Conns() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}
