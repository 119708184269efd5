package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// The subprotocols of the wire protocol: the client offers subprotocol and,
// with a token, authPrefix followed by the token in unpadded base64url.
const (
	subprotocol = "ssot.v1"
	authPrefix  = "ssot.auth."
)

// ConnOptions configures a [Conn]. nil means the defaults.
type ConnOptions struct {
	// Token returns the bearer token offered on each (re)connect, so a
	// refreshed token is used after a reconnect. nil or "" means anonymous.
	Token func(ctx context.Context) (string, error)
	// Dial is handed to websocket.Dial (HTTP client, headers, compression).
	// The Conn sets its Subprotocols.
	Dial *websocket.DialOptions
	// Backoff spaces reconnects (default 1 s doubling to 16 s, jittered).
	Backoff Backoff
	// PingInterval is how often a WebSocket ping checks a quiet connection
	// (default 20 s); negative disables pings.
	PingInterval time.Duration
	// ReadLimit bounds one server message (default 16 MiB).
	ReadLimit int64
	// OnError, when set, hears the errors the server reports for a channel
	// (an unknown channel, a forbidden one, too many subscriptions). The
	// subscription stays inactive until the next reconnect.
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
	disconnected()
	close()
}

type chanEntry struct {
	h     channelHandler
	refs  int
	subID uint32 // id of the Subscribe sent on the current link, 0 if none
}

// Conn is the one WebSocket connection a process shares between every
// model and channel it subscribes to. It connects on the first
// subscription (or [Conn.Connect]), reconnects with backoff after a drop,
// and resubscribes every live channel from its last position. Its [State]
// is observable with [Conn.State], [Conn.Watch] and [Conn.WaitFor]. It is
// safe for concurrent use.
type Conn struct {
	url  string
	opts ConnOptions
	log  *slog.Logger
	disp *dispatcher

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
// connection is open. If ctx ends first, the Conn is closed and ctx's error
// returned with the last connection error.
func Dial(ctx context.Context, url string, opts *ConnOptions) (*Conn, error) {
	if url == "" {
		return nil, errors.New("ssotws/client: Dial needs a URL")
	}
	c := NewConn(url, opts)
	c.Connect()
	if err := c.WaitFor(ctx, StateOpen); err != nil {
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

// Connect starts connecting, if it has not started yet.
func (c *Conn) Connect() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.startLocked()
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
// (The browser client does this when the page comes back online.)
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
	for {
		ws, err := c.dial()
		if err == nil {
			attempt = 0
			err = c.serve(ws)
		}
		if c.ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		c.lastErr = err
		c.setStateLocked(StateReconnecting)
		c.mu.Unlock()
		c.log.Debug("ssotws/client: connection lost", "url", c.url, "err", err)
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

func (c *Conn) dial() (*websocket.Conn, error) {
	var opts websocket.DialOptions
	if c.opts.Dial != nil {
		opts = *c.opts.Dial
	}
	opts.Subprotocols = []string{subprotocol}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	if c.opts.Token != nil {
		tok, err := c.opts.Token(ctx)
		if err != nil {
			return nil, fmt.Errorf("ssotws/client: token: %w", err)
		}
		if tok != "" {
			opts.Subprotocols = append(opts.Subprotocols, authPrefix+base64.RawURLEncoding.EncodeToString([]byte(tok)))
		}
	}
	ws, _, err := websocket.Dial(ctx, c.url, &opts)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(c.opts.ReadLimit)
	return ws, nil
}

// serve runs one open connection: it resubscribes every channel, then reads
// until the connection fails.
func (c *Conn) serve(ws *websocket.Conn) error {
	l := &link{ws: ws, signal: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		ws.CloseNow()
		return ErrClosed
	}
	c.link = l
	c.acks = make(map[uint32]string)
	for name, e := range c.channels {
		c.subscribeLocked(name, e)
	}
	c.setStateLocked(StateOpen)
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.write(ctx, l) }()
	go func() { defer wg.Done(); c.ping(ctx, l) }()
	err := c.read(ctx, l)
	cancel()
	ws.CloseNow()
	wg.Wait()

	c.mu.Lock()
	c.link = nil
	hs := make([]channelHandler, 0, len(c.channels))
	for _, e := range c.channels {
		e.subID = 0
		hs = append(hs, e.h)
	}
	if c.state != StateClosed {
		c.setStateLocked(StateReconnecting)
	}
	c.mu.Unlock()
	for _, h := range hs {
		h.disconnected()
	}
	return err
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

func (c *Conn) read(ctx context.Context, l *link) error {
	for {
		typ, data, err := l.ws.Read(ctx)
		if err != nil {
			return err
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
		channel, h := c.byIDName(e.GetId())
		err := fmt.Errorf("ssotws/client: %s: %s", e.GetCode(), e.GetMessage())
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

// byID returns the handler whose current Subscribe has id.
func (c *Conn) byID(id uint32) channelHandler {
	_, h := c.byIDName(id)
	return h
}

func (c *Conn) byIDName(id uint32) (string, channelHandler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	channel, ok := c.acks[id]
	if !ok {
		return "", nil
	}
	delete(c.acks, id)
	if e := c.channels[channel]; e != nil && e.subID == id {
		return channel, e.h
	}
	return "", nil
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
