package client_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// Typed presence and signals over real WebSockets: the chat example's
// generated MessageModel declares chat.v1.Member payloads and chat.v1.Typing
// signals, which the generated MessagePresence and MessageSignals speak
// and the gateway checks.

// typedNode is a gateway serving the generated chat models, on loopback.
func typedNode(t *testing.T, is *issuer, opts *ssotws.GatewayOptions) string {
	t.Helper()
	if opts == nil {
		opts = &ssotws.GatewayOptions{}
	}
	opts.Authenticator, opts.RequireAuth = is, true
	gw := ssotws.NewGateway(ssotws.NewMemoryBroker(nil), opts)
	require.NoError(t, chatv1ssotws.RegisterChannels(gw))
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		_ = gw.Close()
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// waitTyped waits until p's members are users, in order, with a bound.
func waitTyped(t *testing.T, p *client.TypedPresence[*chatv1.Member], users ...string) []client.TypedMember[*chatv1.Member] {
	t.Helper()
	waitMembers(t, p.Untyped(), users...)
	return p.Members()
}

func TestTypedPresenceAndSignalsRoundTrip(t *testing.T) {
	is := newIssuer(time.Hour)
	url := typedNode(t, is, nil)
	room := chatv1ssotws.MessageChannels.Room("r1")
	alice, bob := dialAs(t, is, url, "alice"), dialAs(t, is, url, "bob")

	signals := make(chan client.TypedSignal[*chatv1.Typing], 4)
	changes := make(chan []client.TypedMember[*chatv1.Member], 16)
	pa, err := chatv1ssotws.MessagePresence.Join(alice, room, &chatv1.Member{DisplayName: "Alice"}, &client.TypedJoinOptions[*chatv1.Member]{
		OnChange: func(m []client.TypedMember[*chatv1.Member]) { changes <- m },
		OnSignal: chatv1ssotws.MessageSignals.Handle(func(s client.TypedSignal[*chatv1.Typing]) { signals <- s }),
	})
	require.NoError(t, err)
	pb, err := chatv1ssotws.MessagePresence.Join(bob, room, &chatv1.Member{DisplayName: "Bob"}, nil)
	require.NoError(t, err)

	members := waitTyped(t, pa, "alice", "bob")
	assert.Equal(t, "Alice", members[0].Payload.GetDisplayName())
	assert.Equal(t, "Bob", members[1].Payload.GetDisplayName())
	members = waitTyped(t, pb, "alice", "bob")
	assert.Equal(t, "Alice", members[0].Payload.GetDisplayName())

	// OnChange hears decoded members too.
	require.Eventually(t, func() bool {
		select {
		case m := <-changes:
			return len(m) == 2 && m[1].Payload.GetDisplayName() == "Bob"
		default:
			return false
		}
	}, presenceWait, 5*time.Millisecond)

	// A typed payload change.
	require.NoError(t, pb.SetPayload(&chatv1.Member{DisplayName: "Bob (away)"}))
	require.Eventually(t, func() bool {
		m := pa.Members()
		return len(m) == 2 && m[1].Payload.GetDisplayName() == "Bob (away)"
	}, presenceWait, 5*time.Millisecond)

	// A typed signal: named after its message, decoded on arrival.
	ctx, cancel := context.WithTimeout(context.Background(), presenceWait)
	defer cancel()
	require.NoError(t, chatv1ssotws.MessageSignals.Send(ctx, bob, room, &chatv1.Typing{Typing: true}, nil))
	select {
	case s := <-signals:
		assert.Equal(t, room, s.Channel)
		assert.Equal(t, "bob", s.User)
		assert.Equal(t, "Typing", s.Name)
		assert.True(t, s.Data.GetTyping())
	case <-ctx.Done():
		require.FailNow(t, "no typed signal")
	}

	// The wire stays bytes: an untyped join sees the encoded message.
	raw := join(t, dialAs(t, is, url, "carol"), room, string(mustMarshal(t, &chatv1.Member{DisplayName: "Carol"})), nil)
	members = waitTyped(t, pa, "alice", "bob", "carol")
	assert.Equal(t, "Carol", members[2].Payload.GetDisplayName())
	untyped := waitMembers(t, raw, "alice", "bob", "carol")
	got := &chatv1.Member{}
	require.NoError(t, proto.Unmarshal(untyped[0].Payload, got))
	assert.Equal(t, "Alice", got.GetDisplayName())
}

func TestTypedPresenceRefusesMalformed(t *testing.T) {
	is := newIssuer(time.Hour)
	url := typedNode(t, is, nil)
	room := chatv1ssotws.MessageChannels.Room("r1")
	alice := dialAs(t, is, url, "alice")
	signals := make(chan client.Signal, 4)
	pa, err := chatv1ssotws.MessagePresence.Join(alice, room, &chatv1.Member{DisplayName: "Alice"}, &client.TypedJoinOptions[*chatv1.Member]{
		OnSignal: func(s client.Signal) { signals <- s },
	})
	require.NoError(t, err)
	waitTyped(t, pa, "alice")

	// A payload that is not a chat.v1.Member (a truncated varint) is
	// refused, naming the type, and mallory never appears.
	mallory := dialAs(t, is, url, "mallory")
	err = waitRefused(t, join(t, mallory, room, "\xff", nil))
	assert.ErrorContains(t, err, "BAD_REQUEST")
	assert.ErrorContains(t, err, "must be a chat.v1.Member")
	// Still bounded in size, typed or not.
	big := &chatv1.Member{DisplayName: strings.Repeat("x", ssotws.DefaultMaxPresencePayload)}
	pm, err := chatv1ssotws.MessagePresence.Join(dialAs(t, is, url, "mallory"), room, big, nil)
	require.NoError(t, err)
	assert.ErrorContains(t, waitRefused(t, pm.Untyped()), "TOO_LARGE")

	// A malformed signal is refused and not relayed: alice hears the good
	// one sent after it first (frames keep their order).
	ctx, cancel := context.WithTimeout(context.Background(), presenceWait)
	defer cancel()
	err = mallory.Signal(ctx, room, "Typing", []byte{0xff}, nil)
	assert.ErrorContains(t, err, "BAD_REQUEST")
	assert.ErrorContains(t, err, "must be a chat.v1.Typing")
	require.NoError(t, chatv1ssotws.MessageSignals.Send(ctx, mallory, room, &chatv1.Typing{Typing: true}, nil))
	select {
	case s := <-signals:
		typed, err := chatv1ssotws.MessageSignals.Decode(s)
		require.NoError(t, err)
		assert.True(t, typed.Data.GetTyping())
	case <-ctx.Done():
		require.FailNow(t, "no signal")
	}
	assert.Equal(t, []string{"alice"}, users(pa.Members()))
}

func users(ms []client.TypedMember[*chatv1.Member]) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.User
	}
	return out
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

// TestTypedPresenceOverUncheckedChannel reads, typed, a channel whose model
// declares no types (as a server that predates the declaration relays
// anything): a payload that does not decode shows as an empty message, a
// signal that does not decode is dropped.
func TestTypedPresenceOverUncheckedChannel(t *testing.T) {
	is := newIssuer(time.Hour)
	url := typedNode(t, is, nil)
	room := chatv1ssotws.RoomChannels.Item("lobby")
	alice := dialAs(t, is, url, "alice")
	signals := make(chan client.TypedSignal[*chatv1.Typing], 4)
	pa, err := chatv1ssotws.MessagePresence.Join(alice, room, &chatv1.Member{DisplayName: "Alice"}, &client.TypedJoinOptions[*chatv1.Member]{
		OnSignal: chatv1ssotws.MessageSignals.Handle(func(s client.TypedSignal[*chatv1.Typing]) { signals <- s }),
	})
	require.NoError(t, err)
	bob := dialAs(t, is, url, "bob")
	join(t, bob, room, "\xff", nil)
	members := waitTyped(t, pa, "alice", "bob")
	assert.Equal(t, "Alice", members[0].Payload.GetDisplayName())
	assert.True(t, proto.Equal(&chatv1.Member{}, members[1].Payload), "an undecodable payload is an empty Member")

	ctx, cancel := context.WithTimeout(context.Background(), presenceWait)
	defer cancel()
	require.NoError(t, bob.Signal(ctx, room, "Typing", []byte{0xff}, nil))
	require.NoError(t, chatv1ssotws.MessageSignals.Send(ctx, bob, room, &chatv1.Typing{Typing: true}, nil))
	select {
	case s := <-signals:
		// Frames keep their order: the first, undecodable, was dropped.
		assert.True(t, s.Data.GetTyping())
	case <-ctx.Done():
		require.FailNow(t, "no signal")
	}
	_, err = chatv1ssotws.MessageSignals.Decode(client.Signal{Channel: room, Name: "Typing", Data: []byte{0xff}})
	assert.ErrorContains(t, err, `signal "Typing" on "Room/lobby" is not a chat.v1.Typing`)
}
