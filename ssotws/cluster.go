package ssotws

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"maps"
	"sync"
	"time"
)

// A ControlBroker is a [Broker] that also carries control messages between
// the gateways of a cluster: revocations and the connection counts that
// [Limits].MaxConnsPerUser is checked against. A [Gateway] on a broker that
// implements it joins the cluster on its own (see [ClusterOptions]); on any
// other broker revocations and limits hold on this gateway only.
//
// Control messages are small and best effort: a broker may lose some (a
// gateway notices a gap in a node's sequence and asks for its counts
// again), but must hand one node's messages to a listener in the order the
// node published them.
type ControlBroker interface {
	Broker
	// PublishControl hands msg to the ListenControl functions of every
	// gateway, this node's included. It must not block for long.
	PublishControl(ctx context.Context, msg []byte) error
	// ListenControl registers fn to receive the control messages
	// published after it returns. Calls to fn are never concurrent; fn
	// must not block, must not keep msg and must not call back into the
	// broker. The returned function stops the deliveries.
	ListenControl(fn func(msg []byte)) (stop func())
}

// Defaults of [ClusterOptions].
const (
	DefaultLease = 15 * time.Second
)

// ClusterOptions configures how a [Gateway] on a [ControlBroker] works
// with the gateways of the other nodes. The zero value is the default: a
// single-node deployment configures nothing.
type ClusterOptions struct {
	// Disable keeps revocations and connection counts on this gateway
	// even when the broker is a [ControlBroker].
	Disable bool
	// NodeID names this gateway in the control messages (and in logs).
	// Empty draws a random one. It must be unique among running gateways.
	NodeID string
	// Lease is how long the connection counts a node announced keep
	// counting without news from it: a node announces itself every
	// Lease/3, and a node that crashed stops counting Lease after its
	// last message. Default [DefaultLease].
	Lease time.Duration
	// RevocationMemory is how long a revocation is remembered, on every
	// node, to refuse the revoked token (or the subject's older tokens)
	// when it is presented again. Default [DefaultRevocationMemory]. It
	// holds on a single gateway too.
	RevocationMemory time.Duration
	// MaxRevocations bounds the revocations remembered; past it the
	// oldest are forgotten first. Default [DefaultMaxRevocations].
	MaxRevocations int
}

// Kinds of control messages.
const (
	ctlHeartbeat = "hb"     // I am alive
	ctlCounts    = "counts" // my connection counts of these subjects changed (absolute values)
	ctlSnapshot  = "snap"   // all my connection counts, in parts; First replaces what you knew
	ctlHello     = "hello"  // send your snapshot (To: only that node; empty: everyone)
	ctlBye       = "bye"    // I stop: forget my counts
	ctlRevoke    = "revoke" // close the connections of Subject or Token
)

// controlMsg is the JSON body of a control message.
type controlMsg struct {
	Kind    string         `json:"k"`
	Node    string         `json:"n"`
	Inc     uint64         `json:"i"`           // incarnation: a restarted node with the same NodeID starts afresh
	Seq     uint64         `json:"q"`           // per node and incarnation, from 1, every message
	Lease   int64          `json:"l,omitempty"` // the sender's lease in milliseconds
	To      string         `json:"to,omitempty"`
	First   bool           `json:"f,omitempty"`
	Counts  map[string]int `json:"c,omitempty"`
	Subject string         `json:"s,omitempty"`
	Token   string         `json:"t,omitempty"`
	At      int64          `json:"at,omitempty"` // revocation time, Unix nanoseconds
}

// snapshotPart bounds the subjects of one snapshot message, to stay well
// under the message size limits of brokers (NATS: 1 MiB by default).
const snapshotPart = 2000

// cluster is a gateway's part in a cluster: it announces the gateway's
// connection counts and revocations, and keeps what the other nodes
// announced. Lock order: Gateway.mu, then cluster.mu.
type cluster struct {
	g     *Gateway
	cb    ControlBroker
	node  string
	inc   uint64
	lease time.Duration
	// counting: MaxConnsPerUser is on, so this node announces its counts.
	counting bool

	stopListen func()
	quit       chan struct{}
	done       chan struct{}
	wake       chan struct{} // cap 1
	stopOnce   sync.Once

	mu       sync.Mutex
	peers    map[string]*peer
	pending  map[string]int // this node's counts to announce
	revokes  []controlMsg   // this node's revocations to announce
	asks     map[string]bool
	snapshot bool // a snapshot of this node's counts is due

	// sender goroutine only
	seq      uint64
	lastSent time.Time
	failing  bool
}

// peer is what a node knows of another.
type peer struct {
	inc     uint64
	seq     uint64
	synced  bool // counts holds the node's snapshot and every change since
	expires time.Time
	asked   time.Time // when its snapshot was last asked for
	counts  map[string]int
}

// startCluster joins g to the cluster of its broker, or returns nil.
func startCluster(g *Gateway, o ClusterOptions) *cluster {
	cb, ok := g.broker.(ControlBroker)
	if !ok || o.Disable {
		return nil
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	cl := &cluster{
		g:        g,
		cb:       cb,
		node:     o.NodeID,
		inc:      binary.LittleEndian.Uint64(b[8:]) | 1,
		lease:    o.Lease,
		counting: g.opts.Limits.MaxConnsPerUser > 0,
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		peers:    make(map[string]*peer),
		pending:  make(map[string]int),
		asks:     make(map[string]bool),
	}
	if cl.node == "" {
		cl.node = hex.EncodeToString(b[:6])
	}
	if cl.lease <= 0 {
		cl.lease = DefaultLease
	}
	// Before listening: from then on another node's message may reach
	// receive, which writes asks under cl.mu, at once.
	cl.asks[""] = true // every node: send me your counts
	cl.stopListen = cb.ListenControl(cl.receive)
	go cl.run()
	cl.poke()
	return cl
}

// stop announces that this node leaves (its counts stop counting at once)
// and stops listening. It waits for the sender.
func (cl *cluster) stop() {
	if cl == nil {
		return
	}
	cl.stopOnce.Do(func() {
		close(cl.quit)
		<-cl.done
		cl.stopListen()
	})
}

func (cl *cluster) poke() {
	select {
	case cl.wake <- struct{}{}:
	default:
	}
}

// others returns the connections of subject the live peers announced.
// Gateway.mu may be held.
func (cl *cluster) others(subject string) int {
	if cl == nil {
		return 0
	}
	now := time.Now()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	n := 0
	for _, p := range cl.peers {
		if now.Before(p.expires) {
			n += p.counts[subject]
		}
	}
	return n
}

// changed records that this node now has n connections of subject.
// Gateway.mu is held (it orders the changes).
func (cl *cluster) changed(subject string, n int) {
	if cl == nil || !cl.counting {
		return
	}
	cl.mu.Lock()
	cl.pending[subject] = n
	cl.mu.Unlock()
	cl.poke()
}

// revoked announces a revocation made on this node.
func (cl *cluster) revoked(subject, token string, at time.Time) {
	if cl == nil {
		return
	}
	cl.mu.Lock()
	cl.revokes = append(cl.revokes, controlMsg{Kind: ctlRevoke, Subject: subject, Token: token, At: at.UnixNano()})
	cl.mu.Unlock()
	cl.poke()
}

// run is the sender: it publishes what is due, in order, and a heartbeat
// when it has been quiet for Lease/3.
func (cl *cluster) run() {
	defer close(cl.done)
	beat := cl.lease / 3
	t := time.NewTicker(max(beat/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-cl.quit:
			cl.flush()
			cl.publish(controlMsg{Kind: ctlBye})
			return
		case <-cl.wake:
			cl.flush()
		case now := <-t.C:
			cl.flush()
			if now.Sub(cl.lastSent) >= beat {
				cl.publish(controlMsg{Kind: ctlHeartbeat})
			}
			cl.sweep(now)
		}
	}
}

// flush publishes the revocations, requests, snapshot and count changes
// that are due.
func (cl *cluster) flush() {
	cl.mu.Lock()
	revokes := cl.revokes
	cl.revokes = nil
	var asks []string
	for to := range cl.asks {
		asks = append(asks, to)
	}
	clear(cl.asks)
	snapshot := cl.snapshot
	cl.snapshot = false
	cl.mu.Unlock()

	for _, m := range revokes {
		cl.publish(m)
	}
	for _, to := range asks {
		cl.publish(controlMsg{Kind: ctlHello, To: to})
	}
	if snapshot {
		// The snapshot supersedes the pending changes: take both at once.
		cl.g.mu.Lock()
		cl.mu.Lock()
		var counts map[string]int
		if cl.counting {
			counts = maps.Clone(cl.g.users)
		}
		clear(cl.pending)
		cl.mu.Unlock()
		cl.g.mu.Unlock()
		cl.publishCounts(ctlSnapshot, counts)
	}
	cl.mu.Lock()
	var pending map[string]int
	if len(cl.pending) > 0 {
		pending = cl.pending
		cl.pending = make(map[string]int)
	}
	cl.mu.Unlock()
	if pending != nil {
		cl.publishCounts(ctlCounts, pending)
	}
}

// publishCounts sends counts in parts of at most snapshotPart subjects; a
// snapshot always sends its first part, even empty.
func (cl *cluster) publishCounts(kind string, counts map[string]int) {
	part := make(map[string]int, min(len(counts), snapshotPart))
	first := kind == ctlSnapshot
	for s, n := range counts {
		part[s] = n
		if len(part) == snapshotPart {
			cl.publish(controlMsg{Kind: kind, First: first, Counts: part})
			first = false
			part = make(map[string]int, snapshotPart)
		}
	}
	if len(part) > 0 || first {
		cl.publish(controlMsg{Kind: kind, First: first, Counts: part})
	}
}

func (cl *cluster) publish(m controlMsg) {
	cl.seq++
	m.Node, m.Inc, m.Seq, m.Lease = cl.node, cl.inc, cl.seq, cl.lease.Milliseconds()
	b, err := json.Marshal(m)
	if err != nil {
		cl.g.logger.Error("ssotws: encoding control message", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(cl.lease/3, time.Second))
	err = cl.cb.PublishControl(ctx, b)
	cancel()
	cl.lastSent = time.Now()
	switch {
	case err != nil && !cl.failing:
		// Once per failing streak: the peers notice the gap and ask again.
		cl.failing = true
		cl.g.logger.Warn("ssotws: publishing a control message", "node", cl.node, "kind", m.Kind, "err", err)
	case err == nil:
		cl.failing = false
	}
}

// sweep forgets the peers whose lease ran out.
func (cl *cluster) sweep(now time.Time) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for id, p := range cl.peers {
		if !now.Before(p.expires) {
			delete(cl.peers, id)
		}
	}
}

// receive handles one control message (the broker's listener).
func (cl *cluster) receive(b []byte) {
	var m controlMsg
	if err := json.Unmarshal(b, &m); err != nil || m.Node == "" {
		cl.g.logger.Warn("ssotws: undecodable control message", "err", err)
		return
	}
	if m.Node == cl.node && m.Inc == cl.inc || isPresenceControl(m.Kind) {
		return // my own, or presence's (presence_cluster.go)
	}
	now := time.Now()
	lease := time.Duration(m.Lease) * time.Millisecond
	if lease <= 0 {
		lease = cl.lease
	}
	cl.mu.Lock()
	p := cl.peers[m.Node]
	fresh := p == nil || p.inc != m.Inc || !now.Before(p.expires)
	if fresh {
		p = &peer{inc: m.Inc, counts: make(map[string]int)}
		cl.peers[m.Node] = p
	}
	gap := !fresh && m.Seq != p.seq+1
	p.seq = m.Seq
	p.expires = now.Add(lease)
	if fresh || gap {
		p.synced = false
	}
	switch m.Kind {
	case ctlBye:
		delete(cl.peers, m.Node)
		cl.mu.Unlock()
		return
	case ctlSnapshot:
		if m.First {
			p.counts = make(map[string]int, len(m.Counts))
			p.synced = true
			p.asked = time.Time{} // the next gap asks at once
		}
		setCounts(p.counts, m.Counts)
	case ctlCounts:
		setCounts(p.counts, m.Counts)
	case ctlHello:
		if m.To == "" || m.To == cl.node {
			cl.snapshot = true
		}
	}
	poke := cl.snapshot
	if !p.synced && now.Sub(p.asked) >= cl.lease/3 {
		// A node we know nothing (or not all) of: ask it for its counts,
		// again if no snapshot came within a heartbeat. Until it comes,
		// what the node announced counts, a lower bound.
		p.asked = now
		cl.asks[m.Node] = true
		poke = true
	}
	cl.mu.Unlock()
	if poke {
		cl.poke()
	}
	if m.Kind == ctlRevoke {
		cl.g.applyRevoke(m.Subject, m.Token, time.Unix(0, m.At))
	}
}

func setCounts(dst, src map[string]int) {
	for s, n := range src {
		if n > 0 {
			dst[s] = n
		} else {
			delete(dst, s)
		}
	}
}
