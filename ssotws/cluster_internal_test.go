package ssotws

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRevocationMemory: a revoked token id is refused while remembered; a
// revoked subject refuses the tokens issued before it (and only those
// that say when they were issued); entries expire and the memory is
// bounded, oldest first.
func TestRevocationMemory(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	r := newRevocations(time.Minute, 3)
	r.now = func() time.Time { return now }

	r.add(tokenKey("t1"), now)
	assert.True(t, r.revoked(&Identity{Subject: "alice", TokenID: "t1"}))
	assert.False(t, r.revoked(&Identity{Subject: "alice", TokenID: "t2"}))

	r.add(subjectKey("bob"), now)
	assert.True(t, r.revoked(&Identity{Subject: "bob", IssuedAt: now.Add(-time.Second)}), "issued before")
	assert.False(t, r.revoked(&Identity{Subject: "bob", IssuedAt: now.Add(time.Second)}), "issued after: signed in again")
	assert.False(t, r.revoked(&Identity{Subject: "bob"}), "no IssuedAt: the Authenticator decides")
	assert.False(t, r.revoked(nil))

	now = now.Add(59 * time.Second)
	assert.True(t, r.revoked(&Identity{TokenID: "t1"}), "still remembered")
	r.add(tokenKey("t1"), now) // revoked again: remembered anew
	now = now.Add(2 * time.Second)
	assert.True(t, r.revoked(&Identity{TokenID: "t1"}), "the second revocation")
	assert.False(t, r.revoked(&Identity{Subject: "bob", IssuedAt: now.Add(-time.Hour)}), "expired")
	assert.Equal(t, 1, r.len())

	for _, id := range []string{"a", "b", "c", "d"} {
		r.add(tokenKey(id), now)
	}
	assert.Equal(t, 3, r.len(), "bounded")
	assert.False(t, r.revoked(&Identity{TokenID: "t1"}), "the oldest went first")
	assert.False(t, r.revoked(&Identity{TokenID: "a"}))
	assert.True(t, r.revoked(&Identity{TokenID: "d"}))
}

// controlTap records the control messages of a broker.
type controlTap struct {
	mu   sync.Mutex
	msgs []controlMsg
}

func tapControl(t *testing.T, b ControlBroker) *controlTap {
	tap := &controlTap{}
	stop := b.ListenControl(func(msg []byte) {
		var m controlMsg
		require.NoError(t, json.Unmarshal(msg, &m))
		tap.mu.Lock()
		tap.msgs = append(tap.msgs, m)
		tap.mu.Unlock()
	})
	t.Cleanup(stop)
	return tap
}

// wait returns the first message that matches, within a bounded wait.
func (tap *controlTap) wait(t *testing.T, what string, match func(controlMsg) bool) controlMsg {
	t.Helper()
	var found controlMsg
	require.Eventually(t, func() bool {
		tap.mu.Lock()
		defer tap.mu.Unlock()
		for _, m := range tap.msgs {
			if match(m) {
				found = m
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, what)
	return found
}

func (tap *controlTap) reset() {
	tap.mu.Lock()
	tap.msgs = nil
	tap.mu.Unlock()
}

// TestClusterPeerTable: what a gateway makes of another node's messages:
// counts add up, a snapshot replaces, a gap in the sequence or a new
// incarnation makes it ask the node again, a goodbye forgets the node.
func TestClusterPeerTable(t *testing.T) {
	b := NewMemoryBroker(nil)
	defer b.Close()
	tap := tapControl(t, b)
	g := NewGateway(b, &GatewayOptions{Limits: Limits{MaxConnsPerUser: 3}, Cluster: ClusterOptions{NodeID: "me", Lease: time.Hour}, Logger: newDiscardLogger()})
	defer g.Close()
	require.NotNil(t, g.cluster)
	tap.wait(t, "a hello to every node at start", func(m controlMsg) bool { return m.Kind == ctlHello && m.Node == "me" && m.To == "" })

	send := func(m controlMsg) {
		m.Node, m.Lease = "x", time.Hour.Milliseconds()
		if m.Inc == 0 {
			m.Inc = 1
		}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		g.cluster.receive(b)
	}
	asked := func(what string) {
		t.Helper()
		tap.wait(t, what, func(m controlMsg) bool { return m.Kind == ctlHello && m.Node == "me" && m.To == "x" })
		tap.reset()
	}

	tap.reset()
	send(controlMsg{Kind: ctlCounts, Seq: 1, Counts: map[string]int{"alice": 2}})
	asked("an unknown node is asked for its snapshot")
	assert.Equal(t, 2, g.cluster.others("alice"), "meanwhile its counts count")
	send(controlMsg{Kind: ctlSnapshot, Seq: 2, First: true, Counts: map[string]int{"alice": 1, "bob": 1}})
	send(controlMsg{Kind: ctlSnapshot, Seq: 3, Counts: map[string]int{"carol": 3}})
	assert.Equal(t, 1, g.cluster.others("alice"), "the snapshot replaces")
	assert.Equal(t, 3, g.cluster.others("carol"), "in parts")
	assert.True(t, g.acquireUser("alice"))
	assert.True(t, g.acquireUser("alice"))
	assert.False(t, g.acquireUser("alice"), "1 there + 2 here")
	assert.False(t, g.acquireUser("carol"), "3 there")
	tap.wait(t, "this node's counts announced", func(m controlMsg) bool { return m.Kind == ctlCounts && m.Node == "me" && m.Counts["alice"] == 2 })

	send(controlMsg{Kind: ctlCounts, Seq: 4, Counts: map[string]int{"carol": 0}})
	assert.Equal(t, 0, g.cluster.others("carol"))
	tap.reset()
	send(controlMsg{Kind: ctlHeartbeat, Seq: 6})
	asked("a gap: a message lost")
	send(controlMsg{Kind: ctlSnapshot, Seq: 7, First: true, Counts: map[string]int{"alice": 1}})
	send(controlMsg{Kind: ctlHeartbeat, Inc: 2, Seq: 1})
	asked("a restarted node")
	assert.Equal(t, 0, g.cluster.others("alice"), "the old incarnation's counts are gone")

	send(controlMsg{Kind: ctlSnapshot, Inc: 2, Seq: 2, First: true, Counts: map[string]int{"alice": 1}})
	send(controlMsg{Kind: ctlHello, Inc: 2, Seq: 3})
	tap.wait(t, "a snapshot for a node that asks", func(m controlMsg) bool {
		return m.Kind == ctlSnapshot && m.Node == "me" && m.First && m.Counts["alice"] == 2
	})
	send(controlMsg{Kind: ctlBye, Inc: 2, Seq: 4})
	assert.Equal(t, 0, g.cluster.others("alice"))

	send(controlMsg{Kind: ctlRevoke, Inc: 2, Seq: 5, Token: "t9", At: time.Now().UnixNano()})
	assert.True(t, g.revoked.revoked(&Identity{Subject: "dave", TokenID: "t9"}), "a revocation made elsewhere is remembered here")
}

// TestClusterMemoryBroker: two gateways on one in-memory broker count each
// other's connections and hear each other's revocations; a gateway that
// shuts down says goodbye, and its connections stop counting at once.
func TestClusterMemoryBroker(t *testing.T) {
	b := NewMemoryBroker(nil)
	defer b.Close()
	opts := &GatewayOptions{Limits: Limits{MaxConnsPerUser: 2}, Logger: newDiscardLogger()}
	a, c := NewGateway(b, opts), NewGateway(b, opts)
	defer c.Close()
	require.True(t, a.acquireUser("alice"))
	require.True(t, a.acquireUser("alice"))
	require.Eventually(t, func() bool { return c.cluster.others("alice") == 2 }, 10*time.Second, time.Millisecond)
	assert.False(t, c.acquireUser("alice"))
	assert.True(t, c.acquireUser("bob"))

	a.RevokeToken("t1")
	require.Eventually(t, func() bool { return c.revoked.revoked(&Identity{TokenID: "t1"}) }, 10*time.Second, time.Millisecond)

	require.NoError(t, a.Close())
	assert.Equal(t, 0, c.cluster.others("alice"), "gone with the goodbye")
	assert.True(t, c.acquireUser("alice"))

	single := NewGateway(b, &GatewayOptions{Cluster: ClusterOptions{Disable: true}, Logger: newDiscardLogger()})
	defer single.Close()
	assert.Nil(t, single.cluster)
}
