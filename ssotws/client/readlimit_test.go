package client_test

import (
	"strings"
	"testing"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"

	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMessageOverReadLimit: a record whose event is over the client's read
// limit drops the connection once; the channel then subscribes afresh and
// refetches (over HTTP, which has its own limits) instead of resuming from
// its position, which would replay the same event forever. It stays live.
func TestMessageOverReadLimit(t *testing.T) {
	srv := startServer(t, ssotws.NewMemoryStore(), "127.0.0.1:0")
	writer := NewMessageClient(srv.chatClient(), nil, nil)
	create(t, writer, "m1", "r1", "small")

	conn, err := client.Dial(testCtx(t), srv.WSURL(), &client.ConnOptions{Backoff: fast, ReadLimit: 16 << 10})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	c := NewMessageClient(srv.chatClient(), conn, &client.Options{Backoff: fast})
	rec := newRecorder()
	defer c.Subscribe("Message?room_id=r1", rec.fn)()
	require.NoError(t, c.WebSocket().WaitHydrated(testCtx(t), "Message?room_id=r1"))
	lists := srv.count("ListMessages")

	// 4× the read limit, in author: chat.proto bounds text at 4096 bytes.
	_, err = writer.Create(testCtx(t), &chatv1.Message{Id: "big", RoomId: "r1", Author: strings.Repeat("x", 64<<10)})
	require.NoError(t, err)
	rec.waitFor(t, "the big record, refetched", heard(client.Created, "big"))
	create(t, writer, "m2", "r1", "after")
	rec.waitFor(t, "a live event after it", heard(client.Created, "m2"))
	require.NoError(t, c.WebSocket().WaitHydrated(testCtx(t), "Message?room_id=r1"))

	assert.ErrorIs(t, conn.LastDrop(), client.ErrMessageTooLarge)
	assert.NoError(t, conn.LastError(), "open again")
	assert.Equal(t, 1, srv.count("ListMessages")-lists, "refetches")
	assert.EqualValues(t, 2, srv.ws.Load(), "handshakes: the first and one after the drop")
}
