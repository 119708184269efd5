package ssotws

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// subscription is one channel subscribed on one connection. The read loop
// makes and ends it (subscribe, unsubscribe, recheck, serve); the hub
// delivers its channel's events to it; the write loop filters them as it
// writes (passes).
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
	// deltas: the client asked for deltas (Subscribe.deltas, delta.go).
	deltas bool
	// redaction is the model's redacted fields (nil: none), and viewer
	// the subscriber ("" for nobody), whose audience picks what it sees
	// of them (redact.go).
	redaction *redaction
	viewer    string

	// active is cleared by the read loop when the subscription ends; the
	// write loop then drops its queued events.
	active atomic.Bool
	hubIdx int // index in the hub's list of the channel; the hub's shard lock guards it

	delivery // where it stands in c.q; c.q.mu guards it (queue.go)
}

// subscribe serves a Subscribe frame on the read loop: it checks the
// channel and the caller's right to read it, adds the subscription to the
// hub, reads the replay (or the current position) from the broker, and
// starts it.
func (c *conn) subscribe(req *wsv1.Subscribe) {
	id := req.GetId()
	refuse := func(code wsv1.ErrorCode, msg string) { c.refuseSubscription(id, req.GetChannel(), code, msg) }
	if hasControl(req.GetChannel()) {
		refuse(wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, fmt.Sprintf("%v: control characters in %q", ErrBadChannel, truncate(req.GetChannel())))
		return
	}
	name, err := ParseChannel(req.GetChannel())
	if err != nil {
		refuse(wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, err.Error())
		return
	}
	m := c.g.model(name.Model)
	if m == nil {
		refuse(wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, fmt.Sprintf("unknown channel %q: no model %q", truncate(req.GetChannel()), name.Model))
		return
	}
	if name.Kind == ChannelScope && !hasScope(m, name.Field) {
		refuse(wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, fmt.Sprintf("unknown channel %q: %s has no scope %q", truncate(req.GetChannel()), name.Model, name.Field))
		return
	}
	channel := name.String()
	if c.subs == nil {
		c.subs = make(map[string]*subscription)
	}
	if c.subs[channel] != nil {
		refuse(wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST, fmt.Sprintf("already subscribed to %q", channel))
		return
	}
	if len(c.subs) >= c.g.opts.Limits.MaxSubscriptions {
		refuse(wsv1.ErrorCode_ERROR_CODE_TOO_MANY_SUBSCRIPTIONS, fmt.Sprintf("at most %d subscriptions per connection", c.g.opts.Limits.MaxSubscriptions))
		return
	}
	if code, msg, ok := c.mayRead(m, name); !ok {
		refuse(code, msg)
		return
	}
	ident := c.identity.Load()
	s := &subscription{c: c, id: id, name: name, channel: channel, model: m, delivery: delivery{pending: true}, deltas: req.GetDeltas()}
	if m.ReadAccess() == wsv1.Access_OWNER && m.OwnerField() != nil {
		s.owner, s.subject = m.OwnerField(), ident.Subject
	}
	if s.redaction = redactionOf(m); s.redaction != nil && ident != nil {
		s.viewer = ident.Subject
	}
	s.active.Store(true)
	// Subscribe before reading history or position: an event published
	// meanwhile lands in s.buf, and offsets drop the overlap.
	c.subs[channel] = s
	c.g.hub.add(channel, s)
	c.g.tel.subsChanged(1)

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
		c.endSubscription(channel, s)
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

// hasScope reports whether field scopes m's channels: a declared scope,
// or an AIP resource's parent.
func hasScope(m *Model, field string) bool { return m.IsScope(field) }

// unsubscribe serves an Unsubscribe frame on the read loop and acks it,
// subscribed or not.
func (c *conn) unsubscribe(req *wsv1.Unsubscribe) {
	channel := req.GetChannel()
	if name, err := ParseChannel(channel); err == nil {
		channel = name.String()
	}
	if s := c.subs[channel]; s != nil {
		c.endSubscription(channel, s)
	}
	c.send(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Ack{Ack: &wsv1.Ack{Id: req.GetId()}}}, false)
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
		c.endSubscription(channel, s)
		c.refuseSubscription(s.id, channel, code, msg)
	}
}

// endSubscription ends s, the subscription of channel, on the read loop:
// the write loop drops what is still queued of it.
func (c *conn) endSubscription(channel string, s *subscription) {
	s.active.Store(false)
	c.g.hub.remove(channel, s)
	delete(c.subs, channel)
	c.g.tel.subsChanged(-1)
}

// refuseSubscription answers the Subscribe id for channel with an Error
// frame, and records the refusal.
func (c *conn) refuseSubscription(id uint32, channel string, code wsv1.ErrorCode, msg string) {
	c.g.tel.subRefusal(c.g.logger, subRefusalOf(code),
		slog.String("user", c.subject()), slog.String("channel", truncate(channel)),
		slog.String("error_code", code.String()), slog.String("detail", msg),
		slog.Uint64("conn", c.seq), slog.Uint64("id", uint64(id)))
	c.sendError(id, code, msg)
}

// mayRead applies the model's read access and the Policy (with the older
// Authorize hook) to a subscription of channel: the question a List or Get
// of the same channel asks over HTTP.
func (c *conn) mayRead(m *Model, name ChannelName) (wsv1.ErrorCode, string, bool) {
	ctx, ident := c.hookContext()
	if access := m.ReadAccess(); access != wsv1.Access_PUBLIC && (ident == nil || ident.Subject == "") {
		return wsv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED, fmt.Sprintf("%s needs an authenticated connection", m.Name()), false
	}
	if p := c.g.policy; p != nil {
		err := decide(c.g.logger, "Subscribe", func() error {
			return p.ReadChannel(ctx, &ChannelRequest{Via: ViaSubscribe, Identity: ident, Model: m, Channel: name})
		})
		if err != nil {
			return socketCode(err), fmt.Sprintf("may not subscribe to %q", name.String()), false
		}
	}
	return 0, "", true
}

func (s *subscription) visible(e *sharedEvent) bool {
	return s.owner == nil || e.ownerOf(s.owner) == s.subject
}

// deliver queues a live event of s's channel; the hub calls it, in offset
// order, from the broker's listener. It never blocks on the connection: a
// connection whose queue overflows is closed as too slow.
func (s *subscription) deliver(e *sharedEvent, wl *wakeList) {
	if !s.visible(e) {
		return
	}
	if e = s.view(e); e == nil {
		return
	}
	one := [1]*sharedEvent{e}
	ok, start := s.c.q.pushLiveAll(s, one[:])
	s.pushed(ok, start, wl)
}

// pushed follows up a push of s's events: it closes the connection when
// its queue overflowed, and lists it in wl when its write loop is to be
// started (inline.go).
func (s *subscription) pushed(ok, start bool, wl *wakeList) {
	if start {
		wl.conns = append(wl.conns, s.c)
	}
	if !ok {
		s.c.refuse(refuseTooSlow, "", "too slow", slog.String("detail", "send queue overflow"))
	}
}

// start queues the replay and the Ack (or the Reset) of the subscription,
// then the live events that arrived meanwhile, and goes live. It runs on
// the read loop, at the end of subscribe.
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
		e, err := c.g.encoded.get(ev, s.model)
		if err != nil {
			c.g.logger.Error("ssotws: encoding event", "channel", ev.Channel, "err", err)
			continue
		}
		if s.visible(e) {
			if e = s.view(e); e != nil {
				shared = append(shared, e)
			}
		}
	}
	if !c.q.replayFits(len(shared), budget) {
		shared, reset = nil, true
	}
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
	if !c.q.goLive(s, shared, frame, pos.GetOffset()) {
		c.refuse(refuseTooSlow, "", "too slow", slog.String("detail", "send queue overflow"))
	}
}

// passes reports whether e, queued for s, still goes out (dropNone): s is
// active and the Policy (with the older Filter hook) lets e's record
// through; otherwise why not. It runs on the write loop. A Policy that
// panics drops the event.
func (s *subscription) passes(e *sharedEvent) dropReason {
	if !s.active.Load() {
		return dropUnsubscribed
	}
	c := s.c
	p := c.g.policy
	if p == nil {
		return dropNone
	}
	ctx, id := c.hookContext()
	err := decide(c.g.logger, "Event", func() error {
		return p.ReadRecord(ctx, &RecordRequest{
			Via: ViaEvent, Identity: id, Model: s.model, Key: e.ev.GetKey(),
			Record: e.recordOf(s.model), Event: e.whole().ev, // the server sees it whole (redact.go)
		})
	})
	if err != nil {
		return dropFiltered
	}
	return dropNone
}
