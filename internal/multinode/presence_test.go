package multinode_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
)

// Presence and signals across two nodes over the NATS control subject
// (docs/presence.md): two gateways in this process, each with its own NATS
// connection and broker on one embedded server, real WebSockets on
// loopback, and the Go client's presence API. The in-process MemoryBroker
// version of these checks is in ssotws/client/presence_test.go; this one
// carries the control messages over a real core NATS subject.

// presenceLease is short so that the cut node's members leave within the
// test's waits; the heartbeat is every Lease/3.
const presenceLease = 500 * time.Millisecond

// startPresenceNode starts a cluster node that serves the chat Room
// model's channels, with a short lease. Room declares no presence or
// signal type, so the payloads here are plain text.
func startPresenceNode(t *testing.T, ns *server.Server, name string) *clusterNode {
	t.Helper()
	n := startClusterNode(t, ns, name, ssotws.GatewayOptions{
		RequireAuth: true,
		Cluster:     ssotws.ClusterOptions{NodeID: name, Lease: presenceLease},
	})
	require.NoError(t, n.gw.RegisterModel(chatv1ssotws.RoomModel))
	return n
}

// connectAs opens a client Conn to n as subject (a token of its own).
func connectAs(t *testing.T, n *clusterNode, subject, tokenID string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	c, err := client.Dial(ctx, n.url, &client.ConnOptions{
		Backoff:     fast,
		TokenSource: client.StaticToken(clusterToken(subject, tokenID, time.Time{})),
	})
	require.NoError(t, err, "dial %s as %s", n.name, subject)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func joinAs(t *testing.T, c *client.Conn, channel, payload string, opts *client.JoinOptions) *client.Presence {
	t.Helper()
	if opts == nil {
		opts = &client.JoinOptions{}
	}
	opts.Payload = []byte(payload)
	p, err := c.Join(channel, opts)
	require.NoError(t, err)
	return p
}

// memberList is "user=payload" for each member, sorted by user.
func memberList(p *client.Presence) []string {
	var out []string
	for _, m := range p.Members() {
		out = append(out, m.User+"="+string(m.Payload))
	}
	return out
}

// requireMembers waits (bounded) until p shows exactly want ("user=payload",
// sorted by user).
func requireMembers(t *testing.T, p *client.Presence, where string, want ...string) {
	t.Helper()
	require.Eventually(t, func() bool { return slices.Equal(memberList(p), want) }, clusterWait, 5*time.Millisecond,
		"%s: want %v, have %v (join error %v)", where, want, memberList(p), p.Err())
}

// signalLog records the signals a Presence hears.
type signalLog struct {
	mu  sync.Mutex
	got []client.Signal
}

func (l *signalLog) add(s client.Signal) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, s)
}

func (l *signalLog) all() []client.Signal {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

// TestPresenceAcrossNATS: a member joined on one node is seen on the
// other, a user present on both nodes is one member (with the payload of
// the latest join, still there when one of the two connections is gone),
// a signal sent on node A reaches a member on node B, and when node B's
// NATS connection is cut (its WebSockets still open) its members leave
// node A's view after the lease, and A's members leave B's.
func TestPresenceAcrossNATS(t *testing.T) {
	ns := runNATS(t)
	a := startPresenceNode(t, ns, "A")
	b := startPresenceNode(t, ns, "B")
	room := chatv1ssotws.RoomChannels.Item("r1")

	// (1) alice joined on A, bob on B: each sees both.
	aliceA := connectAs(t, a, "alice", "ta1")
	pAliceA := joinAs(t, aliceA, room, "Alice on A", nil)
	var bobHeard signalLog
	bob := connectAs(t, b, "bob", "tb")
	pBob := joinAs(t, bob, room, "Bob", &client.JoinOptions{OnSignal: bobHeard.add})
	requireMembers(t, pAliceA, "alice on A", "alice=Alice on A", "bob=Bob")
	requireMembers(t, pBob, "bob on B", "alice=Alice on A", "bob=Bob")

	// (2) alice joins on B too: still one alice on both nodes, shown with
	// her latest join's payload.
	var aliceBHeard signalLog
	aliceB := connectAs(t, b, "alice", "ta2")
	pAliceB := joinAs(t, aliceB, room, "Alice on B", &client.JoinOptions{OnSignal: aliceBHeard.add})
	requireMembers(t, pAliceB, "alice's second connection, on B", "alice=Alice on B", "bob=Bob")
	requireMembers(t, pBob, "bob on B", "alice=Alice on B", "bob=Bob")
	requireMembers(t, pAliceA, "alice on A", "alice=Alice on B", "bob=Bob")

	// (3) A signal sent on A reaches the members joined on B: bob, and
	// alice's own other connection (only the sending connection is left
	// out without an echo).
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	require.NoError(t, aliceA.Signal(ctx, room, "typing", []byte("1"), nil))
	want := []client.Signal{{Channel: room, User: "alice", Name: "typing", Data: []byte("1")}}
	for who, heard := range map[string]*signalLog{"bob": &bobHeard, "alice on B": &aliceBHeard} {
		require.Eventually(t, func() bool { return len(heard.all()) > 0 }, clusterWait, 5*time.Millisecond, "the signal did not reach %s", who)
		assert.Equal(t, want, heard.all(), who)
	}

	// (2, continued) alice's connection on A closes: A no longer has her,
	// but B does, so a user joining on A once A dropped the connection
	// sees her, from B's announcement.
	require.NoError(t, aliceA.Close())
	require.Eventually(t, func() bool { return a.gw.Conns() == 0 }, clusterWait, 5*time.Millisecond, "A still holds alice's connection")
	carol := connectAs(t, a, "carol", "tc")
	pCarol := joinAs(t, carol, room, "Carol", nil)
	requireMembers(t, pCarol, "carol on A", "alice=Alice on B", "bob=Bob", "carol=Carol")
	requireMembers(t, pBob, "bob on B", "alice=Alice on B", "bob=Bob", "carol=Carol")

	// (4) B is cut off from NATS (no heartbeat, no goodbye), its
	// WebSockets still open: after the lease alice and bob, present only
	// on B, leave A's view, and carol, present only on A, leaves B's.
	b.nc.Close()
	requireMembers(t, pCarol, "carol on A after B was cut", "carol=Carol")
	requireMembers(t, pBob, "bob on B after B was cut", "alice=Alice on B", "bob=Bob")
	requireMembers(t, pAliceB, "alice on B after B was cut", "alice=Alice on B", "bob=Bob")
	assert.Equal(t, client.StateOpen, bob.State(), "bob's connection to B is still open: the lease, not a close, took him away")
	assert.Equal(t, client.StateOpen, aliceB.State())
	assert.Equal(t, 2, b.gw.Conns(), "B's WebSockets are still open")
}
