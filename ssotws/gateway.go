package ssotws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// GatewayOptions configures a [Gateway]. A nil *GatewayOptions means the
// defaults. Hooks are called concurrently from many connections and must be
// safe for concurrent use; a hook that panics is recovered and only the
// request or delivery that called it fails.
type GatewayOptions struct {
	// AcceptOptions are handed to [websocket.Accept] (origin patterns,
	// compression). The gateway adds [Subprotocol] to Subprotocols.
	//
	// Compression (permessage-deflate) stays off unless CompressionMode
	// asks for it: with context takeover each connection keeps a 32 KiB
	// flate window (several times the ~10 KiB an idle connection costs
	// otherwise), and without it each message borrows a 1.2 MB writer;
	// the events are protobuf already.
	//
	// By default a browser may only connect from the gateway's own origin:
	// a handshake whose Origin header names another host is refused with
	// HTTP 403 (cross-site WebSocket hijacking). List the other origins
	// your pages are served from in AcceptOptions.OriginPatterns (for
	// example "app.example.com" or "*.example.com"); never set
	// InsecureSkipVerify in production. Clients that send no Origin
	// (servers, native apps) are not affected.
	AcceptOptions *websocket.AcceptOptions
	// Authenticator checks the token offered in the Sec-WebSocket-Protocol
	// header, in an Auth frame or, with AllowQueryToken, in the URL. Nil
	// means every connection is anonymous and Auth frames are ignored.
	Authenticator Authenticator
	// RequireAuth refuses anonymous connections: a connection that offered
	// no token in its handshake must send an Auth frame first, within
	// AuthTimeout; any other frame first, or none in time, closes it with
	// [CloseUnauthenticated]. Without an Authenticator every connection
	// is refused.
	RequireAuth bool
	// AuthTimeout is how long a connection has for its first Auth frame
	// when RequireAuth is set. Zero means 10 seconds.
	AuthTimeout time.Duration
	// AllowQueryToken accepts a token in the "token" query parameter of the
	// handshake URL. Tokens in URLs end up in access logs, proxies and
	// browser history, so this is off by default, and a handshake that
	// carries one anyway is closed with [CloseUnauthenticated]. Prefer the
	// Sec-WebSocket-Protocol header or an Auth frame.
	AllowQueryToken bool
	// Policy is the application's authorization policy: a Subscribe asks
	// its ReadChannel, each event its ReadRecord (a refused event is
	// dropped for that connection only). Give the resources the same one
	// ([ResourceOptions].Policy), so that HTTP reads decide alike.
	Policy Policy
	// Authorize, when set, is asked after the model's read access allowed
	// a subscription. id is nil for an anonymous connection. An error
	// refuses the subscription with ERROR_CODE_FORBIDDEN, or
	// ERROR_CODE_UNAUTHENTICATED if it wraps [ErrUnauthenticated].
	//
	// Deprecated: use Policy (its ReadChannel), which HTTP Get and List
	// ask too. Authorize still works, after Policy, for subscriptions only.
	Authorize func(ctx context.Context, id *Identity, m *Model, ch ChannelName) error
	// Filter, when set, is asked before each event is delivered to a
	// connection; false drops it for that connection only. ev is shared
	// and must not be modified. It runs on the connection's write loop.
	//
	// Deprecated: use Policy (its ReadRecord), which HTTP reads ask too.
	// Filter still works, after Policy, for events only.
	Filter func(ctx context.Context, id *Identity, m *Model, ev *wsv1.Event) bool
	// Limits bound each connection.
	Limits Limits
	// KeepAlive is the interval of server pings. Zero means 30 seconds; a
	// negative value disables them.
	KeepAlive time.Duration
	// WriteTimeout bounds each write to a connection; a client that does
	// not read for that long is disconnected. Zero means 10 seconds.
	WriteTimeout time.Duration
	// WriteDelay is how long a connection's write loop waits, once woken
	// by an event, for more events before it writes them all in one
	// message (as Centrifugo's write_delay). It trades latency (up to
	// WriteDelay more per event) for CPU: the server's cost is per
	// WebSocket message, so events that share a message are cheaper. It
	// pays on busy connections only: a connection that receives one event
	// every 50 ms still gets one message per event.
	//
	// Zero (the default) coalesces adaptively: while the server keeps up
	// every event is written at once; while it is behind (a connection's
	// write loop finds several events queued, that waited more than 3 ms,
	// three times in a row) the connection waits before each write for
	// about 10 events to arrive, at most 16 ms, so that they share a
	// message, and stops waiting as soon as it is on time again
	// (docs/architecture.md, "Adaptive coalescing"). While the server's
	// processors are saturated, every write loop also waits a pace (2 to
	// 128 ms) that keeps them under about 60 % busy, so that requests are
	// still read at once (docs/architecture.md, "Pacing at saturation").
	// A wait ends early when the connection's queue holds a quarter of
	// its bounds. A negative value writes at once, always; see
	// docs/decisions.md, "Gateway performance".
	// Unless WriteDelay is positive, an event for a connection with
	// nothing else queued is written by the fan-out itself while the
	// server is not saturated (docs/architecture.md, "Inline writes").
	WriteDelay time.Duration
	// Logger receives failures that reach no client, every refusal (at
	// Warn when it points at an attack or a misconfiguration, at Info
	// otherwise) and, at Debug, each connection's lifecycle; tokens are
	// never logged. Nil means slog.Default. docs/operations.md lists the
	// records.
	Logger *slog.Logger
	// MeterProvider receives the gateway's metrics (connections,
	// subscriptions, deliveries, drops, queue depth, commit-to-write
	// latency, refusals; see docs/operations.md). Nil means the global
	// provider of go.opentelemetry.io/otel, a no-op unless the
	// application set one.
	MeterProvider metric.MeterProvider
	// TracerProvider, when events were published through a
	// [TracingPublisher], gets one span per event's fan-out, a child of
	// its publish span (see tracing.go). Nil means the global provider.
	TracerProvider trace.TracerProvider
	// Cluster configures how revocations and MaxConnsPerUser reach the
	// gateways of other nodes, when the broker is a [ControlBroker]
	// (cluster.go); the zero value is the default.
	Cluster ClusterOptions
	// Presence bounds presence and ephemeral signals (presence.go).
	Presence PresenceOptions
}

// Gateway serves the WebSocket protocol of ssot-ws: clients subscribe to
// channels and receive the events a [Broker] carries. It is an
// [http.Handler]; mount it at a path such as "/ws". Models are taught with
// [Gateway.RegisterModel], usually by generated RegisterChannels functions.
//
// Each connection has one read loop, on a goroutine of its own (ServeHTTP
// returns once the connection is accepted), and a write loop that runs while
// there is something to write. Keep-alive pings come from one ticker per
// gateway. Events are encoded once per channel and the bytes are shared among
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
	tel        *telemetry   // metrics (telemetry.go); nil in tests that build a Gateway by hand
	tracer     trace.Tracer // fan-out spans (tracing.go)
	policy     Policy       // Policy and the older hooks (policy.go); nil allows
	hub        *hub
	encoded    *eventCache // replayed events, encoded once for every subscription
	stopListen func()
	cluster    *cluster     // nil: revocations and counts stay on this node (cluster.go)
	revoked    *revocations // recent revocations (revocation.go)
	presence   *presence    // who is in which channel; signals (presence.go)

	// modelsMu guards models: RegisterModel writes them, read loops look
	// them up (subscribe).
	modelsMu sync.RWMutex
	models   map[string]*Model

	// mu guards the fields below: the set of connections and the per-user
	// counts (written by ServeHTTP and each connection's serve as it
	// starts and ends, read by keepAlive, Shutdown and Revoke, which call
	// into the connections only after unlocking), the shutdown flag, and
	// the keep-alive goroutine's state.
	mu      sync.Mutex
	conns   map[*conn]struct{}
	users   map[string]int // open connections per authenticated subject
	closing bool
	wg      sync.WaitGroup // one per connection being accepted or served

	pinging  bool          // the keep-alive goroutine runs
	nextSlot uint32        // keep-alive slot of the next connection
	stopPing chan struct{} // closed by shutdown

	connSeq atomic.Uint64 // numbers connections in log records

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
	if o.AuthTimeout <= 0 {
		o.AuthTimeout = 10 * time.Second
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
		broker:  broker,
		opts:    o,
		policy:  gatewayPolicy(o),
		accept:  &accept,
		logger:  o.Logger,
		tel:     newTelemetry(o.MeterProvider, o.Logger),
		tracer:  newTracer(o.TracerProvider),
		hub:     newHub(),
		encoded: newEventCache(),
		models:  make(map[string]*Model),
		conns:   make(map[*conn]struct{}),
		users:   make(map[string]int),

		stopPing: make(chan struct{}),
		revoked:  newRevocations(o.Cluster.RevocationMemory, o.Cluster.MaxRevocations),
	}
	g.tel.observePace(g.hub.clock.paced, g.logger)
	if g.opts.Authenticator != nil {
		g.opts.Authenticator = checkRevoked{g.opts.Authenticator, g.revoked}
	}
	if o.RequireAuth && o.Authenticator == nil {
		g.logger.Error("ssotws: GatewayOptions.RequireAuth without an Authenticator: every connection will be refused")
	}
	g.stopListen = broker.Listen(func(events []*wsv1.Event) {
		spans := g.startFanout(events)
		g.hub.publish(events, func(ev *wsv1.Event, err error) {
			g.logger.Error("ssotws: encoding event", "channel", ev.Channel, "err", err)
		})
		g.endFanout(events, spans)
	})
	g.cluster = startCluster(g, o.Cluster)
	g.presence = newPresence(g)
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

// ServeHTTP accepts a WebSocket connection and returns; the connection is
// served on a goroutine of its own until it closes, and [Gateway.Shutdown]
// waits for it. (Returning lets net/http drop the request, the response
// and the stack of its serving goroutine for the connection's lifetime.)
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		http.Error(w, "ssotws: the gateway is shutting down", http.StatusServiceUnavailable)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()
	served := false
	defer func() {
		if !served {
			g.wg.Done()
		}
	}()

	cred := credentialsOf(r, g.opts.AllowQueryToken)
	sb := &smallBuffers{ResponseWriter: w, limits: g.opts.Limits}
	ws, err := websocket.Accept(sb, r, g.accept)
	if err != nil {
		// Accept wrote the response.
		g.handshakeFailed(r, sb.status, err)
		return
	}
	// r.Context() must not be used after Accept.
	c := newConn(g, ws)
	c.remote = r.RemoteAddr
	if g.accept.CompressionMode == websocket.CompressionDisabled {
		// Prepared messages go out uncompressed (direct.go).
		c.direct = sb.writer
	}
	if sb.counter != nil {
		// Set before the connection's first read (in c.serve).
		sb.counter.over = func() { c.refuse(refuseFrameRate, "", "too many frames") }
	}
	g.mu.Lock()
	closing := g.closing
	if !closing {
		g.conns[c] = struct{}{}
		g.nextSlot = (g.nextSlot + 1) % keepAliveSlots
		c.pingSlot = g.nextSlot
		if g.opts.KeepAlive > 0 && !g.pinging {
			g.pinging = true
			go g.keepAlive()
		}
	}
	g.mu.Unlock()
	if closing {
		_ = ws.Close(CloseGoingAway, "server shutting down")
		return
	}
	g.tel.connOpened(1)
	if g.logger.Enabled(context.Background(), slog.LevelDebug) {
		g.logger.LogAttrs(context.Background(), slog.LevelDebug, "ssotws: connection accepted",
			slog.Uint64("conn", c.seq), slog.String("remote", c.remote))
	}
	// The goroutine inherits this ServeHTTP's count in g.wg.
	served = true
	go func() {
		defer g.wg.Done()
		c.serve(cred)
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
		g.tel.connOpened(-1)
	}()
}

// handshakeFailed records a handshake that websocket.Accept refused with
// status: a refusal when the origin was not allowed, a debug record
// otherwise (not a WebSocket request, an unsupported version).
func (g *Gateway) handshakeFailed(r *http.Request, status int, err error) {
	if status == http.StatusForbidden {
		g.tel.refusal(g.logger, refuseOrigin,
			slog.String("user", ""), slog.String("remote", r.RemoteAddr),
			slog.String("origin", truncate(r.Header.Get("Origin"))), slog.String("detail", err.Error()))
		return
	}
	g.logger.LogAttrs(context.Background(), slog.LevelDebug, "ssotws: handshake failed",
		slog.Int("status", status), slog.String("remote", r.RemoteAddr), slog.String("err", err.Error()))
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
	if !g.closing {
		close(g.stopPing)
		g.tel.stopObserving()
	}
	g.closing = true
	conns := slices.Collect(maps.Keys(g.conns))
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
	defer g.cluster.stop()
	defer g.presence.stop()
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

// acquireUser counts one more connection of subject, reporting false (and
// counting nothing) when that would exceed [Limits].MaxConnsPerUser, here
// and, in a cluster, on the other nodes.
func (g *Gateway) acquireUser(subject string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if max := g.opts.Limits.MaxConnsPerUser; max > 0 && g.users[subject]+g.cluster.others(subject) >= max {
		return false
	}
	g.users[subject]++
	g.cluster.changed(subject, g.users[subject])
	return true
}

func (g *Gateway) releaseUser(subject string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.users[subject]--; g.users[subject] <= 0 {
		delete(g.users, subject)
	}
	g.cluster.changed(subject, g.users[subject])
}
