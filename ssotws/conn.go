package ssotws

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// conn is one client connection. The read loop runs on a goroutine of its
// own (ServeHTTP returns at once) and owns subs; the write loop is the only
// writer of data frames and runs only while there is something to write (q
// starts it); the fan-out only pushes to q.
type conn struct {
	g      *Gateway
	ws     *websocket.Conn
	ctx    context.Context // ends when the connection is done; carries no identity
	cancel context.CancelFunc
	q      *sendQueue

	identity atomic.Pointer[Identity]
	subs     map[string]*subscription // read loop only

	// read loop only
	user         string      // the subject counted in Gateway.users
	expiry       *time.Timer // closes with CloseTokenExpired
	authDeadline *time.Timer // closes an unauthenticated connection (RequireAuth)

	closeMu     sync.Mutex
	closing     bool
	isClosing   atomic.Bool          // closing, readable without closeMu
	closeCode   websocket.StatusCode // 0: close without handshake
	closeReason string

	// writerDone is closed by the write loop that ends the connection
	// (after the closing handshake, or after a failed write). At most one
	// write loop runs at a time, and none starts after that one.
	writerDone chan struct{}
	pingSlot   uint32 // which tick of the gateway's keep-alive ticker pings it
	pinging    atomic.Bool
	pings      sync.WaitGroup

	// write loop state (one write loop at a time; q.mu orders them)
	chunks [][]byte
	buf    []byte
	// writeTimer closes the connection when one write outlasts
	// WriteTimeout; the write loop arms it around each write. One timer
	// per connection, made on the first write, instead of a context and a
	// timer per write.
	writeTimer *time.Timer
}

func newConn(g *Gateway, ws *websocket.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		g:          g,
		ws:         ws,
		ctx:        ctx,
		cancel:     cancel,
		q:          newSendQueue(g.opts.Limits.SendQueue),
		writerDone: make(chan struct{}),
	}
	c.q.start = func() { go c.writeLoop() }
	return c
}

// serve runs the connection until it closes, then releases everything it
// holds: when serve returns, none of the connection's goroutines is left.
func (c *conn) serve(cred credentials) {
	c.ws.SetReadLimit(c.g.opts.Limits.MaxMessageBytes)
	if c.admit(cred) {
		c.readLoop()
	}
	c.closeWith(0, "") // a no-op when a close is already under way
	<-c.writerDone
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
	for name, s := range c.subs {
		s.active.Store(false)
		c.g.hub.remove(name, s)
	}
	c.subs = nil
}

// admit authenticates the connection with what its handshake offered. It
// returns false when the connection is closing.
func (c *conn) admit(cred credentials) bool {
	o := &c.g.opts
	switch {
	case o.RequireAuth && o.Authenticator == nil:
		c.closeWith(CloseUnauthenticated, "authentication required")
		return false
	case cred.queryRefused:
		c.closeWith(CloseUnauthenticated, "a token in the URL is not accepted")
		return false
	case cred.hasToken:
		return c.authenticate(cred.token)
	case o.RequireAuth:
		c.authDeadline = time.AfterFunc(o.AuthTimeout, func() {
			if c.identity.Load() == nil {
				c.closeWith(CloseUnauthenticated, "no Auth frame in time")
			}
		})
	}
	return true
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

func (c *conn) closeRequested() (websocket.StatusCode, string, bool) {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	return c.closeCode, c.closeReason, c.closing
}

func (c *conn) readLoop() {
	for {
		typ, data, err := c.ws.Read(context.Background())
		if errors.Is(err, websocket.ErrMessageTooBig) {
			// The library sent the close frame; the handshake drains the rest.
			c.closeWith(CloseTooLarge, "frame too large")
			return
		}
		if err != nil {
			// Closed by the peer or by us, or over the frame rate: the
			// frames are counted as they are read (see frameCounter),
			// which closed with CloseTooSlow.
			return
		}
		if typ != websocket.MessageBinary {
			c.closeWith(CloseBadFrame, "binary frames only")
			return
		}
		var f wsv1.ClientFrame
		if err := proto.Unmarshal(data, &f); err != nil {
			c.closeWith(CloseBadFrame, "malformed frame")
			return
		}
		if !c.handle(&f) {
			return
		}
	}
}

// handle serves one client frame. It returns false when the connection is
// closing.
func (c *conn) handle(f *wsv1.ClientFrame) bool {
	if c.g.opts.RequireAuth && c.identity.Load() == nil {
		if _, ok := f.Frame.(*wsv1.ClientFrame_Auth); !ok {
			c.closeWith(CloseUnauthenticated, "authenticate first")
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
	default:
		c.sendError(0, wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST, "empty or unknown frame")
	}
	_, _, closing := c.closeRequested()
	return !closing
}

// authenticate checks token and adopts its identity; it runs on the read
// loop. A connection keeps one subject: a token for another subject closes
// it with [CloseForbidden]. A fresh token for the same subject refreshes
// the connection: its expiry moves, and every subscription is authorized
// again (those no longer allowed are dropped with an Error frame). It
// returns false when the connection is closing.
func (c *conn) authenticate(token string) bool {
	a := c.g.opts.Authenticator
	if a == nil {
		return true // nobody to ask: the connection stays anonymous
	}
	var id *Identity
	err := c.g.safe("Authenticator", func() error {
		var err error
		id, err = a.Authenticate(c.ctx, token)
		return err
	})
	switch {
	case errors.Is(err, ErrTokenExpired) || err == nil && id.Expired(time.Now()):
		c.closeWith(CloseTokenExpired, "token expired")
		return false
	case err != nil || id == nil || id.Subject == "":
		c.closeWith(CloseUnauthenticated, "unauthenticated")
		return false
	}
	prev := c.identity.Load()
	if prev != nil && prev.Subject != id.Subject {
		c.closeWith(CloseForbidden, "identity changed")
		return false
	}
	if prev == nil {
		if !c.g.acquireUser(id.Subject) {
			c.closeWith(CloseTooSlow, "too many connections for this user")
			return false
		}
		c.user = id.Subject
	}
	c.identity.Store(id)
	c.armExpiry(id)
	c.recheck()
	return true
}

// armExpiry closes the connection with [CloseTokenExpired] when id
// expires, unless another identity was adopted by then.
func (c *conn) armExpiry(id *Identity) {
	if c.expiry != nil {
		c.expiry.Stop()
		c.expiry = nil
	}
	if id.Expires.IsZero() {
		return
	}
	c.expiry = time.AfterFunc(time.Until(id.Expires), func() {
		if c.identity.Load() == id {
			c.closeWith(CloseTokenExpired, "token expired")
		}
	})
}

// recheck authorizes every subscription again, after the identity was
// refreshed, and drops those no longer allowed with an Error frame
// carrying their Subscribe id.
func (c *conn) recheck() {
	for channel, s := range c.subs {
		code, msg, ok := c.mayRead(s.model, s.name)
		if ok {
			continue
		}
		s.active.Store(false)
		c.g.hub.remove(channel, s)
		delete(c.subs, channel)
		c.sendError(s.id, code, msg)
	}
}

// mayRead applies the model's read access and the Authorize hook to a
// subscription of channel.
func (c *conn) mayRead(m *Model, name ChannelName) (wsv1.ErrorCode, string, bool) {
	ctx, ident := c.hookContext()
	if access := m.ReadAccess(); access != wsv1.Access_PUBLIC && (ident == nil || ident.Subject == "") {
		return wsv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED, fmt.Sprintf("%s needs an authenticated connection", m.Name()), false
	}
	if hook := c.g.opts.Authorize; hook != nil {
		err := c.g.safe("Authorize", func() error { return hook(ctx, ident, m, name) })
		if err != nil {
			code := wsv1.ErrorCode_ERROR_CODE_FORBIDDEN
			if errors.Is(err, ErrUnauthenticated) {
				code = wsv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED
			}
			return code, fmt.Sprintf("may not subscribe to %q", name.String()), false
		}
	}
	return 0, "", true
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
		c.closeWith(CloseTooSlow, "too slow")
	}
}

func (c *conn) sendError(id uint32, code wsv1.ErrorCode, msg string) {
	c.send(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Error{Error: &wsv1.Error{Id: id, Code: code, Message: msg}}}, false)
}

func (c *conn) subscribe(req *wsv1.Subscribe) {
	id := req.GetId()
	if hasControl(req.GetChannel()) {
		c.sendError(id, wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, fmt.Sprintf("%v: control characters in %q", ErrBadChannel, truncate(req.GetChannel())))
		return
	}
	name, err := ParseChannel(req.GetChannel())
	if err != nil {
		c.sendError(id, wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, err.Error())
		return
	}
	m := c.g.model(name.Model)
	if m == nil {
		c.sendError(id, wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, fmt.Sprintf("unknown channel %q: no model %q", truncate(req.GetChannel()), name.Model))
		return
	}
	if name.Kind == ChannelScope && !hasScope(m, name.Field) {
		c.sendError(id, wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, fmt.Sprintf("unknown channel %q: %s has no scope %q", truncate(req.GetChannel()), name.Model, name.Field))
		return
	}
	channel := name.String()
	if c.subs == nil {
		c.subs = make(map[string]*subscription)
	}
	if c.subs[channel] != nil {
		c.sendError(id, wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST, fmt.Sprintf("already subscribed to %q", channel))
		return
	}
	if len(c.subs) >= c.g.opts.Limits.MaxSubscriptions {
		c.sendError(id, wsv1.ErrorCode_ERROR_CODE_TOO_MANY_SUBSCRIPTIONS, fmt.Sprintf("at most %d subscriptions per connection", c.g.opts.Limits.MaxSubscriptions))
		return
	}
	if code, msg, ok := c.mayRead(m, name); !ok {
		c.sendError(id, code, msg)
		return
	}
	ident := c.identity.Load()
	s := &subscription{c: c, id: id, name: name, channel: channel, model: m, pending: true}
	if m.ReadAccess() == wsv1.Access_OWNER && m.OwnerField() != nil {
		s.owner, s.subject = m.OwnerField(), ident.Subject
	}
	s.active.Store(true)
	// Subscribe before reading history or position: an event published
	// meanwhile lands in s.buf, and offsets drop the overlap.
	c.subs[channel] = s
	c.g.hub.add(channel, s)

	var (
		replay []*wsv1.Event
		pos    *wsv1.Position
		reset  bool
	)
	if since := req.GetSince(); since != nil {
		replay, err = c.g.broker.History(c.ctx, channel, since)
		switch {
		case errors.Is(err, ErrHistoryUnavailable):
			reset = true
		case err != nil:
		case len(replay) > 0:
			pos = replay[len(replay)-1].GetPosition()
		default:
			pos = since
		}
	}
	if pos == nil && err == nil || reset {
		pos, err = c.g.broker.Position(c.ctx, channel)
	}
	if err != nil {
		c.g.logger.Error("ssotws: subscribe", "channel", channel, "err", err)
		s.active.Store(false)
		c.g.hub.remove(channel, s)
		delete(c.subs, channel)
		c.sendError(id, wsv1.ErrorCode_ERROR_CODE_INTERNAL, "the broker failed; retry")
		return
	}
	s.start(id, replay, pos, reset)
}

// hasControl reports whether s holds a control character. Channel names
// carry them only escaped.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) })
}

func hasScope(m *Model, field string) bool {
	for _, fd := range m.ScopeFields() {
		if string(fd.Name()) == field {
			return true
		}
	}
	return false
}

func (c *conn) unsubscribe(req *wsv1.Unsubscribe) {
	channel := req.GetChannel()
	if name, err := ParseChannel(channel); err == nil {
		channel = name.String()
	}
	if s := c.subs[channel]; s != nil {
		s.active.Store(false)
		c.g.hub.remove(channel, s)
		delete(c.subs, channel)
	}
	c.send(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Ack{Ack: &wsv1.Ack{Id: req.GetId()}}}, false)
}

// writeLoop writes what is queued until the queue is empty, then ends; the
// next push starts another. Once the connection is closing it closes the
// WebSocket and closes writerDone; no write loop starts after that.
func (c *conn) writeLoop() {
	delay := c.g.opts.WriteDelay
	for {
		if delay > 0 {
			// Let more events gather: they go out in one message.
			time.Sleep(delay)
		}
		if c.isClosing.Load() {
			c.finish(c.closeRequested())
			return
		}
		items, ok := c.q.takeOrPark(c.trimBuffers)
		if !ok {
			// Parked: from here on another write loop may run; touch
			// nothing of the connection.
			return // idle: the next push starts a new write loop
		}
		if len(items) == 0 {
			// The queue overflowed and closed; the pusher is about to
			// call closeWith.
			runtime.Gosched()
			continue
		}
		if err := c.write(items); err != nil {
			if errors.Is(err, errClosing) {
				c.finish(c.closeRequested())
			} else {
				_ = c.ws.CloseNow()
				close(c.writerDone)
			}
			return
		}
	}
}

// idleBufCap is the largest frame buffer an idle connection keeps.
const idleBufCap = 4 << 10

// trimBuffers drops the write loop's large buffers when it parks.
func (c *conn) trimBuffers() {
	if cap(c.buf) > idleBufCap {
		c.buf = nil
	}
	if cap(c.chunks) > idleQueueCap {
		c.chunks = nil
	}
}

// finish closes the WebSocket: with the closing handshake (which waits a
// few seconds at most for the peer) or, for code 0, at once.
func (c *conn) finish(code websocket.StatusCode, reason string, _ bool) {
	defer close(c.writerDone)
	if c.writeTimer != nil {
		c.writeTimer.Stop()
	}
	if code == 0 {
		_ = c.ws.CloseNow()
		return
	}
	_ = c.ws.Close(code, reason)
}

// ping sends a keepalive ping unless one is in flight; a peer that does not
// answer within the keepalive interval is disconnected. The gateway's
// keep-alive ticker calls it.
func (c *conn) ping() {
	if !c.pinging.CompareAndSwap(false, true) {
		return
	}
	// Count the ping under closeMu while the connection is open: serve
	// waits for c.pings only after closing is set.
	c.closeMu.Lock()
	if c.closing {
		c.closeMu.Unlock()
		c.pinging.Store(false)
		return
	}
	c.pings.Add(1)
	c.closeMu.Unlock()
	go func() {
		defer c.pings.Done()
		defer c.pinging.Store(false)
		ctx, cancel := context.WithTimeout(c.ctx, c.g.opts.KeepAlive)
		defer cancel()
		if err := c.ws.Ping(ctx); err != nil {
			c.closeWith(0, "")
		}
	}()
}

// write sends items: each run of events as one Events frame (split at
// MaxBatchBytes), each control frame as its own message.
func (c *conn) write(items []queueItem) error {
	chunks, size := c.chunks[:0], 0
	defer func() {
		clear(chunks)
		c.chunks = chunks[:0]
	}()
	flush := func() error {
		if len(chunks) == 0 {
			return nil
		}
		c.buf = appendEventsFrame(c.buf[:0], chunks)
		clear(chunks)
		chunks, size = chunks[:0], 0
		return c.writeMessage(c.buf)
	}
	for i := range items {
		it := &items[i]
		if it.ev == nil {
			if err := flush(); err != nil {
				return err
			}
			if err := c.writeMessage(it.frame); err != nil {
				return err
			}
			continue
		}
		if !it.sub.active.Load() || !c.allowed(it.sub, it.ev) {
			continue
		}
		if len(chunks) > 0 && size+len(it.ev.chunk) > c.g.opts.Limits.MaxBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		chunks = append(chunks, it.ev.chunk)
		size += len(it.ev.chunk)
	}
	err := flush()
	if cap(c.buf) > 4*c.g.opts.Limits.MaxBatchBytes {
		c.buf = nil // do not pin a burst's buffer for the connection's life
	}
	return err
}

var errClosing = errors.New("ssotws: connection closing")

func (c *conn) writeMessage(b []byte) error {
	if c.isClosing.Load() {
		return errClosing
	}
	if c.writeTimer == nil {
		c.writeTimer = time.AfterFunc(c.g.opts.WriteTimeout, func() { _ = c.ws.CloseNow() })
	} else {
		c.writeTimer.Reset(c.g.opts.WriteTimeout)
	}
	// A context without Done: websocket.Conn then sets up no timeout of
	// its own (no context.AfterFunc per write); writeTimer bounds it.
	err := c.ws.Write(context.Background(), websocket.MessageBinary, b)
	c.writeTimer.Stop()
	return err
}

// allowed applies the Filter hook. A hook that panics drops the event.
func (c *conn) allowed(s *subscription, e *sharedEvent) bool {
	hook := c.g.opts.Filter
	if hook == nil {
		return true
	}
	ctx, id := c.hookContext()
	ok := false
	err := c.g.safe("Filter", func() error {
		ok = hook(ctx, id, s.model, e.ev)
		return nil
	})
	return err == nil && ok
}

// subscription is one channel subscribed on one connection.
type subscription struct {
	c       *conn
	id      uint32 // of the Subscribe that opened it
	name    ChannelName
	channel string
	model   *Model
	// owner, when set, limits deliveries to records whose owner field is
	// subject (OWNER read access).
	owner   protoreflect.FieldDescriptor
	subject string

	active atomic.Bool
	hubIdx int // index in the hub's list of the channel; the hub's shard lock guards it

	// Guarded by c.q.mu, so that a delivery takes one lock.
	pending  bool           // replay not queued yet: live events wait in buf
	buf      []*sharedEvent // live events that arrived while pending
	overflow bool           // buf outgrew the send queue's bound
	last     uint64         // offset of the last event queued
}

func (s *subscription) visible(e *sharedEvent) bool {
	return s.owner == nil || e.ownerOf(s.owner) == s.subject
}

// deliver queues a live event; the fan-out calls it, in offset order.
func (s *subscription) deliver(e *sharedEvent) {
	if !s.visible(e) {
		return
	}
	q := s.c.q
	q.mu.Lock()
	if s.pending {
		if len(s.buf) >= s.c.g.opts.Limits.SendQueue {
			s.overflow = true
		} else {
			s.buf = append(s.buf, e)
		}
		q.mu.Unlock()
		return
	}
	ok, start := s.queueLocked(e, false)
	q.mu.Unlock()
	s.after(ok, start)
}

// queueLocked pushes e unless an event at or after its offset was queued.
// s.c.q.mu must be held; the caller passes the results to after once it
// has unlocked.
func (s *subscription) queueLocked(e *sharedEvent, force bool) (ok, start bool) {
	off := e.ev.GetPosition().GetOffset()
	if off <= s.last {
		return true, false
	}
	s.last = off
	return s.c.q.pushLocked(queueItem{sub: s, ev: e}, force)
}

// after acts on what pushLocked reported: an overflow closes the
// connection, an idle queue starts its write loop.
func (s *subscription) after(ok, start bool) {
	if start {
		s.c.q.start()
	}
	if !ok {
		s.c.closeWith(CloseTooSlow, "too slow")
	}
}

// start queues the replay and the Ack (or the Reset) of the subscription,
// then the live events that arrived meanwhile, and goes live.
//
// A replay is bounded by the connection's replay budget
// ([Limits].MaxReplay, shared by its subscriptions): one that does not
// fit in what is left of it is not queued, and the subscription gets a
// Reset at the position the replay would have reached instead, so the
// client refetches (and then resumes from a fresh position) rather than
// the server holding an unbounded backlog for a client that may not read.
func (s *subscription) start(id uint32, replay []*wsv1.Event, pos *wsv1.Position, reset bool) {
	c := s.c
	budget := c.g.opts.Limits.MaxReplay
	if len(replay) > budget {
		replay, reset = nil, true
	}
	// Encode outside the lock (the fan-out waits on it), once for all the
	// subscriptions that replay the same history.
	shared := make([]*sharedEvent, 0, len(replay))
	for _, ev := range replay {
		e, err := c.g.encoded.get(ev)
		if err != nil {
			c.g.logger.Error("ssotws: encoding event", "channel", ev.Channel, "err", err)
			continue
		}
		if s.visible(e) {
			shared = append(shared, e)
		}
	}
	q := c.q
	q.mu.Lock()
	if q.forced+len(shared) > budget {
		shared, reset = nil, true
	}
	q.mu.Unlock()
	var f *wsv1.ServerFrame
	if reset {
		f = &wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Reset_{Reset_: &wsv1.Reset{Id: id, Channel: s.channel, Position: pos}}}
	} else {
		f = &wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Ack{Ack: &wsv1.Ack{Id: id, Position: pos}}}
	}
	frame, err := proto.Marshal(f)
	if err != nil {
		c.g.logger.Error("ssotws: encoding frame", "err", err)
		c.closeWith(0, "")
		return
	}
	q.mu.Lock()
	ok, start := true, false
	note := func(o, st bool) {
		ok = ok && o
		start = start || st
	}
	for _, e := range shared {
		note(s.queueLocked(e, true))
	}
	s.last = pos.GetOffset()
	note(q.pushLocked(queueItem{frame: frame}, true))
	for _, e := range s.buf {
		note(s.queueLocked(e, false))
	}
	s.pending, s.buf = false, nil
	if s.overflow {
		ok = false
	}
	q.mu.Unlock()
	s.after(ok, start)
}
