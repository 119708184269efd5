package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

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
// Without a TokenSource a 4401 or 4408 stops the Conn in
// [StateUnauthenticated] at once: there is no other token to offer. These
// reactions are one pure function, the reconnect policy (policy.go),
// tested against a table the TypeScript client shares.
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
	lastErr  error         // why the Conn is in its state (LastError)
	lastDrop error         // what ended the last connection or attempt (LastDrop)
	downAt   time.Time     // when the Conn last lost its connection (for the log)
	pres     presenceState // presence.go
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

// LastError returns the error that keeps the Conn from being open: nil
// while it is open (and before the first attempt, and after
// [Conn.Close]); while it is reconnecting, what ended the last connection
// or attempt; when it stopped, why: it matches [ErrSignedOut] in
// [StateUnauthenticated] and [ErrIdentityChanged] in [StateForbidden].
// It is nil again as soon as a connection is open. For what ended the
// last connection whatever the state, see [Conn.LastDrop].
func (c *Conn) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// LastDrop returns the error that ended the last connection or attempt,
// kept after the Conn reconnects: a close of the server (its code is
// [websocket.CloseStatus] of the error), a network error,
// [ErrMessageTooLarge]; nil if nothing has ended yet. (Before 0.2.0 this
// was what LastError returned.)
func (c *Conn) LastDrop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastDrop
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
	c.lastErr = nil // closed on request
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

// run dials, serves and redials until Close, doing after each drop what
// the reconnect policy (policy.go) decides.
func (c *Conn) run() {
	defer close(c.done)
	st := redialState{Reason: TokenCurrent, Provider: c.tokens != nil}
	failing := false // a failure since the last open connection was logged at Info
	for {
		ws, tok, err := c.dial(st.Reason)
		served, accepted := false, false
		if err == nil {
			served = true
			accepted, err = c.serve(ws, tok)
		}
		if c.ctx.Err() != nil {
			return
		}
		d := policy(drop{
			Code:        max(int(websocket.CloseStatus(err)), 0),
			Accepted:    accepted,
			TokenFailed: errors.Is(err, errTokenSource),
			TooLarge:    errors.Is(err, ErrMessageTooLarge),
		}, st)
		st = d.Next
		if !d.Resume {
			c.log.Error("ssotws/client: a server message over the read limit; the channels refetch", "url", c.url, "limit", c.opts.ReadLimit)
		}
		if served {
			c.disconnected(d.Resume)
		}
		if d.Report {
			c.log.Error("ssotws/client: the server refused a frame of this client", "url", c.url, "code", int(websocket.CloseStatus(err)), "err", err)
		}
		stop := State(-1)
		switch d.Do {
		case stopSignedOut:
			stop = StateUnauthenticated
			err = fmt.Errorf("%w (%w)", ErrSignedOut, err)
		case stopForbidden:
			stop = StateForbidden
			err = fmt.Errorf("%w (%w)", ErrIdentityChanged, err)
		}
		if stop >= 0 {
			// A request made before the stop is seen must not end it.
			select {
			case <-c.wake:
			default:
			}
		}
		c.mu.Lock()
		c.lastErr, c.lastDrop = err, err
		if accepted || !failing {
			c.downAt = time.Now()
		}
		if stop >= 0 {
			c.setStateLocked(stop)
		} else {
			c.setStateLocked(StateReconnecting)
		}
		c.mu.Unlock()
		if accepted {
			failing = false
		}
		if stop >= 0 {
			c.logStop(stop, err)
			failing = false
			select {
			case <-c.wake:
				st.Attempt, st.AuthRetried = 0, false
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
		var delay time.Duration
		if d.Do != redialNow {
			delay = c.opts.Backoff.Delay(d.Backoff)
		}
		c.logDrop(err, accepted, failing, st.Attempt, delay)
		failing = true
		if d.Do == redialNow {
			continue
		}
		t := time.NewTimer(delay)
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

// disconnected tells the handlers of the channels still subscribed that
// the link dropped; resume is the policy's (see channelHandler).
func (c *Conn) disconnected(resume bool) {
	c.mu.Lock()
	hs := make([]channelHandler, 0, len(c.channels))
	for _, e := range c.channels {
		if !e.dropped {
			hs = append(hs, e.h)
		}
	}
	c.mu.Unlock()
	for _, h := range hs {
		h.disconnected(resume)
	}
}
