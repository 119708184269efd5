package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// ConnOptions configures a [Conn]. nil means the defaults.
type ConnOptions struct {
	// TokenSource returns the bearer token offered on each (re)connect (in
	// the Sec-WebSocket-Protocol header, never in the URL) and, when the
	// token has an [Token].Expires, the fresh token sent in an Auth frame
	// on the open socket [RefreshLead] before it expires. nil or a "" token
	// means anonymous. Share it with [NewTokenInterceptor] so that both
	// transports present the same token. The close codes the server
	// answers with decide what happens next: see [Conn].
	TokenSource TokenSource
	// Token is the older form of TokenSource, for tokens without a known
	// expiry; TokenSource wins when both are set.
	Token func(ctx context.Context) (string, error)
	// Dial is handed to websocket.Dial (HTTP client, headers, compression).
	// The Conn sets its Subprotocols.
	Dial *websocket.DialOptions
	// Backoff spaces reconnects (default 1 s doubling to 16 s, jittered).
	Backoff Backoff
	// PingInterval is how often a WebSocket ping checks a quiet connection
	// (default 20 s); negative disables pings.
	PingInterval time.Duration
	// ReadLimit bounds one server message (default 16 MiB). A message over
	// it drops the connection ([ErrMessageTooLarge], logged); the channels
	// then subscribe afresh and refetch, as after a Reset, rather than
	// resume from their positions, which would replay the same message.
	ReadLimit int64
	// OnError, when set, hears the errors the server reports for a channel.
	// A subscription the server refused (an unknown channel, a forbidden
	// one, too many subscriptions) stays inactive until the next reconnect.
	// One the server dropped after acknowledging it (a token refresh no
	// longer allows it; the error matches [ErrSubscriptionDropped]) is not
	// subscribed again: unsubscribe and subscribe again to retry.
	OnError func(channel string, err error)
	// Logger receives connection errors (default slog.Default()).
	Logger *slog.Logger
}

// A channelHandler is what the Conn drives for one subscribed channel: the
// cache of a [WebSocket] transport. The Conn calls it without holding its
// own lock, from its read loop (acked, reset, events, failed) or its run
// loop (disconnected).
type channelHandler interface {
	// since is the position to resume from, or nil for a fresh subscription.
	since() *wsv1.Position
	acked(pos *wsv1.Position)
	reset(pos *wsv1.Position)
	events(evs []*wsv1.Event)
	failed(err error)
	// disconnected: the link dropped. resume is false when the channel
	// must not resume from its position (it would be sent the same
	// message again): it subscribes afresh and refetches, as after a
	// Reset.
	disconnected(resume bool)
	close()
}

type chanEntry struct {
	h     channelHandler
	refs  int
	subID uint32 // id of the Subscribe sent on the current link, 0 if none
	acked bool   // the current Subscribe was acknowledged
	// dropped: the server dropped the subscription after acknowledging it
	// (after a token refresh); it is not subscribed again.
	dropped bool
}

// Conn is the one WebSocket connection a process shares between every
// model and channel it subscribes to. It connects on the first
// subscription (or [Conn.Connect]), reconnects with backoff after a drop,
// and resubscribes every live channel from its last position. Its [State]
// is observable with [Conn.State], [Conn.Watch] and [Conn.WaitFor]. It is
// safe for concurrent use.
//
// With a [ConnOptions].TokenSource, the gateway's close codes are
// answered as docs/security.md asks:
//
//   - 4408 (token expired): a new token ([TokenExpired]) and a reconnect at
//     once, without backoff, resuming every channel from its position;
//   - 4401 (token refused or revoked): a new token ([TokenRejected]) and
//     one reconnect at once; if the server refuses that one too before
//     accepting it, the Conn stops in [StateUnauthenticated] ("signed
//     out", [Conn.LastError] matches [ErrSignedOut]);
//   - 4403 (a refreshed token of another user): no reconnect with it; the
//     Conn stops in [StateForbidden] ([ErrIdentityChanged]);
//   - 4429 (a limit), 1008 and 1009 (the server found a frame of ours bad:
//     logged as an error): reconnect with backoff.
//
// A stopped Conn keeps its subscriptions and their positions; after a new
// sign-in, [Conn.Reconnect] starts again (or [Conn.Close] it, and use a
// new Conn for another user).
type Conn struct {
	url    string
	opts   ConnOptions
	tokens TokenSource
	log    *slog.Logger
	disp   *dispatcher
	// local tracks the Hybrid clients' mutations in flight, per record,
	// for the caches' verify check.
	local localWrites

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wake   chan struct{}

	mu       sync.Mutex
	state    State
	stateCh  chan struct{} // closed and replaced at each state change
	started  bool
	channels map[string]*chanEntry
	acks     map[uint32]string // Subscribe id → channel
	nextID   uint32
	link     *link
	lastErr  error
}

// link is one open WebSocket and its outbound queue, drained by one writer.
type link struct {
	ws     *websocket.Conn
	out    [][]byte
	signal chan struct{}
	// proved: a frame came from the server, so it accepted the token (the
	// gateway authenticates a handshake token before it reads anything).
	proved atomic.Bool
}

// NewConn returns a connection to the gateway at url ("ws://host/ws"). It
// does not dial until something subscribes or [Conn.Connect] is called. An
// empty url gives a Conn whose state is [StateUnavailable] and whose
// subscriptions are no-ops. opts may be nil.
func NewConn(url string, opts *ConnOptions) *Conn {
	c := &Conn{
		url:      url,
		stateCh:  make(chan struct{}),
		channels: make(map[string]*chanEntry),
		acks:     make(map[uint32]string),
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		disp:     newDispatcher(),
	}
	if opts != nil {
		c.opts = *opts
	}
	c.opts.Backoff = c.opts.Backoff.withDefaults()
	c.tokens = c.opts.TokenSource
	if c.tokens == nil && c.opts.Token != nil {
		c.tokens = TokenFunc(c.opts.Token)
	}
	if c.opts.PingInterval == 0 {
		c.opts.PingInterval = 20 * time.Second
	}
	if c.opts.ReadLimit <= 0 {
		c.opts.ReadLimit = 16 << 20
	}
	c.log = c.opts.Logger
	if c.log == nil {
		c.log = slog.Default()
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if url == "" {
		c.state = StateUnavailable
		close(c.done)
	}
	return c
}

// Dial is [NewConn] followed by [Conn.Connect] and a wait until the
// connection is open. If ctx ends first, or the Conn stops (signed out,
// forbidden), the Conn is closed and the error returned with the last
// connection error.
func Dial(ctx context.Context, url string, opts *ConnOptions) (*Conn, error) {
	if url == "" {
		return nil, errors.New("ssotws/client: Dial needs a URL")
	}
	c := NewConn(url, opts)
	c.Connect()
	err := c.WaitFor(ctx, StateOpen, StateUnauthenticated, StateForbidden)
	if err == nil && c.State() != StateOpen {
		last := c.LastError()
		c.Close()
		return nil, last
	}
	if err != nil {
		last := c.LastError()
		c.Close()
		if last != nil {
			return nil, fmt.Errorf("%w (last error: %v)", err, last)
		}
		return nil, err
	}
	return c, nil
}

// URL returns the gateway URL, "" when unavailable.
func (c *Conn) URL() string { return c.url }

// Connect starts connecting, if it has not started yet, or again from
// [StateUnauthenticated] or [StateForbidden], as [Conn.Reconnect] does.
func (c *Conn) Connect() {
	c.mu.Lock()
	stopped := c.state == StateUnauthenticated || c.state == StateForbidden
	c.startLocked()
	c.mu.Unlock()
	if stopped {
		c.Reconnect()
	}
}

func (c *Conn) startLocked() {
	if c.started || c.state == StateUnavailable || c.state == StateClosed {
		return
	}
	c.started = true
	c.setStateLocked(StateConnecting)
	go c.run()
}

// Reconnect skips the current backoff wait: the next attempt starts now.
// (The browser client does this when the page comes back online.) A Conn
// stopped in [StateUnauthenticated] or [StateForbidden] starts again, with
// a new token from its source.
func (c *Conn) Reconnect() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// State returns the connection's current state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Watch returns the current state and a channel that is closed at the next
// change of state.
func (c *Conn) Watch() (State, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.stateCh
}

// WaitFor blocks until the state is one of states, or ctx ends.
func (c *Conn) WaitFor(ctx context.Context, states ...State) error {
	return waitUntil(ctx, func() (bool, <-chan struct{}) {
		s, ch := c.Watch()
		for _, want := range states {
			if s == want {
				return true, nil
			}
		}
		return false, ch
	})
}

// LastError returns the error that ended the last connection or attempt.
func (c *Conn) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Close closes the connection and ends every subscription. Their callbacks
// are not called after Close returns.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.state == StateClosed {
		c.mu.Unlock()
		return nil
	}
	unavailable := c.state == StateUnavailable
	if !unavailable {
		c.setStateLocked(StateClosed)
	}
	started := c.started
	c.cancel()
	if l := c.link; l != nil {
		go l.ws.Close(websocket.StatusNormalClosure, "")
	}
	entries := c.channels
	c.channels = make(map[string]*chanEntry)
	c.mu.Unlock()
	if started {
		<-c.done
	}
	for _, e := range entries {
		e.h.close()
	}
	c.disp.stop()
	return nil
}

func (c *Conn) setStateLocked(s State) {
	if c.state == s {
		return
	}
	c.state = s
	close(c.stateCh)
	c.stateCh = make(chan struct{})
}

// attach subscribes to channel, creating its handler with mk the first
// time, and returns the handler. detach undoes one attach.
func (c *Conn) attach(channel string, mk func() channelHandler) (channelHandler, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == StateClosed || c.state == StateUnavailable {
		return nil, false
	}
	e := c.channels[channel]
	if e == nil {
		e = &chanEntry{h: mk()}
		c.channels[channel] = e
		if c.link != nil {
			c.subscribeLocked(channel, e)
		}
		c.startLocked()
	}
	e.refs++
	return e.h, true
}

func (c *Conn) detach(channel string, h channelHandler) {
	c.mu.Lock()
	e := c.channels[channel]
	if e == nil || e.h != h {
		c.mu.Unlock()
		return
	}
	e.refs--
	if e.refs > 0 {
		c.mu.Unlock()
		return
	}
	delete(c.channels, channel)
	delete(c.acks, e.subID)
	if c.link != nil && e.subID != 0 {
		c.nextID++
		c.sendLocked(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Unsubscribe{
			Unsubscribe: &wsv1.Unsubscribe{Id: c.nextID, Channel: channel}}})
	}
	c.mu.Unlock()
	h.close()
}

// handlers returns the handlers of every subscribed channel.
func (c *Conn) handlers() map[string]channelHandler {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]channelHandler, len(c.channels))
	for name, e := range c.channels {
		out[name] = e.h
	}
	return out
}

func (c *Conn) subscribeLocked(channel string, e *chanEntry) {
	c.nextID++
	if c.nextID == 0 {
		c.nextID++
	}
	e.subID = c.nextID
	e.acked = false
	c.acks[e.subID] = channel
	c.sendLocked(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{
		Subscribe: &wsv1.Subscribe{Id: e.subID, Channel: channel, Since: e.h.since()}}})
}

// sendLocked queues f on the current link.
func (c *Conn) sendLocked(f *wsv1.ClientFrame) {
	b, err := proto.Marshal(f)
	if err != nil {
		c.log.Error("ssotws/client: marshal frame", "err", err)
		return
	}
	c.link.out = append(c.link.out, b)
	select {
	case c.link.signal <- struct{}{}:
	default:
	}
}

// run dials, serves and redials until Close.
func (c *Conn) run() {
	defer close(c.done)
	attempt := 0
	reason := TokenCurrent
	// authRetried: a 4401 was answered with a new token; cleared once the
	// server accepts a connection.
	authRetried := false
	for {
		ws, tok, err := c.dial(reason)
		proved := false
		if err == nil {
			proved, err = c.serve(ws, tok)
		}
		if c.ctx.Err() != nil {
			return
		}
		if proved {
			attempt = 0
			authRetried = false
		}
		if !errors.Is(err, errTokenSource) {
			reason = TokenCurrent // else ask again for the same reason
		}
		wait, stop := true, State(-1)
		switch code := websocket.CloseStatus(err); code {
		case ssotws.CloseTokenExpired:
			// Reconnect at once, unless the token was expired already at
			// the handshake: a source that keeps giving expired tokens is
			// not hammered.
			reason, wait = TokenExpired, !proved
		case ssotws.CloseUnauthenticated:
			reason = TokenRejected
			if authRetried {
				stop = StateUnauthenticated
				err = fmt.Errorf("%w (%w)", ErrSignedOut, err)
			} else {
				authRetried, wait = true, false
			}
		case ssotws.CloseForbidden:
			stop = StateForbidden
			err = fmt.Errorf("%w (%w)", ErrIdentityChanged, err)
		case ssotws.CloseBadFrame, ssotws.CloseTooLarge:
			c.log.Error("ssotws/client: the server refused a frame of this client", "url", c.url, "code", int(code), "err", err)
		}
		if stop >= 0 {
			// A request made before the stop is seen must not end it.
			select {
			case <-c.wake:
			default:
			}
		}
		c.mu.Lock()
		c.lastErr = err
		if stop >= 0 {
			c.setStateLocked(stop)
		} else {
			c.setStateLocked(StateReconnecting)
		}
		c.mu.Unlock()
		if stop >= 0 {
			c.log.Warn("ssotws/client: connection stopped", "url", c.url, "state", stop, "err", err)
			select {
			case <-c.wake:
				attempt, authRetried = 0, false
				c.mu.Lock()
				if c.state == stop {
					c.setStateLocked(StateReconnecting)
				}
				c.mu.Unlock()
				continue
			case <-c.ctx.Done():
				return
			}
		}
		c.log.Debug("ssotws/client: connection lost", "url", c.url, "err", err)
		if !wait {
			continue
		}
		t := time.NewTimer(c.opts.Backoff.Delay(attempt))
		attempt++
		select {
		case <-t.C:
		case <-c.wake:
			t.Stop()
		case <-c.ctx.Done():
			t.Stop()
			return
		}
	}
}

// token asks the token source, if any, for a token.
func (c *Conn) token(ctx context.Context, reason TokenReason) (Token, error) {
	if c.tokens == nil {
		return Token{}, nil
	}
	tok, err := c.tokens(WithTokenReason(ctx, reason))
	if err != nil {
		return Token{}, fmt.Errorf("%w: %w", errTokenSource, err)
	}
	return tok, nil
}

// issued is a token and when it was obtained, which gives its lifetime.
type issued struct {
	Token
	at time.Time
}

func (c *Conn) dial(reason TokenReason) (*websocket.Conn, issued, error) {
	var opts websocket.DialOptions
	if c.opts.Dial != nil {
		opts = *c.opts.Dial
	}
	opts.Subprotocols = []string{ssotws.Subprotocol}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	tok, err := c.token(ctx, reason)
	if err != nil {
		return nil, issued{}, err
	}
	got := issued{tok, time.Now()}
	if tok.Value != "" {
		opts.Subprotocols = append(opts.Subprotocols, ssotws.AuthSubprotocol(tok.Value))
	}
	ws, _, err := websocket.Dial(ctx, c.url, &opts)
	if err != nil {
		return nil, issued{}, err
	}
	// read bounds each message itself, to tell an oversized one apart.
	ws.SetReadLimit(c.opts.ReadLimit + 1)
	return ws, got, nil
}

// serve runs one connection: it resubscribes every channel, refreshes the
// token before it expires, and reads until the connection fails. The state
// is open from the first frame the server sends (the Pong of a Ping sent
// first): then the server has accepted the token. proved reports whether
// it did.
func (c *Conn) serve(ws *websocket.Conn, tok issued) (proved bool, _ error) {
	l := &link{ws: ws, signal: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		ws.CloseNow()
		return false, ErrClosed
	}
	c.link = l
	c.acks = make(map[uint32]string)
	// A Ping first: its Pong proves that the server accepted the token.
	c.sendLocked(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Ping{Ping: &wsv1.Ping{}}})
	for name, e := range c.channels {
		if !e.dropped {
			c.subscribeLocked(name, e)
		}
	}
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); c.write(ctx, l) }()
	go func() { defer wg.Done(); c.ping(ctx, l) }()
	go func() { defer wg.Done(); c.refresh(ctx, l, tok) }()
	err := c.read(ctx, l)
	resume := !errors.Is(err, ErrMessageTooLarge)
	if !resume {
		c.log.Error("ssotws/client: a server message over the read limit; the channels refetch", "url", c.url, "limit", c.opts.ReadLimit)
	}
	cancel()
	ws.CloseNow()
	wg.Wait()

	c.mu.Lock()
	c.link = nil
	hs := make([]channelHandler, 0, len(c.channels))
	for _, e := range c.channels {
		e.subID = 0
		if !e.dropped {
			hs = append(hs, e.h)
		}
	}
	if c.state != StateClosed {
		c.setStateLocked(StateReconnecting)
	}
	c.mu.Unlock()
	for _, h := range hs {
		h.disconnected(resume)
	}
	return l.proved.Load(), err
}

// refresh sends a fresh token in an Auth frame [RefreshLead] before the
// current one expires, for as long as the link lives. When the source has
// nothing fresh it tries again with backoff; past the expiry the server
// closes with 4408.
func (c *Conn) refresh(ctx context.Context, l *link, tok issued) {
	failures := 0
	for !tok.Expires.IsZero() {
		at := tok.Expires.Add(-RefreshLead(tok.Expires.Sub(tok.at)))
		if failures > 0 {
			at = time.Now().Add(c.opts.Backoff.Delay(failures - 1))
		}
		if sleep(ctx, time.Until(at)) != nil {
			return
		}
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		next, err := c.token(tctx, TokenRefresh)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil || next.Value == "" || next.Value == tok.Value {
			failures++
			c.log.Warn("ssotws/client: no fresh token before expiry", "url", c.url, "expires", tok.Expires, "err", err)
			continue
		}
		c.mu.Lock()
		if c.link == l {
			c.sendLocked(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Auth{Auth: &wsv1.Auth{Token: next.Value}}})
		}
		c.mu.Unlock()
		tok, failures = issued{next, time.Now()}, 0
	}
}

func (c *Conn) write(ctx context.Context, l *link) {
	for {
		select {
		case <-l.signal:
		case <-ctx.Done():
			return
		}
		c.mu.Lock()
		out := l.out
		l.out = nil
		c.mu.Unlock()
		for _, b := range out {
			if err := l.ws.Write(ctx, websocket.MessageBinary, b); err != nil {
				l.ws.CloseNow()
				return
			}
		}
	}
}

func (c *Conn) ping(ctx context.Context, l *link) {
	if c.opts.PingInterval < 0 {
		return
	}
	t := time.NewTicker(c.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		pctx, cancel := context.WithTimeout(ctx, c.opts.PingInterval)
		err := l.ws.Ping(pctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			l.ws.CloseNow()
			return
		}
	}
}

// ErrMessageTooLarge is the error of a connection dropped because the
// server sent a message over [ConnOptions].ReadLimit.
var ErrMessageTooLarge = errors.New("ssotws/client: server message over the read limit")

func (c *Conn) read(ctx context.Context, l *link) error {
	for {
		typ, r, err := l.ws.Reader(ctx)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(io.LimitReader(r, c.opts.ReadLimit+1))
		if err != nil {
			return err
		}
		if int64(len(data)) > c.opts.ReadLimit {
			l.ws.Close(websocket.StatusMessageTooBig, "message too big")
			return fmt.Errorf("%w (%d bytes)", ErrMessageTooLarge, c.opts.ReadLimit)
		}
		if !l.proved.Load() {
			// The server accepted the connection: it is open.
			l.proved.Store(true)
			c.mu.Lock()
			if c.link == l && c.state != StateClosed {
				c.setStateLocked(StateOpen)
			}
			c.mu.Unlock()
		}
		if typ != websocket.MessageBinary {
			continue
		}
		var f wsv1.ServerFrame
		if err := proto.Unmarshal(data, &f); err != nil {
			l.ws.Close(websocket.StatusPolicyViolation, "bad frame")
			return fmt.Errorf("ssotws/client: bad server frame: %w", err)
		}
		c.handle(&f)
	}
}

// handle routes one server frame to the handlers of its channels.
func (c *Conn) handle(f *wsv1.ServerFrame) {
	switch fr := f.Frame.(type) {
	case *wsv1.ServerFrame_Ack:
		if h := c.byID(fr.Ack.GetId()); h != nil {
			h.acked(fr.Ack.GetPosition())
		}
	case *wsv1.ServerFrame_Error:
		e := fr.Error
		channel, h, dropped := c.failedID(e.GetId())
		err := fmt.Errorf("ssotws/client: %s: %s", e.GetCode(), e.GetMessage())
		if dropped {
			err = fmt.Errorf("%w: %s: %s", ErrSubscriptionDropped, e.GetCode(), e.GetMessage())
		}
		if h == nil {
			c.log.Warn("ssotws/client: server error", "id", e.GetId(), "err", err)
			return
		}
		h.failed(err)
		if c.opts.OnError != nil {
			c.opts.OnError(channel, err)
		}
	case *wsv1.ServerFrame_Reset_:
		if h := c.byName(fr.Reset_.GetChannel()); h != nil {
			h.reset(fr.Reset_.GetPosition())
		}
	case *wsv1.ServerFrame_Events:
		evs := fr.Events.GetEvents()
		for i := 0; i < len(evs); {
			j := i + 1
			for j < len(evs) && evs[j].GetChannel() == evs[i].GetChannel() {
				j++
			}
			if h := c.byName(evs[i].GetChannel()); h != nil {
				h.events(evs[i:j])
			}
			i = j
		}
	}
}

func (c *Conn) byName(channel string) channelHandler {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.channels[channel]; e != nil && e.subID != 0 {
		return e.h
	}
	return nil
}

// byID returns the handler whose current Subscribe has id, and marks it
// acknowledged.
func (c *Conn) byID(id uint32) channelHandler {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.channels[c.acks[id]]; e != nil && e.subID == id {
		e.acked = true
		return e.h
	}
	return nil
}

// failedID returns the channel and handler whose current Subscribe has id,
// which the server refused, and whether the server had acknowledged it:
// then the subscription was dropped (after a token refresh), and it is not
// subscribed again.
func (c *Conn) failedID(id uint32) (string, channelHandler, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	channel, ok := c.acks[id]
	if !ok {
		return "", nil, false
	}
	delete(c.acks, id)
	e := c.channels[channel]
	if e == nil || e.subID != id {
		return "", nil, false
	}
	if e.acked {
		e.dropped = true
		e.subID = 0
	}
	return channel, e.h, e.dropped
}

// dispatcher runs callbacks one at a time, in the order they were posted,
// on its own goroutine, so that a callback may call back into the client.
type dispatcher struct {
	mu      sync.Mutex
	queue   []func()
	signal  chan struct{}
	stopped bool
	done    chan struct{}
}

func newDispatcher() *dispatcher {
	d := &dispatcher{signal: make(chan struct{}, 1), done: make(chan struct{})}
	go d.run()
	return d
}

func (d *dispatcher) post(fns ...func()) {
	if len(fns) == 0 {
		return
	}
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	d.queue = append(d.queue, fns...)
	d.mu.Unlock()
	select {
	case d.signal <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		q := d.queue
		d.queue = nil
		stopped := d.stopped
		d.mu.Unlock()
		for _, fn := range q {
			fn()
		}
		if stopped {
			return
		}
		if len(q) == 0 {
			<-d.signal
		}
	}
}

// stop drops what is still queued and waits for the running callback.
func (d *dispatcher) stop() {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	d.stopped = true
	d.queue = nil
	d.mu.Unlock()
	select {
	case d.signal <- struct{}{}:
	default:
	}
	<-d.done
}
