package client_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1/chatv1connect"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
)

// countingConn counts the bytes read from the server.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// TestDeltasOldAndNewClientsConverge: a client that asks for deltas and
// one written before them subscribe to one channel; one-field updates of
// large records reach both, as deltas and as whole records, and both
// caches end equal to the store. The delta client reads far fewer bytes.
func TestDeltasOldAndNewClientsConverge(t *testing.T) {
	store := ssotws.NewMemoryStore()
	srv := startServer(t, store, "127.0.0.1:0")
	chat := chatv1connect.NewChatServiceClient(http.DefaultClient, "http://"+srv.addr)
	opts := &client.Options{Backoff: fast}

	var clients []*convergeClient
	var read []*atomic.Int64
	for i, noDeltas := range []bool{false, true} {
		n := new(atomic.Int64)
		dial := &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return countingConn{c, n}, nil
			},
		}}}
		cc := &convergeClient{
			name:     fmt.Sprintf("client%d (no deltas: %v)", i, noDeltas),
			conn:     client.NewConn("ws://"+srv.addr+"/ws", &client.ConnOptions{Backoff: fast, Dial: dial, NoDeltas: noDeltas}),
			channels: []string{ssotws.ModelChannel("Message"), ssotws.ScopeChannel("Message", "room_id", "r1")},
			signal:   make(chan struct{}, 1),
		}
		t.Cleanup(func() { cc.conn.Close() })
		cc.c = NewMessageClient(chat, cc.conn, opts)
		for _, ch := range cc.channels {
			t.Cleanup(cc.c.Subscribe(ch, func(client.Change[*chatv1.Message]) {
				select {
				case cc.signal <- struct{}{}:
				default:
				}
			}))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for _, ch := range cc.channels {
			require.NoError(t, cc.c.WebSocket().WaitHydrated(ctx, ch))
		}
		cancel()
		clients = append(clients, cc)
		read = append(read, n)
	}
	before := []int64{read[0].Load(), read[1].Load()}

	ctx := context.Background()
	w := NewMessageClient(chat, nil, opts)
	big := strings.Repeat("x", 2048)
	for k := range 3 {
		_, err := w.Create(ctx, &chatv1.Message{Id: fmt.Sprintf("k%d", k), RoomId: "r1", Author: big, Text: "t0"})
		require.NoError(t, err)
	}
	for op := range 20 {
		for k := range 3 {
			_, err := w.Update(ctx, &chatv1.Message{Id: fmt.Sprintf("k%d", k), Text: fmt.Sprintf("t%d", op+1)}, "text")
			require.NoError(t, err)
		}
	}
	// A field cleared, a record moved out of the scope, one deleted.
	_, err := w.Update(ctx, &chatv1.Message{Id: "k0"}, "text")
	require.NoError(t, err)
	_, err = w.Update(ctx, &chatv1.Message{Id: "k1", RoomId: "r2"}, "room_id")
	require.NoError(t, err)
	_, err = w.Delete(ctx, "k2")
	require.NoError(t, err)

	deadline := time.Now().Add(15 * time.Second)
	for {
		behind := false
		for _, cc := range clients {
			for _, ch := range cc.channels {
				behind = behind || !caughtUp(srv, cc, ch)
			}
		}
		if !behind {
			diffs, unreadable := compareAll(t, store, clients)
			if !unreadable {
				require.Empty(t, diffs)
				break
			}
		}
		require.False(t, time.Now().After(deadline), "the clients did not catch up")
		select {
		case <-clients[0].signal:
		case <-clients[1].signal:
		case <-time.After(10 * time.Millisecond):
		}
	}
	deltaBytes, fullBytes := read[0].Load()-before[0], read[1].Load()-before[1]
	t.Logf("bytes read over the WebSocket: %d with deltas, %d without", deltaBytes, fullBytes)
	require.Less(t, deltaBytes*4, fullBytes, "one-field updates of 2 KiB records went out as deltas")
}
