package client_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Presence and signals over real WebSockets on loopback: the gateway's
// presence.go, signal.go and presence_cluster.go through the Go client's
// presence.go.

const presenceWait = 10 * time.Second

// presenceNode is a gateway (no Connect handlers) on broker, on loopback.
func presenceNode(t *testing.T, broker ssotws.Broker, opts *ssotws.GatewayOptions) (url string, gw *ssotws.Gateway) {
	t.Helper()
	gw = ssotws.NewGateway(broker, opts)
	require.NoError(t, gw.RegisterModel(MessageModel))
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		_ = gw.Close()
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http"), gw
}

func dialAs(t *testing.T, is *issuer, url, sub string, rooms ...string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), presenceWait)
	defer cancel()
	c, err := client.Dial(ctx, url, &client.ConnOptions{TokenSource: func(context.Context) (client.Token, error) {
		return is.issue(sub, rooms...), nil
	}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitMembers waits until p's members are users (sorted), with a bound.
func waitMembers(t *testing.T, p *client.Presence, users ...string) []client.Member {
	t.Helper()
	timeout := time.After(presenceWait)
	for {
		members, changed := p.Watch()
		got := make([]string, 0, len(members))
		for _, m := range members {
			got = append(got, m.User)
		}
		if slices.Equal(got, users) {
			return members
		}
		select {
		case <-changed:
		case <-timeout:
			require.Failf(t, "members", "want %v, have %v (err %v)", users, got, p.Err())
		}
	}
}

// waitRefused waits until p's join was refused.
func waitRefused(t *testing.T, p *client.Presence) error {
	t.Helper()
	timeout := time.After(presenceWait)
	for {
		_, changed := p.Watch()
		if err := p.Err(); err != nil {
			return err
		}
		select {
		case <-changed:
		case <-timeout:
			require.FailNow(t, "the join was not refused")
		}
	}
}

func join(t *testing.T, c *client.Conn, channel, payload string, opts *client.JoinOptions) *client.Presence {
	t.Helper()
	if opts == nil {
		opts = &client.JoinOptions{}
	}
	opts.Payload = []byte(payload)
	p, err := c.Join(channel, opts)
	require.NoError(t, err)
	return p
}

func TestPresenceTwoUsersJoinAndLeave(t *testing.T) {
	is := newIssuer(time.Hour)
	url, _ := presenceNode(t, ssotws.NewMemoryBroker(nil), &ssotws.GatewayOptions{Authenticator: is, RequireAuth: true})
	const room = "Message?room_id=r1"
	alice, bob := dialAs(t, is, url, "alice"), dialAs(t, is, url, "bob")

	pa := join(t, alice, room, "Alice", nil)
	waitMembers(t, pa, "alice")
	pb := join(t, bob, room, "Bob", nil)
	members := waitMembers(t, pa, "alice", "bob")
	assert.Equal(t, "Bob", string(members[1].Payload))
	members = waitMembers(t, pb, "alice", "bob")
	assert.Equal(t, "Alice", string(members[0].Payload))

	// A new payload is a change, not a second member.
	pb.SetPayload([]byte("Bob (away)"))
	require.Eventually(t, func() bool {
		m := pa.Members()
		return len(m) == 2 && string(m[1].Payload) == "Bob (away)"
	}, presenceWait, 5*time.Millisecond)

	pb.Leave()
	waitMembers(t, pa, "alice")

	// Closing the connection leaves too.
	pb = join(t, bob, room, "Bob", nil)
	waitMembers(t, pa, "alice", "bob")
	require.NoError(t, bob.Close())
	waitMembers(t, pa, "alice")
}

func TestPresenceOneEntryPerUser(t *testing.T) {
	is := newIssuer(time.Hour)
	url, _ := presenceNode(t, ssotws.NewMemoryBroker(nil), &ssotws.GatewayOptions{Authenticator: is, RequireAuth: true})
	const room = "Message?room_id=r1"
	bob := dialAs(t, is, url, "bob")
	pb := join(t, bob, room, "Bob", nil)

	tab1, tab2 := dialAs(t, is, url, "alice"), dialAs(t, is, url, "alice")
	join(t, tab1, room, "Alice (tab 1)", nil)
	waitMembers(t, pb, "alice", "bob")
	join(t, tab2, room, "Alice (tab 2)", nil)
	require.Eventually(t, func() bool {
		m := pb.Members()
		return len(m) == 2 && string(m[0].Payload) == "Alice (tab 2)"
	}, presenceWait, 5*time.Millisecond, "the latest join's payload is shown")

	// One tab closes: alice is still there (a leave would have emptied the
	// entry; the next change proves the order).
	require.NoError(t, tab2.Close())
	p3 := join(t, dialAs(t, is, url, "carol"), room, "Carol", nil)
	waitMembers(t, pb, "alice", "bob", "carol")
	waitMembers(t, p3, "alice", "bob", "carol")
	require.NoError(t, tab1.Close())
	waitMembers(t, pb, "bob", "carol")
}

// cuttable is a MemoryBroker whose control messages can be cut, as a node
// that crashed or was partitioned away stops being heard.
type cuttable struct {
	*ssotws.MemoryBroker
	cut atomic.Bool
}

func (b *cuttable) PublishControl(ctx context.Context, msg []byte) error {
	if b.cut.Load() {
		return nil
	}
	return b.MemoryBroker.PublishControl(ctx, msg)
}

func TestPresenceAcrossNodesAndLease(t *testing.T) {
	is := newIssuer(time.Hour)
	shared := ssotws.NewMemoryBroker(nil)
	t.Cleanup(func() { _ = shared.Close() })
	nodeB := &cuttable{MemoryBroker: shared}
	opts := func(id string) *ssotws.GatewayOptions {
		return &ssotws.GatewayOptions{Authenticator: is, RequireAuth: true,
			Cluster: ssotws.ClusterOptions{NodeID: id, Lease: 600 * time.Millisecond}}
	}
	urlA, _ := presenceNode(t, shared, opts("a"))
	urlB, _ := presenceNode(t, nodeB, opts("b"))
	const room = "Message?room_id=r1"

	var mu sync.Mutex
	var heard []client.Signal
	pa := join(t, dialAs(t, is, urlA, "alice"), room, "Alice", &client.JoinOptions{OnSignal: func(s client.Signal) {
		mu.Lock()
		heard = append(heard, s)
		mu.Unlock()
	}})
	bob := dialAs(t, is, urlB, "bob")
	pb := join(t, bob, room, "Bob", nil)
	waitMembers(t, pa, "alice", "bob")
	waitMembers(t, pb, "alice", "bob")

	// alice on node b too: still one alice, on both nodes.
	pa2 := join(t, dialAs(t, is, urlB, "alice"), room, "Alice", nil)
	waitMembers(t, pa2, "alice", "bob")
	waitMembers(t, pa, "alice", "bob")

	// A signal crosses nodes.
	ctx, cancel := context.WithTimeout(context.Background(), presenceWait)
	defer cancel()
	require.NoError(t, bob.Signal(ctx, room, "typing", []byte("1"), nil))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(heard) == 1
	}, presenceWait, 5*time.Millisecond)
	mu.Lock()
	assert.Equal(t, client.Signal{Channel: room, User: "bob", Name: "typing", Data: []byte("1")}, heard[0])
	mu.Unlock()

	// Node b goes silent without a goodbye: after its lease its members
	// leave node a's presence, except alice, present on node a as well.
	nodeB.cut.Store(true)
	waitMembers(t, pa, "alice")
}

func TestPresenceAndSignalsRefused(t *testing.T) {
	is := newIssuer(time.Hour)
	url, _ := presenceNode(t, ssotws.NewMemoryBroker(nil), &ssotws.GatewayOptions{
		Authenticator: is, RequireAuth: true, Authorize: authorizeRooms,
		Presence: ssotws.PresenceOptions{
			AuthorizeSignal: func(ctx context.Context, id *ssotws.Identity, m *ssotws.Model, ch ssotws.ChannelName, name string) error {
				if ch.Value == "readonly" {
					return ssotws.ErrForbidden
				}
				return nil
			},
		},
	})
	// mallory may read r1 only.
	mallory := dialAs(t, is, url, "mallory", "r1", "readonly")
	err := waitRefused(t, join(t, mallory, "Message?room_id=r2", "M", nil))
	assert.ErrorContains(t, err, "FORBIDDEN")
	err = waitRefused(t, join(t, mallory, "Nope?x=1", "M", nil))
	assert.ErrorContains(t, err, "UNKNOWN_CHANNEL")
	err = waitRefused(t, join(t, mallory, "Message?room_id=r1", strings.Repeat("x", ssotws.DefaultMaxPresencePayload+1), nil))
	assert.ErrorContains(t, err, "TOO_LARGE")

	ctx, cancel := context.WithTimeout(context.Background(), presenceWait)
	defer cancel()
	assert.ErrorContains(t, mallory.Signal(ctx, "Message?room_id=readonly", "typing", nil, nil), "FORBIDDEN")
	assert.ErrorContains(t, mallory.Signal(ctx, "Message?room_id=r1", "typing", make([]byte, ssotws.DefaultMaxSignalBytes), nil), "TOO_LARGE")
	assert.NoError(t, mallory.Signal(ctx, "Message?room_id=r1", "typing", nil, nil))
}

func TestSignalRateLimitAndEcho(t *testing.T) {
	is := newIssuer(time.Hour)
	url, _ := presenceNode(t, ssotws.NewMemoryBroker(nil), &ssotws.GatewayOptions{
		Authenticator: is, RequireAuth: true,
		// So slow a refill that the test's own pace cannot matter.
		Presence: ssotws.PresenceOptions{SignalRate: 0.001, SignalBurst: 3},
	})
	const room = "Message?room_id=r1"
	signals := make(chan client.Signal, 16)
	alice := dialAs(t, is, url, "alice")
	pa := join(t, alice, room, "Alice", &client.JoinOptions{OnSignal: func(s client.Signal) { signals <- s }})
	waitMembers(t, pa, "alice")

	ctx, cancel := context.WithTimeout(context.Background(), presenceWait)
	defer cancel()
	require.NoError(t, alice.Signal(ctx, room, "typing", []byte("not echoed"), nil))
	require.NoError(t, alice.Signal(ctx, room, "typing", []byte("echoed"), &client.SignalOptions{Echo: true}))
	select {
	case s := <-signals:
		// Frames arrive in order: had the first been echoed, it would be here.
		assert.Equal(t, "echoed", string(s.Data))
	case <-ctx.Done():
		require.FailNow(t, "no echo")
	}
	require.NoError(t, alice.Signal(ctx, room, "typing", nil, nil))
	err := alice.Signal(ctx, room, "typing", nil, nil)
	assert.ErrorContains(t, err, "RATE_LIMITED")
	// The connection lives on.
	assert.Equal(t, client.StateOpen, alice.State())
}
