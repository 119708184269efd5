package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/protocol"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// The link: one WebSocket to the gateway, dialled with a token, and the
// goroutines that serve it (read, write, ping, token refresh). The twin of
// ts/runtime/src/link.ts.

// link is one open WebSocket and its outbound queue, drained by one writer.
type link struct {
	ws     *websocket.Conn
	out    [][]byte
	signal chan struct{}
	// proved: a frame came from the server, so it accepted the token (the
	// gateway authenticates a handshake token before it reads anything).
	proved atomic.Bool
	// pingFailed: a ping got no answer in time, and the link was closed.
	pingFailed atomic.Bool
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
	opts.Subprotocols = []string{protocol.Subprotocol}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	tok, err := c.token(ctx, reason)
	if err != nil {
		return nil, issued{}, err
	}
	got := issued{tok, time.Now()}
	if tok.Value != "" {
		opts.Subprotocols = append(opts.Subprotocols, protocol.AuthSubprotocol(tok.Value))
	}
	ws, _, err := websocket.Dial(ctx, c.url, &opts)
	if err != nil {
		return nil, issued{}, fmt.Errorf("%w: %w", errDial, err)
	}
	// read bounds each message itself, to tell an oversized one apart.
	ws.SetReadLimit(c.opts.ReadLimit + 1)
	return ws, got, nil
}

// serve runs one connection: it resubscribes every channel, refreshes the
// token before it expires, and reads until the connection fails; the
// caller tells the channels (Conn.disconnected). The state
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
	c.rejoinLocked() // presence.go
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); c.write(ctx, l) }()
	go func() { defer wg.Done(); c.ping(ctx, l) }()
	go func() { defer wg.Done(); c.refresh(ctx, l, tok) }()
	err := c.read(ctx, l)
	if l.pingFailed.Load() {
		err = fmt.Errorf("%w (%w)", errPingTimeout, err)
	}
	cancel()
	ws.CloseNow()
	wg.Wait()

	c.mu.Lock()
	c.link = nil
	for _, e := range c.channels {
		e.subID = 0
	}
	if c.state != StateClosed {
		c.setStateLocked(StateReconnecting)
	}
	c.mu.Unlock()
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
			l.pingFailed.Store(true)
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
			opened, again, downAt := false, c.state == StateReconnecting, c.downAt
			if c.link == l && c.state != StateClosed {
				opened = c.state != StateOpen
				c.setStateLocked(StateOpen)
				c.lastErr = nil
			}
			c.mu.Unlock()
			if opened {
				c.logOpen(again, downAt)
			}
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
