package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// Presence and ephemeral signals on the Conn: who is in a channel
// ([Conn.Join]), and small messages that are not stored ([Conn.Signal]).
// The twin of ts/runtime/src/presence.ts. See docs/presence.md.

// Member is one user present in a channel, however many connections they
// joined it from.
type Member struct {
	// User is the authenticated subject, or "anon:<id>" for an anonymous
	// connection.
	User    string
	Payload []byte
}

// Signal is an ephemeral message published on a channel.
type Signal struct {
	Channel string
	User    string
	Name    string
	Data    []byte
}

// JoinOptions configures [Conn.Join].
type JoinOptions struct {
	// Payload is what the other members see of this user (a name, a
	// status); the gateway bounds its size (512 bytes by default).
	Payload []byte
	// Observe hears the channel's presence and signals without appearing
	// in it.
	Observe bool
	// OnChange, when set, is called with the members after each change,
	// on the Conn's callback goroutine, one call at a time.
	OnChange func(members []Member)
	// OnSignal, when set, is called with each signal of the channel, on
	// the same goroutine.
	OnSignal func(s Signal)
}

// ErrAlreadyJoined is returned by [Conn.Join] for a channel this Conn has
// joined already: change the payload with [Presence.SetPayload].
var ErrAlreadyJoined = errors.New("ssotws/client: already joined this channel")

// ErrNotConnected is returned by [Conn.Signal] while the Conn has no open
// connection: signals are ephemeral and are not kept for later.
var ErrNotConnected = errors.New("ssotws/client: not connected")

// Presence is this Conn's membership of a channel's presence. It joins
// again after every reconnect, with its latest payload.
type Presence struct {
	c       *Conn
	channel string
	opts    JoinOptions

	// c.mu guards these two
	joinID uint32 // of the PresenceJoin in flight or acknowledged
	left   bool

	mu      sync.Mutex
	members map[string][]byte
	err     error
	changed chan struct{} // closed and replaced at each change
}

// presenceState is the Conn's presence bookkeeping, guarded by c.mu.
type presenceState struct {
	channels map[string]*Presence
	joins    map[uint32]*Presence  // PresenceJoin id → membership
	signals  map[uint32]chan error // SendSignal id → its waiter
}

func (s *presenceState) init() {
	if s.channels == nil {
		s.channels = make(map[string]*Presence)
		s.joins = make(map[uint32]*Presence)
		s.signals = make(map[uint32]chan error)
	}
}

// Join enters the presence of channel (a channel name, as for
// subscriptions) and connects the Conn if it is not yet. The gateway
// checks the channel's read access; a refusal is reported by
// [Presence.Err] and to OnChange's watchers ([Presence.Watch]). Leave ends
// it.
func (c *Conn) Join(channel string, opts *JoinOptions) (*Presence, error) {
	p := &Presence{c: c, channel: channel, members: make(map[string][]byte), changed: make(chan struct{})}
	if opts != nil {
		p.opts = *opts
		p.opts.Payload = bytes.Clone(opts.Payload)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == StateClosed || c.state == StateUnavailable {
		return nil, ErrClosed
	}
	c.pres.init()
	if c.pres.channels[channel] != nil {
		return nil, ErrAlreadyJoined
	}
	c.pres.channels[channel] = p
	if c.link != nil {
		c.joinLocked(p)
	}
	c.startLocked()
	return p, nil
}

func (c *Conn) nextIDLocked() uint32 {
	c.nextID++
	if c.nextID == 0 {
		c.nextID++
	}
	return c.nextID
}

// joinLocked sends p's PresenceJoin on the current link.
func (c *Conn) joinLocked(p *Presence) {
	delete(c.pres.joins, p.joinID)
	p.joinID = c.nextIDLocked()
	c.pres.joins[p.joinID] = p
	c.sendLocked(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_PresenceJoin{PresenceJoin: &wsv1.PresenceJoin{
		Id: p.joinID, Channel: p.channel, Payload: p.opts.Payload, Observe: p.opts.Observe}}})
}

// rejoinLocked joins every channel again on a new link, and fails the
// signals that waited for an answer on the old one.
func (c *Conn) rejoinLocked() {
	if c.pres.channels == nil {
		return
	}
	for id, ch := range c.pres.signals {
		ch <- ErrNotConnected
		delete(c.pres.signals, id)
	}
	clear(c.pres.joins)
	for _, p := range c.pres.channels {
		c.joinLocked(p)
	}
}

// Channel returns the channel's name.
func (p *Presence) Channel() string { return p.channel }

// Members returns the users present, sorted by user.
func (p *Presence) Members() []Member {
	m, _ := p.Watch()
	return m
}

// Watch returns the members and a channel closed at the next change (of
// the members, or of [Presence.Err]).
func (p *Presence) Watch() ([]Member, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Member, 0, len(p.members))
	for u, b := range p.members {
		out = append(out, Member{User: u, Payload: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].User < out[j].User })
	return out, p.changed
}

// Err returns the gateway's refusal of the last join, or nil.
func (p *Presence) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// SetPayload changes what the other members see of this user.
func (p *Presence) SetPayload(payload []byte) {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.left {
		return
	}
	p.opts.Payload = bytes.Clone(payload)
	if c.link != nil {
		c.joinLocked(p)
	}
}

// Leave leaves the channel's presence; the callbacks are not called for
// it afterwards.
func (p *Presence) Leave() {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.left {
		return
	}
	p.left = true
	delete(c.pres.channels, p.channel)
	delete(c.pres.joins, p.joinID)
	if c.link != nil {
		c.sendLocked(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_PresenceLeave{PresenceLeave: &wsv1.PresenceLeave{
			Id: c.nextIDLocked(), Channel: p.channel}}})
	}
}

// SignalOptions configures [Conn.Signal].
type SignalOptions struct {
	// Echo delivers the signal to this Conn too, when it joined the channel.
	Echo bool
}

// Signal publishes an ephemeral signal on channel (name says what it
// means, "typing"; data is its payload) and waits for the gateway's
// answer: nil, or its refusal (no write access, over the rate, too
// large). It reaches the connections present in the channel at that
// moment; nothing is stored. Without an open connection it returns
// [ErrNotConnected] at once.
func (c *Conn) Signal(ctx context.Context, channel, name string, data []byte, opts *SignalOptions) error {
	echo := opts != nil && opts.Echo
	done := make(chan error, 1)
	c.mu.Lock()
	if c.link == nil {
		c.mu.Unlock()
		return ErrNotConnected
	}
	c.pres.init()
	id := c.nextIDLocked()
	c.pres.signals[id] = done
	c.sendLocked(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_SendSignal{SendSignal: &wsv1.SendSignal{
		Id: id, Channel: channel, Name: name, Data: data, Echo: echo}}})
	c.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	case <-c.ctx.Done():
	}
	c.mu.Lock()
	delete(c.pres.signals, id)
	c.mu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return ErrClosed
}

// handlePresence routes the server frames of presence and signals; it
// reports false for the others.
func (c *Conn) handlePresence(f *wsv1.ServerFrame) bool {
	switch fr := f.Frame.(type) {
	case *wsv1.ServerFrame_Ack:
		return c.answered(fr.Ack.GetId(), nil)
	case *wsv1.ServerFrame_Error:
		e := fr.Error
		return c.answered(e.GetId(), fmt.Errorf("ssotws/client: %s: %s", e.GetCode(), e.GetMessage()))
	case *wsv1.ServerFrame_Presence:
		pf := fr.Presence
		p := c.presenceOf(pf.GetChannel())
		if p == nil {
			return true
		}
		p.mu.Lock()
		if pf.GetSnapshot() {
			clear(p.members)
		}
		for _, m := range pf.GetJoined() {
			p.members[m.GetUser()] = m.GetPayload()
		}
		for _, u := range pf.GetLeft() {
			delete(p.members, u)
		}
		p.notifyLocked()
		p.mu.Unlock()
		if fn := p.opts.OnChange; fn != nil {
			members := p.Members()
			c.disp.post(func() { fn(members) })
		}
		return true
	case *wsv1.ServerFrame_Signal:
		s := fr.Signal
		if p := c.presenceOf(s.GetChannel()); p != nil && p.opts.OnSignal != nil {
			fn, sig := p.opts.OnSignal, Signal{Channel: s.GetChannel(), User: s.GetUser(), Name: s.GetName(), Data: s.GetData()}
			c.disp.post(func() { fn(sig) })
		}
		return true
	}
	return false
}

func (p *Presence) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (c *Conn) presenceOf(channel string) *Presence {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pres.channels[channel]
}

// answered delivers the Ack or Error of a PresenceJoin or SendSignal; it
// reports false for an id of neither.
func (c *Conn) answered(id uint32, err error) bool {
	if id == 0 {
		return false
	}
	c.mu.Lock()
	if ch, ok := c.pres.signals[id]; ok {
		delete(c.pres.signals, id)
		c.mu.Unlock()
		ch <- err
		return true
	}
	p := c.pres.joins[id]
	c.mu.Unlock()
	if p == nil {
		return false
	}
	p.mu.Lock()
	p.err = err
	if err != nil {
		clear(p.members)
	}
	p.notifyLocked()
	p.mu.Unlock()
	if err != nil && c.opts.OnError != nil {
		c.opts.OnError(p.channel, err)
	}
	return true
}
