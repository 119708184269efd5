package ssotws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// conn is one client connection. Three kinds of goroutine touch it:
//
//   - its read loop (serve, on a goroutine of its own: ServeHTTP returns
//     at once) reads client frames, authenticates, and subscribes and
//     unsubscribes (subscription.go); it owns the fields marked "read
//     loop";
//   - its write loop (writeloop.go) is the only writer of data frames and
//     runs only while there is something to write (q starts it); it owns
//     the embedded writer;
//   - everything else (the hub's fan-out, timers, the keep-alive ticker,
//     Revoke, Shutdown) only pushes to q and calls closeWith, which never
//     block.
type conn struct {
	g      *Gateway
	ws     *websocket.Conn
	ctx    context.Context // ends when the connection is done; carries no identity
	cancel context.CancelFunc
	// q is the send queue between the producers and the write loop. Its
	// mutex also guards the delivery state of the connection's
	// subscriptions (queue.go).
	q *sendQueue

	// identity is written by the read loop (authenticate) and read from
	// any goroutine (hooks, timers, Revoke).
	identity atomic.Pointer[Identity]

	// set before serve, read-only after
	seq     uint64    // numbers the connection in log records
	remote  string    // the client's address, for log records
	started time.Time // when it was accepted

	// read loop only
	subs         map[string]*subscription // by channel name
	user         string                   // the subject counted in Gateway.users
	expiry       *time.Timer              // closes with CloseTokenExpired
	authDeadline *time.Timer              // closes an unauthenticated connection (RequireAuth)

	// closeMu guards closing, closeCode and closeReason: the first
	// closeWith, from whichever goroutine, decides how the connection
	// closes, and the write loop carries it out. It also orders ping's
	// pings.Add before serve's pings.Wait.
	closeMu     sync.Mutex
	closing     bool
	isClosing   atomic.Bool          // closing, readable without closeMu
	closeCode   websocket.StatusCode // 0: close without handshake
	closeReason string

	// keep-alive (keepalive.go)
	pingSlot uint32      // which tick of the gateway's keep-alive ticker pings it; set before serve
	pinging  atomic.Bool // a ping is in flight
	pings    sync.WaitGroup

	writer // the write loop's state (writeloop.go)
}

func newConn(g *Gateway, ws *websocket.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		g:      g,
		ws:     ws,
		ctx:    ctx,
		cancel: cancel,
		q:      newSendQueue(g.opts.Limits.SendQueue),
		writer: writer{writerDone: make(chan struct{})},

		seq:     g.connSeq.Add(1),
		started: time.Now(),
	}
	c.q.tel = g.tel
	c.q.maxBytes = g.opts.Limits.SendQueueBytes
	// A func value of its own: "go c.writeLoop()" would allocate a
	// closure at each start.
	run := c.writeLoop
	c.q.start = func() { go run() }
	return c
}

// serve runs the connection until it closes, then releases everything it
// holds: when serve returns, none of the connection's goroutines is left.
func (c *conn) serve(cred credentials) {
	c.ws.SetReadLimit(c.g.opts.Limits.MaxMessageBytes)
	var readErr error
	if c.admit(cred) {
		readErr = c.readLoop()
	}
	// A no-op when a close is already under way; otherwise the client
	// closed, or the network failed.
	byClient := c.closeWith(0, "")
	<-c.writerDone
	c.logClosed(byClient, readErr)
	c.cancel()
	c.pings.Wait()
	for _, t := range []*time.Timer{c.expiry, c.authDeadline} {
		if t != nil {
			t.Stop()
		}
	}
	if c.user != "" {
		c.g.releaseUser(c.user)
	}
	c.g.presence.drop(c)
	for name, s := range c.subs {
		c.endSubscription(name, s)
	}
	c.subs = nil
}

// credentials are what a handshake offered to authenticate.
type credentials struct {
	token    string
	hasToken bool
	// queryRefused: a ?token= came while AllowQueryToken is off.
	queryRefused bool
}

// closeWith asks the write loop to close the connection with code (0
// closes at once, without the closing handshake). Only the first call
// counts; it reports whether this was it. It never blocks, so the fan-out
// may call it.
func (c *conn) closeWith(code websocket.StatusCode, reason string) bool {
	c.closeMu.Lock()
	if c.closing {
		c.closeMu.Unlock()
		return false
	}
	c.closing = true
	c.isClosing.Store(true)
	c.closeCode, c.closeReason = code, reason
	c.closeMu.Unlock()
	c.q.close() // starts the write loop if none runs; it closes the WebSocket
	if code != 0 && c.g.onClose != nil {
		c.g.onClose(code)
	}
	return true
}

// refuse closes the connection because of what the client did or was, and
// records it: one log record and one count, unless a close was already
// under way. user is the subject concerned ("" for the connection's own);
// reason goes to the client in the close frame and to the record; attrs
// are added to the record. It reports whether this call closed.
func (c *conn) refuse(r refusal, user, reason string, attrs ...slog.Attr) bool {
	if !c.closeWith(r.closeCode(), reason) {
		return false
	}
	if user == "" {
		user = c.subject()
	}
	c.g.tel.refusal(c.g.logger, r, append([]slog.Attr{
		slog.String("user", user), slog.String("close_reason", reason),
		slog.Uint64("conn", c.seq), slog.String("remote", c.remote),
	}, attrs...)...)
	return true
}

// subject returns the subject of the connection's identity, or "".
func (c *conn) subject() string {
	if id := c.identity.Load(); id != nil {
		return id.Subject
	}
	return ""
}

// logClosed writes the debug record of a connection's end. byClient: the
// client closed it (or the network failed), with the close code in
// readErr if it sent one.
func (c *conn) logClosed(byClient bool, readErr error) {
	logger := c.g.logger
	if logger == nil || !logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	code, reason, _ := c.closeRequested()
	by := "server"
	if byClient {
		by = "client"
		var ce websocket.CloseError
		if errors.As(readErr, &ce) {
			code, reason = ce.Code, truncate(ce.Reason)
		} else {
			code = websocket.StatusAbnormalClosure // no close frame: the connection was lost
			reason = "connection lost"
		}
	} else if code == 0 {
		code = websocket.StatusAbnormalClosure
	}
	logger.LogAttrs(context.Background(), slog.LevelDebug, "ssotws: connection closed",
		slog.Uint64("conn", c.seq), slog.String("user", c.subject()), slog.String("remote", c.remote),
		slog.Int("code", int(code)), slog.String("reason", reason), slog.String("by", by),
		slog.Duration("duration", time.Since(c.started)))
}

func (c *conn) closeRequested() (websocket.StatusCode, string, bool) {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.closeCode, c.closeReason, c.closing
}

// readLoop reads and serves client frames until the connection closes. It
// returns the error that ended it, nil when the gateway closed it.
func (c *conn) readLoop() error {
	for {
		typ, data, err := c.ws.Read(context.Background())
		if errors.Is(err, websocket.ErrMessageTooBig) {
			// The library sent the close frame; the handshake drains the rest.
			c.refuse(refuseTooLarge, "", "frame too large", slog.Int64("limit", c.g.opts.Limits.MaxMessageBytes))
			return nil
		}
		if err != nil {
			// Closed by the peer or by us, or over the frame rate: the
			// frames are counted as they are read (see frameCounter),
			// which closed with CloseTooSlow.
			return err
		}
		if typ != websocket.MessageBinary {
			c.refuse(refuseBadFrame, "", "binary frames only")
			return nil
		}
		var f wsv1.ClientFrame
		if err := proto.Unmarshal(data, &f); err != nil {
			c.refuse(refuseBadFrame, "", "malformed frame")
			return nil
		}
		if !c.handle(&f) {
			return nil
		}
	}
}

// handle serves one client frame. It returns false when the connection is
// closing.
func (c *conn) handle(f *wsv1.ClientFrame) bool {
	if c.g.opts.RequireAuth && c.identity.Load() == nil {
		if _, ok := f.Frame.(*wsv1.ClientFrame_Auth); !ok {
			c.refuse(refuseAuthRequired, "", "authenticate first")
			return false
		}
	}
	switch f := f.Frame.(type) {
	case *wsv1.ClientFrame_Subscribe:
		c.subscribe(f.Subscribe)
	case *wsv1.ClientFrame_Unsubscribe:
		c.unsubscribe(f.Unsubscribe)
	case *wsv1.ClientFrame_Auth:
		if c.g.opts.Authenticator != nil && !c.authenticate(f.Auth.GetToken()) {
			return false
		}
	case *wsv1.ClientFrame_Ping:
		c.send(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Pong{Pong: &wsv1.Pong{Nonce: f.Ping.GetNonce()}}}, false)
	case *wsv1.ClientFrame_PresenceJoin: // presence.go
		c.g.presence.join(c, f.PresenceJoin)
	case *wsv1.ClientFrame_PresenceLeave:
		c.g.presence.leave(c, f.PresenceLeave)
	case *wsv1.ClientFrame_SendSignal: // signal.go
		c.g.presence.signal(c, f.SendSignal)
	default:
		c.sendError(0, wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST, "empty or unknown frame")
	}
	_, _, closing := c.closeRequested()
	return !closing
}

// safe calls fn, turning a panic into an error and logging it.
func (g *Gateway) safe(hook string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			g.logger.Error("ssotws: hook panicked", "hook", hook, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("ssotws: %s panicked: %v", hook, r)
		}
	}()
	return fn()
}

func (c *conn) hookContext() (context.Context, *Identity) {
	id := c.identity.Load()
	if id == nil {
		return c.ctx, nil
	}
	return WithIdentity(c.ctx, id), id
}

// send queues a control frame. force skips the queue's bound.
func (c *conn) send(f *wsv1.ServerFrame, force bool) {
	b, err := proto.Marshal(f)
	if err != nil {
		c.g.logger.Error("ssotws: encoding frame", "err", err)
		return
	}
	if !c.q.push(queueItem{frame: b}, force) {
		c.refuse(refuseTooSlow, "", "too slow", slog.String("detail", "send queue overflow"))
	}
}

// errAttr is the Authenticator's err as a record's attribute ("" for nil),
// with token cut out should the error quote it: tokens are never logged.
func errAttr(err error, token string) slog.Attr {
	if err == nil {
		return slog.String("err", "")
	}
	msg := err.Error()
	if len(token) >= 4 {
		msg = strings.ReplaceAll(msg, token, "[token]")
	}
	return slog.String("err", msg)
}

func (c *conn) sendError(id uint32, code wsv1.ErrorCode, msg string) {
	c.send(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Error{Error: &wsv1.Error{Id: id, Code: code, Message: msg}}}, false)
}
