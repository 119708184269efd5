package ssotws

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// Presence: who is in a channel. A connection enters a channel's presence
// with a PresenceJoin (read access to the channel), and from then on hears
// the channel's Presence changes and Signal frames (signal.go) until it
// leaves or closes. One member per user, however many connections, on
// however many nodes: a node announces its own members over the
// [ControlBroker] (presence_cluster.go), leased as the connection counts
// are, so a dead node's members leave after [ClusterOptions].Lease.

// Defaults of [PresenceOptions].
const (
	DefaultMaxPresencePayload  = 512
	DefaultMaxPresenceChannels = 20
	DefaultSignalRate          = 5
	DefaultSignalBurst         = 10
	DefaultMaxSignalBytes      = 1024
	maxSignalName              = 64
)

// PresenceOptions bounds presence and signals ([GatewayOptions].Presence).
// Zero values mean the defaults.
type PresenceOptions struct {
	// MaxPayloadBytes bounds the payload of a PresenceJoin: a larger one
	// is refused with ERROR_CODE_TOO_LARGE. Default 512 bytes.
	MaxPayloadBytes int
	// MaxChannels bounds the channels one connection is present in (or
	// observes): one more join is refused with
	// ERROR_CODE_TOO_MANY_SUBSCRIPTIONS. Default 20.
	MaxChannels int
	// SignalRate and SignalBurst bound the signals of one connection, a
	// token bucket: a signal over it is dropped (ERROR_CODE_RATE_LIMITED
	// when it asked for an answer). Every signal is also a client frame,
	// counted against [Limits].FrameRate. Defaults 5 per second, a burst
	// of 10; a negative SignalRate disables the bound.
	SignalRate  float64
	SignalBurst int
	// MaxSignalBytes bounds a signal's name and data together: a larger
	// one is refused with ERROR_CODE_TOO_LARGE. Default 1 KiB. Names are
	// at most 64 bytes.
	MaxSignalBytes int
	// AuthorizeSignal, when set, is asked after the model's write access
	// allowed a signal; an error refuses it (ERROR_CODE_FORBIDDEN, or
	// ERROR_CODE_UNAUTHENTICATED when it wraps [ErrUnauthenticated]).
	// Joins are authorized as subscriptions are, by the model's read
	// access and [GatewayOptions].Authorize.
	AuthorizeSignal func(ctx context.Context, id *Identity, m *Model, ch ChannelName, name string) error
}

func (o PresenceOptions) withDefaults() PresenceOptions {
	if o.MaxPayloadBytes <= 0 {
		o.MaxPayloadBytes = DefaultMaxPresencePayload
	}
	if o.MaxChannels <= 0 {
		o.MaxChannels = DefaultMaxPresenceChannels
	}
	if o.SignalRate == 0 {
		o.SignalRate = DefaultSignalRate
	}
	if o.SignalBurst <= 0 {
		o.SignalBurst = DefaultSignalBurst
	}
	if o.MaxSignalBytes <= 0 {
		o.MaxSignalBytes = DefaultMaxSignalBytes
	}
	return o
}

// presence is a gateway's presence state. mu guards everything below,
// and the peers and outbox of cl; it is taken by read loops (join, leave,
// signal, a connection's end), by the control listener and by the
// cluster's sender, and never held while calling into the broker. Lock
// order: presence.mu, then a connection's sendQueue.mu.
type presence struct {
	g *Gateway
	o PresenceOptions

	mu       sync.Mutex
	conns    map[*conn]*presenceConn
	channels map[string]*presenceChannel // channels with members on this node
	cl       *presenceCluster            // nil: this node only
}

// presenceConn is one connection's part in presence.
type presenceConn struct {
	user   string // the subject, or "anon:<hex>"
	chans  map[string]*membership
	bucket tokenBucket // signals
}

// membership is one connection in one channel.
type membership struct {
	user    string
	observe bool
	payload []byte
	at      int64 // when it joined (Unix nanoseconds): the latest payload wins
}

// presenceChannel is a channel with members on this node, and what they
// were told of it.
type presenceChannel struct {
	name    string
	members map[*conn]*membership
	view    map[string][]byte // user → payload, as the members were told
}

// presenceEntry is one user's presence in a channel on one node.
type presenceEntry struct {
	payload []byte
	at      int64
}

func newPresence(g *Gateway) *presence {
	p := &presence{
		g:        g,
		o:        g.opts.Presence.withDefaults(),
		conns:    make(map[*conn]*presenceConn),
		channels: make(map[string]*presenceChannel),
	}
	p.cl = startPresenceCluster(p)
	return p
}

func (p *presence) stop() {
	if p != nil && p.cl != nil {
		p.cl.stop()
	}
}

// resolve checks a channel name of a presence or signal frame, as
// subscribe does.
func (g *Gateway) resolve(raw string) (ChannelName, *Model, wsv1.ErrorCode, string) {
	if hasControl(raw) {
		return ChannelName{}, nil, wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, fmt.Sprintf("%v: control characters in %q", ErrBadChannel, truncate(raw))
	}
	name, err := ParseChannel(raw)
	if err != nil {
		return ChannelName{}, nil, wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, err.Error()
	}
	m := g.model(name.Model)
	if m == nil {
		return ChannelName{}, nil, wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, fmt.Sprintf("unknown channel %q: no model %q", truncate(raw), name.Model)
	}
	if name.Kind == ChannelScope && !hasScope(m, name.Field) {
		return ChannelName{}, nil, wsv1.ErrorCode_ERROR_CODE_UNKNOWN_CHANNEL, fmt.Sprintf("unknown channel %q: %s has no scope %q", truncate(raw), name.Model, name.Field)
	}
	if m.ReadAccess() == wsv1.Access_OWNER {
		// Its readers must not learn of each other.
		return ChannelName{}, nil, wsv1.ErrorCode_ERROR_CODE_FORBIDDEN, fmt.Sprintf("%s is read by its owners only: no presence or signals on %q", m.Name(), truncate(raw))
	}
	return name, m, 0, ""
}

// connLocked returns c's part, creating it. p.mu is held.
func (p *presence) connLocked(c *conn) *presenceConn {
	pc := p.conns[c]
	if pc == nil {
		pc = &presenceConn{user: presenceUser(c), chans: make(map[string]*membership), bucket: newTokenBucket(p.o.SignalRate, p.o.SignalBurst)}
		p.conns[c] = pc
	}
	return pc
}

// presenceUser is who c is in presence: its subject, or a name of its
// own for an anonymous connection.
func presenceUser(c *conn) string {
	if id := c.identity.Load(); id != nil && id.Subject != "" {
		return id.Subject
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "anon:" + hex.EncodeToString(b[:])
}

// join serves a PresenceJoin on the read loop.
func (p *presence) join(c *conn, req *wsv1.PresenceJoin) {
	id := req.GetId()
	name, m, code, msg := c.g.resolve(req.GetChannel())
	if m == nil {
		c.sendError(id, code, msg)
		return
	}
	if len(req.GetPayload()) > p.o.MaxPayloadBytes {
		c.sendError(id, wsv1.ErrorCode_ERROR_CODE_TOO_LARGE, fmt.Sprintf("a presence payload is at most %d bytes", p.o.MaxPayloadBytes))
		return
	}
	if code, msg, ok := c.mayRead(m, name); !ok {
		c.sendError(id, code, msg)
		return
	}
	if msg, ok := decodes(m.PresenceType(), "a presence payload", name, req.GetPayload()); !ok {
		c.sendError(id, wsv1.ErrorCode_ERROR_CODE_BAD_REQUEST, msg)
		return
	}
	channel := name.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := p.connLocked(c)
	if pc.chans[channel] == nil && len(pc.chans) >= p.o.MaxChannels {
		c.sendError(id, wsv1.ErrorCode_ERROR_CODE_TOO_MANY_SUBSCRIPTIONS, fmt.Sprintf("present in at most %d channels per connection", p.o.MaxChannels))
		return
	}
	ms := &membership{user: pc.user, observe: req.GetObserve(), payload: bytes.Clone(req.GetPayload()), at: time.Now().UnixNano()}
	ch := p.channelLocked(channel)
	before, had := ch.local(pc.user)
	ch.members[c] = ms
	pc.chans[channel] = ms
	p.changedLocked(ch, pc.user, before, had, c)
	c.send(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Ack{Ack: &wsv1.Ack{Id: id}}}, false)
	c.send(ch.snapshot(), false)
}

// leave serves a PresenceLeave on the read loop and acks it, present or not.
func (p *presence) leave(c *conn, req *wsv1.PresenceLeave) {
	channel := req.GetChannel()
	if name, err := ParseChannel(channel); err == nil {
		channel = name.String()
	}
	p.mu.Lock()
	if pc := p.conns[c]; pc != nil {
		p.leaveLocked(c, pc, channel)
	}
	p.mu.Unlock()
	c.send(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Ack{Ack: &wsv1.Ack{Id: req.GetId()}}}, false)
}

func (p *presence) leaveLocked(c *conn, pc *presenceConn, channel string) {
	ms := pc.chans[channel]
	ch := p.channels[channel]
	if ms == nil || ch == nil {
		return
	}
	before, had := ch.local(ms.user)
	delete(pc.chans, channel)
	delete(ch.members, c)
	p.changedLocked(ch, ms.user, before, had, c)
	if len(ch.members) == 0 {
		delete(p.channels, channel)
	}
}

// drop ends c's presence everywhere; serve calls it as the connection ends.
func (p *presence) drop(c *conn) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := p.conns[c]
	if pc == nil {
		return
	}
	for channel := range pc.chans {
		p.leaveLocked(c, pc, channel)
	}
	delete(p.conns, c)
}

// recheck authorizes c's memberships again after a token refresh: those
// no longer allowed end with an Error frame (id 0, the channel named), and
// a connection that authenticated after joining anonymously rejoins as
// its subject.
func (p *presence) recheck(c *conn) {
	if p == nil {
		return
	}
	p.mu.Lock()
	pc := p.conns[c]
	if pc == nil {
		p.mu.Unlock()
		return
	}
	type rejoin struct {
		channel string
		ms      *membership
	}
	var gone []string
	var again []rejoin
	user := pc.user
	if id := c.identity.Load(); id != nil && id.Subject != "" {
		user = id.Subject
	}
	for channel, ms := range pc.chans {
		name, err := ParseChannel(channel)
		m := c.g.model(name.Model)
		ok := err == nil && m != nil
		if ok {
			_, _, ok = c.mayRead(m, name)
		}
		switch {
		case !ok:
			gone = append(gone, channel)
		case user != pc.user:
			again = append(again, rejoin{channel, ms})
		}
	}
	for _, channel := range gone {
		p.leaveLocked(c, pc, channel)
	}
	for _, r := range again {
		p.leaveLocked(c, pc, r.channel)
	}
	pc.user = user
	for _, r := range again {
		ms := &membership{user: user, observe: r.ms.observe, payload: r.ms.payload, at: time.Now().UnixNano()}
		ch := p.channelLocked(r.channel)
		before, had := ch.local(user)
		ch.members[c] = ms
		pc.chans[r.channel] = ms
		p.changedLocked(ch, user, before, had, nil)
	}
	p.mu.Unlock()
	for _, channel := range gone {
		c.sendError(0, wsv1.ErrorCode_ERROR_CODE_FORBIDDEN, fmt.Sprintf("no longer present in %q", channel))
	}
}

// channelLocked returns the channel's local state, creating it with the
// view of the other nodes' members.
func (p *presence) channelLocked(channel string) *presenceChannel {
	ch := p.channels[channel]
	if ch != nil {
		return ch
	}
	ch = &presenceChannel{name: channel, members: make(map[*conn]*membership), view: make(map[string][]byte)}
	p.channels[channel] = ch
	for user := range p.cl.users(channel) {
		if e, ok := p.merged(ch, user); ok {
			ch.view[user] = e.payload
		}
	}
	return ch
}

// local returns user's presence on this node: its latest visible join.
func (ch *presenceChannel) local(user string) (presenceEntry, bool) {
	var best presenceEntry
	found := false
	for _, ms := range ch.members {
		if ms.user == user && !ms.observe && (!found || ms.at > best.at) {
			best, found = presenceEntry{payload: ms.payload, at: ms.at}, true
		}
	}
	return best, found
}

// merged returns user's presence over every node: present anywhere, with
// the payload of the latest join.
func (p *presence) merged(ch *presenceChannel, user string) (presenceEntry, bool) {
	best, found := ch.local(user)
	if e, ok := p.cl.best(ch.name, user); ok && (!found || e.at > best.at) {
		best, found = e, true
	}
	return best, found
}

// changedLocked follows a change of user's local membership in ch: it
// announces this node's entry to the others when it changed, and tells
// the members what changed (except skip, which gets a snapshot).
func (p *presence) changedLocked(ch *presenceChannel, user string, before presenceEntry, had bool, skip *conn) {
	after, has := ch.local(user)
	if had != has || has && (before.at != after.at || !bytes.Equal(before.payload, after.payload)) {
		p.cl.announce(ch.name, user, after, has)
	}
	p.updateLocked(ch, user, skip)
}

// updateLocked brings ch's view of user up to date and tells the members
// what changed, except skip.
func (p *presence) updateLocked(ch *presenceChannel, user string, skip *conn) {
	e, present := p.merged(ch, user)
	old, had := ch.view[user]
	var f *wsv1.Presence
	switch {
	case present && (!had || !bytes.Equal(old, e.payload)):
		ch.view[user] = e.payload
		f = &wsv1.Presence{Channel: ch.name, Joined: []*wsv1.PresenceMember{{User: user, Payload: e.payload}}}
	case !present && had:
		delete(ch.view, user)
		f = &wsv1.Presence{Channel: ch.name, Left: []string{user}}
	default:
		return
	}
	ch.broadcast(&wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Presence{Presence: f}}, skip)
}

// broadcast queues f, encoded once, for every member of ch but skip.
func (ch *presenceChannel) broadcast(f *wsv1.ServerFrame, skip *conn) {
	b, err := proto.Marshal(f)
	if err != nil {
		return
	}
	for c := range ch.members {
		if c == skip {
			continue
		}
		if !c.q.push(queueItem{frame: b}, false) {
			c.closeWith(CloseTooSlow, "too slow")
		}
	}
}

// snapshot is the Presence frame of everyone in ch, sorted by user.
func (ch *presenceChannel) snapshot() *wsv1.ServerFrame {
	users := make([]string, 0, len(ch.view))
	for u := range ch.view {
		users = append(users, u)
	}
	sort.Strings(users)
	f := &wsv1.Presence{Channel: ch.name, Snapshot: true, Joined: make([]*wsv1.PresenceMember, 0, len(users))}
	for _, u := range users {
		f.Joined = append(f.Joined, &wsv1.PresenceMember{User: u, Payload: ch.view[u]})
	}
	return &wsv1.ServerFrame{Frame: &wsv1.ServerFrame_Presence{Presence: f}}
}

// errorCodeOf maps a hook's refusal to an error code.
func errorCodeOf(err error) wsv1.ErrorCode {
	if errors.Is(err, ErrUnauthenticated) {
		return wsv1.ErrorCode_ERROR_CODE_UNAUTHENTICATED
	}
	return wsv1.ErrorCode_ERROR_CODE_FORBIDDEN
}
