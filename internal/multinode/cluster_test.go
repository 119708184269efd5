package multinode_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/natsbroker"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
)

// The tests of this file run two gateways in this process, each with its
// own NATS connection and broker on one embedded JetStream server (two
// nodes, as far as the cluster is concerned), and real WebSockets on
// loopback. They check that revocations and MaxConnsPerUser hold across
// the nodes (docs/security.md).

// clusterWait bounds every wait for something to reach the other node.
const clusterWait = 10 * time.Second

// clusterToken is "subject|token id|issued at (Unix ns, optional)";
// clusterAuth accepts any such token: the tests check what the gateways
// refuse on their own.
func clusterToken(subject, tokenID string, issuedAt time.Time) string {
	tok := subject + "|" + tokenID
	if !issuedAt.IsZero() {
		tok += "|" + strconv.FormatInt(issuedAt.UnixNano(), 10)
	}
	return tok
}

var clusterAuth = ssotws.AuthenticatorFunc(func(_ context.Context, token string) (*ssotws.Identity, error) {
	parts := strings.Split(token, "|")
	if len(parts) < 2 || parts[0] == "" {
		return nil, errors.New("bad token")
	}
	id := &ssotws.Identity{Subject: parts[0], TokenID: parts[1]}
	if len(parts) == 3 {
		ns, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil {
			return nil, err
		}
		id.IssuedAt = time.Unix(0, ns)
	}
	return id, nil
})

type clusterNode struct {
	name string
	nc   *nats.Conn
	gw   *ssotws.Gateway
	url  string
}

// startClusterNode starts a gateway on its own NATS connection to ns.
func startClusterNode(t *testing.T, ns *server.Server, name string, opts ssotws.GatewayOptions) *clusterNode {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(-1))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil)) // a crashed node's complaints
	b, err := natsbroker.New(context.Background(), js, &natsbroker.Options{Storage: jetstream.MemoryStorage, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	opts.Authenticator = clusterAuth
	opts.Logger = quiet
	gw := ssotws.NewGateway(b, &opts)
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = gw.Close() })
	return &clusterNode{name: name, nc: nc, gw: gw, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

// wsClient is a WebSocket to a node, with a read loop.
type wsClient struct {
	ws     *websocket.Conn
	frames chan *wsv1.ServerFrame
	done   chan struct{}
	err    error
	nonce  uint64
}

func dialNode(t *testing.T, n *clusterNode, token string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, n.url, &websocket.DialOptions{
		Subprotocols: []string{ssotws.Subprotocol, ssotws.AuthSubprotocol(token)},
	})
	require.NoError(t, err, "dial %s", n.name)
	c := &wsClient{ws: ws, frames: make(chan *wsv1.ServerFrame, 64), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(c.frames)
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			f := new(wsv1.ServerFrame)
			if proto.Unmarshal(b, f) == nil {
				c.frames <- f
			}
		}
	}()
	t.Cleanup(func() { _ = ws.CloseNow() })
	return c
}

// alive pings the gateway: true when it answers, false when the
// connection closed instead (its code is then c.code()).
func (c *wsClient) alive(t *testing.T) bool {
	t.Helper()
	c.nonce++
	b, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Ping{Ping: &wsv1.Ping{Nonce: c.nonce}}})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	_ = c.ws.Write(ctx, websocket.MessageBinary, b) // a failure shows as a close below
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return false
			}
			if f.GetPong() != nil && f.GetPong().GetNonce() == c.nonce {
				return true
			}
		case <-ctx.Done():
			require.FailNow(t, "no Pong and no close", "within %s", clusterWait)
		}
	}
}

// code waits until the connection is closed and returns the close code.
func (c *wsClient) code(t *testing.T) websocket.StatusCode {
	t.Helper()
	select {
	case <-c.done:
		return websocket.CloseStatus(c.err)
	case <-time.After(clusterWait):
		require.FailNow(t, "connection still open", "after %s", clusterWait)
		return 0
	}
}

func (c *wsClient) leave(t *testing.T) {
	t.Helper()
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
}

// open dials n and requires the connection to be accepted.
func open(t *testing.T, n *clusterNode, token string) *wsClient {
	t.Helper()
	c := dialNode(t, n, token)
	if !c.alive(t) {
		require.FailNow(t, "refused", "%s closed %q with %d", n.name, token, c.code(t))
	}
	return c
}

// eventually dials n with token until accept (true: the gateway
// answers, false: it closes with want) holds, within clusterWait: the
// news from the other node is on its way. Meanwhile a connection may only
// be accepted, or refused for the limit (4429); one accepted too early is
// closed before the next try. It returns the last one.
func eventually(t *testing.T, n *clusterNode, token string, accept bool, want websocket.StatusCode) *wsClient {
	t.Helper()
	deadline := time.Now().Add(clusterWait)
	for {
		c := dialNode(t, n, token)
		ok := c.alive(t)
		switch {
		case ok && accept:
			return c
		case !ok && !accept:
			require.Equal(t, want, c.code(t), "%s refused %q", n.name, token)
			return c
		case ok:
			c.leave(t)
		default:
			require.Equal(t, ssotws.CloseTooSlow, c.code(t), "%s refused %q", n.name, token)
		}
		require.True(t, time.Now().Before(deadline), "%s: %q still accepted=%v after %s", n.name, token, !accept, clusterWait)
		time.Sleep(10 * time.Millisecond) // between tries; bounded by the deadline
	}
}

// TestClusterRevoke: a revocation made on node A closes the matching
// connections on node B with 4401, and B refuses the revoked token (and,
// with IssuedAt, the subject's older tokens) when it is presented again.
func TestClusterRevoke(t *testing.T) {
	ns := runNATS(t)
	a := startClusterNode(t, ns, "A", ssotws.GatewayOptions{})
	b := startClusterNode(t, ns, "B", ssotws.GatewayOptions{})

	before := time.Now().Add(-time.Minute)
	t1 := clusterToken("alice", "t1", time.Time{})
	t2 := clusterToken("alice", "t2", before)
	onA := open(t, a, t1)
	onB1, onB2 := open(t, b, t1), open(t, b, t2)
	bob := open(t, b, clusterToken("bob", "tb", before))

	// The token: its connections on both nodes close, the other token's stay.
	assert.Equal(t, 1, a.gw.RevokeToken("t1"), "closed on A")
	assert.Equal(t, ssotws.CloseUnauthenticated, onA.code(t))
	assert.Equal(t, ssotws.CloseUnauthenticated, onB1.code(t), "closed on B")
	assert.True(t, onB2.alive(t), "another token of alice")
	// Presented again to B (whose Authenticator still accepts it).
	again := dialNode(t, b, t1)
	assert.False(t, again.alive(t))
	assert.Equal(t, ssotws.CloseUnauthenticated, again.code(t))

	// The subject.
	assert.Equal(t, 0, a.gw.Revoke("alice"), "nothing of alice left on A")
	assert.Equal(t, ssotws.CloseUnauthenticated, onB2.code(t), "closed on B")
	assert.True(t, bob.alive(t), "another user")
	// B refuses alice's tokens issued before the revocation, and lets a
	// token issued after it (she signed in again) through.
	old := dialNode(t, b, clusterToken("alice", "t3", before))
	assert.False(t, old.alive(t))
	assert.Equal(t, ssotws.CloseUnauthenticated, old.code(t))
	open(t, b, clusterToken("alice", "t4", time.Now().Add(time.Second)))
	open(t, a, clusterToken("alice", "t4", time.Now().Add(time.Second)))
}

// TestClusterConnsPerUser: MaxConnsPerUser counts a user's connections on
// both nodes; the one over it is refused with 4429 on either node, and a
// place freed on one node is free on the other. Node B starts after A's
// connections are open, so it learns them from A's snapshot.
func TestClusterConnsPerUser(t *testing.T) {
	ns := runNATS(t)
	opts := ssotws.GatewayOptions{Limits: ssotws.Limits{MaxConnsPerUser: 2}}
	a := startClusterNode(t, ns, "A", opts)
	alice := clusterToken("alice", "ta", time.Time{})
	a1, a2 := open(t, a, alice), open(t, a, alice)

	b := startClusterNode(t, ns, "B", opts)
	eventually(t, b, alice, false, ssotws.CloseTooSlow)
	assert.True(t, a1.alive(t) && a2.alive(t), "the open ones stay")
	open(t, b, clusterToken("bob", "tb", time.Time{}))

	// One leaves A: its place is free on B, and then A is full again.
	a2.leave(t)
	eventually(t, b, alice, true, 0)
	eventually(t, a, alice, false, ssotws.CloseTooSlow)
	assert.True(t, a1.alive(t))
}

// TestClusterCrashedNode: the connections of a node that stops announcing
// itself (its NATS connection is gone, its WebSockets still open) stop
// counting on the others once its lease ran out.
func TestClusterCrashedNode(t *testing.T) {
	ns := runNATS(t)
	opts := ssotws.GatewayOptions{
		Limits:  ssotws.Limits{MaxConnsPerUser: 2},
		Cluster: ssotws.ClusterOptions{Lease: 300 * time.Millisecond},
	}
	a := startClusterNode(t, ns, "A", opts)
	b := startClusterNode(t, ns, "B", opts)
	alice := clusterToken("alice", "ta", time.Time{})
	b1, b2 := open(t, b, alice), open(t, b, alice)
	eventually(t, a, alice, false, ssotws.CloseTooSlow)

	b.nc.Close() // B is cut off: no heartbeat, no goodbye
	eventually(t, a, alice, true, 0)
	assert.True(t, b1.alive(t) && b2.alive(t), "B's connections are still open: the lease, not a close, freed the places")
}
