package ssotws

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// Presence across nodes, over the control messages of a [ControlBroker]
// (the same subject as cluster.go's, told apart by kinds starting with
// "p."). Each node announces its own members (absolute entries, so a
// repeat is harmless) and relays signals; a heartbeat every Lease/3 keeps
// its entries alive, and they leave Lease after its last message, at once
// after its goodbye. As in cluster.go, a node that starts, restarts or
// notices a gap in another's sequence asks for its full presence, sent in
// parts.

// Kinds of presence control messages.
const (
	pctlPrefix = "p."
	pctlSet    = "p.set"   // these entries of mine changed
	pctlSnap   = "p.snap"  // all my entries, in parts; First replaces what you knew
	pctlHello  = "p.hello" // send your snapshot (To: only that node; empty: everyone)
	pctlBeat   = "p.hb"    // I am alive
	pctlBye    = "p.bye"   // I stop: my members left
	pctlSignal = "p.sig"   // a signal published on my node
)

// isPresenceControl reports whether a control message of kind belongs to
// presence (cluster.go leaves those alone).
func isPresenceControl(kind string) bool { return strings.HasPrefix(kind, pctlPrefix) }

type presenceMsg struct {
	Kind    string         `json:"k"`
	Node    string         `json:"n"`
	Inc     uint64         `json:"i"`
	Seq     uint64         `json:"q"`
	Lease   int64          `json:"l,omitempty"`
	To      string         `json:"to,omitempty"`
	First   bool           `json:"f,omitempty"`
	Entries []presenceWire `json:"e,omitempty"`
	Signal  *signalWire    `json:"g,omitempty"`
}

type presenceWire struct {
	Channel string `json:"c"`
	User    string `json:"u"`
	Payload []byte `json:"p,omitempty"`
	At      int64  `json:"a,omitempty"`
	Gone    bool   `json:"x,omitempty"` // no longer present on the sender
}

type signalWire struct {
	Channel string `json:"c"`
	User    string `json:"u"`
	Name    string `json:"m"`
	Data    []byte `json:"d,omitempty"`
}

// presenceSnapshotPart bounds the entries of one snapshot message.
const presenceSnapshotPart = 500

// presenceOutbox bounds the messages waiting for the sender; past it
// signals are dropped (entries never are).
const presenceOutbox = 10000

// presenceCluster is a gateway's presence on the other nodes. Its peers
// and outbox are guarded by presence.mu.
type presenceCluster struct {
	p     *presence
	cb    ControlBroker
	node  string
	inc   uint64
	lease time.Duration

	stopListen func()
	quit       chan struct{}
	done       chan struct{}
	wake       chan struct{} // cap 1
	stopOnce   sync.Once

	// presence.mu
	peers map[string]*presencePeer
	out   []presenceMsg

	// sender goroutine only
	seq      uint64
	lastSent time.Time
	failing  bool
}

type presencePeer struct {
	inc     uint64
	seq     uint64
	synced  bool
	expires time.Time
	asked   time.Time
	entries map[string]map[string]presenceEntry // channel → user → entry
}

func startPresenceCluster(p *presence) *presenceCluster {
	g := p.g
	if g.cluster == nil {
		return nil
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	pc := &presenceCluster{
		p:     p,
		cb:    g.cluster.cb,
		node:  g.cluster.node,
		inc:   binary.LittleEndian.Uint64(b[:]) | 1,
		lease: g.cluster.lease,
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		wake:  make(chan struct{}, 1),
		peers: make(map[string]*presencePeer),
	}
	pc.out = append(pc.out, presenceMsg{Kind: pctlHello})
	pc.stopListen = pc.cb.ListenControl(pc.receive)
	go pc.run()
	pc.poke()
	return pc
}

func (pc *presenceCluster) stop() {
	pc.stopOnce.Do(func() {
		close(pc.quit)
		<-pc.done
		pc.stopListen()
	})
}

func (pc *presenceCluster) poke() {
	select {
	case pc.wake <- struct{}{}:
	default:
	}
}

// users yields the users the live peers have in channel. presence.mu is held.
func (pc *presenceCluster) users(channel string) iter.Seq[string] {
	return func(yield func(string) bool) {
		if pc == nil {
			return
		}
		now := time.Now()
		for _, peer := range pc.peers {
			if !now.Before(peer.expires) {
				continue
			}
			for u := range peer.entries[channel] {
				if !yield(u) {
					return
				}
			}
		}
	}
}

// best returns the latest entry of user in channel on a live peer.
// presence.mu is held.
func (pc *presenceCluster) best(channel, user string) (presenceEntry, bool) {
	var best presenceEntry
	found := false
	if pc == nil {
		return best, false
	}
	now := time.Now()
	for _, peer := range pc.peers {
		if !now.Before(peer.expires) {
			continue
		}
		if e, ok := peer.entries[channel][user]; ok && (!found || e.at > best.at) {
			best, found = e, true
		}
	}
	return best, found
}

// announce queues this node's entry of user in channel. presence.mu is held.
func (pc *presenceCluster) announce(channel, user string, e presenceEntry, present bool) {
	if pc == nil {
		return
	}
	w := presenceWire{Channel: channel, User: user, Gone: !present}
	if present {
		w.Payload, w.At = e.payload, e.at
	}
	pc.out = append(pc.out, presenceMsg{Kind: pctlSet, Entries: []presenceWire{w}})
	pc.poke()
}

// signal queues a signal for the other nodes. presence.mu is held.
func (pc *presenceCluster) signal(sig *wsv1.Signal) {
	if pc == nil {
		return
	}
	if len(pc.out) >= presenceOutbox {
		return // the broker cannot keep up: an ephemeral signal is the first to go
	}
	pc.out = append(pc.out, presenceMsg{Kind: pctlSignal, Signal: &signalWire{Channel: sig.GetChannel(), User: sig.GetUser(), Name: sig.GetName(), Data: sig.GetData()}})
	pc.poke()
}

// snapshotLocked queues all of this node's entries. presence.mu is held.
func (pc *presenceCluster) snapshotLocked() {
	var part []presenceWire
	first := true
	for name, ch := range pc.p.channels {
		users := make(map[string]bool)
		for _, ms := range ch.members {
			users[ms.user] = true
		}
		for u := range users {
			e, ok := ch.local(u)
			if !ok {
				continue
			}
			part = append(part, presenceWire{Channel: name, User: u, Payload: e.payload, At: e.at})
			if len(part) == presenceSnapshotPart {
				pc.out = append(pc.out, presenceMsg{Kind: pctlSnap, First: first, Entries: part})
				first, part = false, nil
			}
		}
	}
	if len(part) > 0 || first {
		pc.out = append(pc.out, presenceMsg{Kind: pctlSnap, First: first, Entries: part})
	}
	pc.poke()
}

// run is the sender: it publishes the outbox in order, a heartbeat when
// quiet for Lease/3, and forgets the peers whose lease ran out.
func (pc *presenceCluster) run() {
	defer close(pc.done)
	beat := pc.lease / 3
	t := time.NewTicker(max(beat/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-pc.quit:
			pc.flush()
			pc.publish(presenceMsg{Kind: pctlBye})
			return
		case <-pc.wake:
			pc.flush()
		case now := <-t.C:
			pc.flush()
			if now.Sub(pc.lastSent) >= beat {
				pc.publish(presenceMsg{Kind: pctlBeat})
			}
			pc.sweep(now)
		}
	}
}

func (pc *presenceCluster) flush() {
	pc.p.mu.Lock()
	out := pc.out
	pc.out = nil
	pc.p.mu.Unlock()
	for _, m := range out {
		pc.publish(m)
	}
}

func (pc *presenceCluster) publish(m presenceMsg) {
	pc.seq++
	m.Node, m.Inc, m.Seq, m.Lease = pc.node, pc.inc, pc.seq, pc.lease.Milliseconds()
	b, err := json.Marshal(m)
	if err != nil {
		pc.p.g.logger.Error("ssotws: encoding presence message", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(pc.lease/3, time.Second))
	err = pc.cb.PublishControl(ctx, b)
	cancel()
	pc.lastSent = time.Now()
	switch {
	case err != nil && !pc.failing:
		pc.failing = true
		pc.p.g.logger.Warn("ssotws: publishing a presence message", "node", pc.node, "kind", m.Kind, "err", err)
	case err == nil:
		pc.failing = false
	}
}

// sweep forgets the peers whose lease ran out: their members leave.
func (pc *presenceCluster) sweep(now time.Time) {
	pc.p.mu.Lock()
	defer pc.p.mu.Unlock()
	for id, peer := range pc.peers {
		if !now.Before(peer.expires) {
			pc.forgetLocked(id, peer)
		}
	}
}

// forgetLocked drops a peer and tells the members of its channels.
func (pc *presenceCluster) forgetLocked(id string, peer *presencePeer) {
	delete(pc.peers, id)
	pc.refreshLocked(peer.entries)
}

// refreshLocked updates the local views of the users of entries.
func (pc *presenceCluster) refreshLocked(entries map[string]map[string]presenceEntry) {
	for channel, users := range entries {
		ch := pc.p.channels[channel]
		if ch == nil {
			continue
		}
		for u := range users {
			pc.p.updateLocked(ch, u, nil)
		}
	}
}

// receive handles one control message (the broker's listener).
func (pc *presenceCluster) receive(b []byte) {
	var m presenceMsg
	if err := json.Unmarshal(b, &m); err != nil || !isPresenceControl(m.Kind) || m.Node == "" {
		return // cluster.go's, or undecodable (cluster.go logs those)
	}
	if m.Node == pc.node && m.Inc == pc.inc {
		return
	}
	now := time.Now()
	lease := time.Duration(m.Lease) * time.Millisecond
	if lease <= 0 {
		lease = pc.lease
	}
	p := pc.p
	p.mu.Lock()
	defer p.mu.Unlock()
	peer := pc.peers[m.Node]
	fresh := peer == nil || peer.inc != m.Inc || !now.Before(peer.expires)
	if fresh {
		if peer != nil {
			pc.forgetLocked(m.Node, peer) // a restarted node, or one back after its lease
		}
		peer = &presencePeer{inc: m.Inc, entries: make(map[string]map[string]presenceEntry)}
		pc.peers[m.Node] = peer
	}
	gap := !fresh && m.Seq != peer.seq+1
	peer.seq = m.Seq
	peer.expires = now.Add(lease)
	if fresh || gap {
		peer.synced = false
	}
	switch m.Kind {
	case pctlBye:
		pc.forgetLocked(m.Node, peer)
		return
	case pctlSnap:
		changed := map[string]map[string]presenceEntry{}
		if m.First {
			changed = peer.entries
			peer.entries = make(map[string]map[string]presenceEntry)
			peer.synced = true
			peer.asked = time.Time{}
		}
		pc.applyLocked(peer, m.Entries, changed)
		pc.refreshLocked(changed)
	case pctlSet:
		changed := map[string]map[string]presenceEntry{}
		pc.applyLocked(peer, m.Entries, changed)
		pc.refreshLocked(changed)
	case pctlHello:
		if m.To == "" || m.To == pc.node {
			pc.snapshotLocked()
		}
	case pctlSignal:
		if s := m.Signal; s != nil {
			p.deliverLocked(&wsv1.Signal{Channel: s.Channel, User: s.User, Name: s.Name, Data: s.Data}, nil)
		}
	}
	if !peer.synced && now.Sub(peer.asked) >= pc.lease/3 {
		peer.asked = now
		pc.out = append(pc.out, presenceMsg{Kind: pctlHello, To: m.Node})
		pc.poke()
	}
}

// applyLocked applies a peer's entries, noting the users they touched in changed.
func (pc *presenceCluster) applyLocked(peer *presencePeer, entries []presenceWire, changed map[string]map[string]presenceEntry) {
	for _, w := range entries {
		if changed[w.Channel] == nil {
			changed[w.Channel] = make(map[string]presenceEntry)
		}
		changed[w.Channel][w.User] = presenceEntry{}
		users := peer.entries[w.Channel]
		if w.Gone {
			delete(users, w.User)
			if len(users) == 0 {
				delete(peer.entries, w.Channel)
			}
			continue
		}
		if users == nil {
			users = make(map[string]presenceEntry)
			peer.entries[w.Channel] = users
		}
		users[w.User] = presenceEntry{payload: w.Payload, at: w.At}
	}
}
