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
	// WriteDelay is how long a connection's write loop waits, once woken
	// by an event, for more events before it writes them all in one
	// message (as Centrifugo's write_delay). It trades latency (up to
	// WriteDelay more per event) for CPU: the server's cost is per
	// WebSocket message, so events that share a message are cheaper. It
	// pays on busy connections only: a connection that receives one event
	// every 50 ms still gets one message per event. Zero (the default)
	// writes at once; see docs/decisions.md, "Gateway performance".
	WriteDelay time.Duration
	// Logger receives failures that reach no client. Nil means slog.Default.
	Logger *slog.Logger
	// Cluster configures how revocations and MaxConnsPerUser reach the
	// gateways of other nodes, when the broker is a [ControlBroker]
	// (cluster.go); the zero value is the default.
	Cluster ClusterOptions
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
	hub        *hub
	encoded    *eventCache // replayed events, encoded once for every subscription
	stopListen func()
	cluster    *cluster     // nil: revocations and counts stay on this node (cluster.go)
	revoked    *revocations // recent revocations (revocation.go)

	modelsMu sync.RWMutex
	models   map[string]*Model

	mu      sync.Mutex
	conns   map[*conn]struct{}
	users   map[string]int // open connections per authenticated subject
	closing bool
	wg      sync.WaitGroup // one per connection being accepted or served

	pinging  bool          // the keep-alive goroutine runs
	nextSlot uint32        // keep-alive slot of the next connection
	stopPing chan struct{} // closed by shutdown

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
		accept:  &accept,
		logger:  o.Logger,
		hub:     newHub(),
		encoded: newEventCache(),
		models:  make(map[string]*Model),
		conns:   make(map[*conn]struct{}),
		users:   make(map[string]int),

		stopPing: make(chan struct{}),
		revoked:  newRevocations(o.Cluster.RevocationMemory, o.Cluster.MaxRevocations),
	}
	if g.opts.Authenticator != nil {
		g.opts.Authenticator = checkRevoked{g.opts.Authenticator, g.revoked}
	}
	if o.RequireAuth && o.Authenticator == nil {
		g.logger.Error("ssotws: GatewayOptions.RequireAuth without an Authenticator: every connection will be refused")
	}
	g.stopListen = broker.Listen(func(events []*wsv1.Event) {
		g.hub.publish(events, func(ev *wsv1.Event, err error) {
			g.logger.Error("ssotws: encoding event", "channel", ev.Channel, "err", err)
		})
	})
	g.cluster = startCluster(g, o.Cluster)
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
		return // Accept wrote the response
	}
	// r.Context() must not be used after Accept.
	c := newConn(g, ws)
	if sb.counter != nil {
		// Set before the connection's first read (in c.serve).
		sb.counter.over = func() { c.closeWith(CloseTooSlow, "too many frames") }
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
	// The goroutine inherits this ServeHTTP's count in g.wg.
	served = true
	go func() {
		defer g.wg.Done()
		c.serve(cred)
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
	}()
}

// keepAliveSlots spreads keep-alive pings over the interval: each tick
// (KeepAlive / keepAliveSlots) pings one slot of the connections, so that
// thousands of pings (and their goroutines) are not in flight at once.
const keepAliveSlots = 8

// keepAlive pings every connection once per KeepAlive interval, from one
// ticker for the whole gateway (instead of a timer per connection). It
// ends with the last connection, or at shutdown; the next connection
// starts it again.
func (g *Gateway) keepAlive() {
	t := time.NewTicker(max(g.opts.KeepAlive/keepAliveSlots, time.Millisecond))
	defer t.Stop()
	var conns []*conn
	for slot := uint32(0); ; slot = (slot + 1) % keepAliveSlots {
		select {
		case <-g.stopPing:
			g.mu.Lock()
			g.pinging = false
			g.mu.Unlock()
			return
		case <-t.C:
		}
		g.mu.Lock()
		if len(g.conns) == 0 || g.closing {
			g.pinging = false
			g.mu.Unlock()
			return
		}
		for c := range g.conns {
			if c.pingSlot == slot {
				conns = append(conns, c)
			}
		}
		g.mu.Unlock()
		for _, c := range conns {
			c.ping()
		}
		clear(conns)
		conns = conns[:0]
	}
}

// credentials are what a handshake offered to authenticate.
type credentials struct {
	token    string
	hasToken bool
	// queryRefused: a ?token= came while AllowQueryToken is off.
	queryRefused bool
}

// credentialsOf finds the token of a handshake: in the subprotocols or,
// when allowed, in the "token" query parameter. The subprotocol wins when
// both are offered. A "token" query parameter while they are not allowed
// refuses the handshake even next to a subprotocol token: the client put a
// secret in a URL, and it must hear so rather than have it ignored.
func credentialsOf(r *http.Request, allowQuery bool) credentials {
	q := r.URL.Query()
	if q.Has("token") && !allowQuery {
		return credentials{queryRefused: true}
	}
	if token, ok := tokenFromProtocols(r.Header); ok {
		return credentials{token: token, hasToken: true}
	}
	if !q.Has("token") {
		return credentials{}
	}
	return credentials{token: q.Get("token"), hasToken: true}
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
	if !g.closing {
		close(g.stopPing)
	}
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
	defer g.cluster.stop()
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

// Revoke closes every connection authenticated as subject with
// [CloseUnauthenticated] (reason "revoked") and returns how many it
// closed on this gateway (connections already closing are not counted).
// When the broker is a [ControlBroker], the gateways of the other nodes
// close theirs too, moments later. It does not stop the subject from
// connecting again: the [Authenticator] must refuse the revoked tokens from
// now on (a deny list, a token version, a short token lifetime). Call
// Revoke after updating it. Meanwhile, for [ClusterOptions].RevocationMemory,
// every gateway refuses the subject's tokens issued before the revocation
// (those whose [Identity].IssuedAt says so).
func (g *Gateway) Revoke(subject string) int {
	if subject == "" {
		return 0
	}
	at := time.Now()
	g.cluster.revoked(subject, "", at)
	return g.applyRevoke(subject, "", at)
}

// RevokeToken closes every connection authenticated with the token whose
// [Identity].TokenID is tokenID, like [Gateway.Revoke]. Connections of the
// same subject with other tokens stay open. An empty tokenID matches
// nothing. Every gateway refuses the token for
// [ClusterOptions].RevocationMemory.
func (g *Gateway) RevokeToken(tokenID string) int {
	if tokenID == "" {
		return 0
	}
	at := time.Now()
	g.cluster.revoked("", tokenID, at)
	return g.applyRevoke("", tokenID, at)
}

// applyRevoke remembers a revocation of subject or tokenID made at at
// (here or on another node) and closes the matching connections.
func (g *Gateway) applyRevoke(subject, tokenID string, at time.Time) int {
	switch {
	case tokenID != "":
		g.revoked.add(tokenKey(tokenID), at)
		return g.revoke(func(id *Identity) bool { return id.TokenID == tokenID })
	case subject != "":
		g.revoked.add(subjectKey(subject), at)
		return g.revoke(func(id *Identity) bool { return id.Subject == subject })
	}
	return 0
}

func (g *Gateway) revoke(match func(*Identity) bool) int {
	g.mu.Lock()
	var hit []*conn
	for c := range g.conns {
		if id := c.identity.Load(); id != nil && match(id) {
			hit = append(hit, c)
		}
	}
	g.mu.Unlock()
	n := 0
	for _, c := range hit {
		if c.closeWith(CloseUnauthenticated, "revoked") {
			n++
		}
	}
	return n
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
