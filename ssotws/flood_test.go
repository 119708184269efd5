package ssotws_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// rawConn is a WebSocket client written on a bare TCP connection, so that
// a test can send what a library would not: fragments without end, control
// frames in the middle of a message, any number of them.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

// dialRaw does the opening handshake on a TCP connection of its own. Its
// socket send buffer is small, so that what the test wrote is close to
// what the server read.
func dialRaw(t *testing.T, wsURL string) *rawConn {
	t.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(wsURL, "ws://"), "http://")
	host, path, _ := strings.Cut(host, "/")
	conn, err := net.Dial("tcp", host)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	require.NoError(t, conn.SetDeadline(time.Now().Add(wait)))
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	req := fmt.Sprintf("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
		path, host, base64.StdEncoding.EncodeToString(nonce), ssotws.Subprotocol)
	_, err = conn.Write([]byte(req))
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, res.StatusCode)
	return &rawConn{t: t, conn: conn, br: br}
}

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// clientFrame encodes one masked client frame.
func clientFrame(fin bool, opcode byte, payload []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0, 0x80}
	switch n := len(payload); {
	case n < 126:
		b[1] |= byte(n)
	case n < 1<<16:
		b[1] |= 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] |= 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// readFrame reads one server frame (unmasked).
func (c *rawConn) readFrame() (opcode byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var x [2]byte
		if _, err := io.ReadFull(c.br, x[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		if _, err := io.ReadFull(c.br, x[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(x[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, payload, nil
}

// untilPongOrClose reads until a pong (0) or a close frame (its code); -1
// when the connection ended without a close frame.
func (c *rawConn) untilPongOrClose() int {
	for {
		op, payload, err := c.readFrame()
		switch {
		case err != nil:
			return -1
		case op == opPong:
			return 0
		case op == opClose && len(payload) >= 2:
			return int(binary.BigEndian.Uint16(payload))
		case op == opClose:
			return -1
		}
	}
}

// TestFrameFloodIsCutOff: the frame-rate limit counts WebSocket frames,
// not messages. A client that streams empty continuation fragments of a
// message it never ends, or WebSocket pings, is closed with 4429 after
// about FrameBurst frames, and a bystander still gets its events. The
// client works in lockstep (a ping after each round, then waits for the
// pong), so the frames it sent are the frames the server read, give or
// take one round.
func TestFrameFloodIsCutOff(t *testing.T) {
	const (
		burst     = 100
		maxFrames = 20_000 // far beyond the burst: reaching it means never closed
	)
	for _, tc := range []struct {
		name          string
		start         []byte // sent once, first
		continuations int    // per round, before the ping
	}{
		{name: "continuations", start: clientFrame(false, opBinary, nil), continuations: 50},
		{name: "pings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSecEnv(t, secConfig{gateway: ssotws.GatewayOptions{Limits: ssotws.Limits{FrameRate: 50, FrameBurst: burst}}})
			alice := e.auth.issue("alice", 0, nil)
			bystander := e.dialAs(alice)
			bystander.ack(ssotws.ModelChannel("Message"), nil)

			c := dialRaw(t, e.url)
			sent := 0
			if tc.start != nil {
				_, err := c.conn.Write(tc.start)
				require.NoError(t, err)
				sent++
			}
			round := make([]byte, 0, 64*(tc.continuations+1))
			for range tc.continuations {
				round = append(round, clientFrame(false, opContinuation, nil)...)
			}
			round = append(round, clientFrame(true, opPing, []byte("x"))...)
			code := 0
			for sent < maxFrames && code == 0 {
				if _, err := c.conn.Write(round); err != nil {
					code = c.untilPongOrClose()
					break
				}
				sent += tc.continuations + 1
				code = c.untilPongOrClose()
			}
			require.Equal(t, int(ssotws.CloseTooSlow), code, "the flood was not closed with 4429 after %d frames", sent)
			assert.LessOrEqual(t, sent, 2*burst+2*(tc.continuations+2), "frames sent before the close")

			// The bystander was not held back.
			e.mustCreate(alice, "r1", "after the flood")
			evs := bystander.events(1)
			assert.Equal(t, wsv1.EventType_EVENT_TYPE_CREATED, evs[0].GetType())
		})
	}
}

// TestReplayMemoryIsBounded: many connections that never read, each
// replaying a large history on two subscriptions, keep the heap growth
// bounded. Replays are bounded per connection (past the budget the
// subscription gets a Reset), and a history event is encoded once for all
// the subscriptions that replay it.
func TestReplayMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: opens 100 connections and replays 8 MB of history to each (CI runs it)")
	}
	const (
		conns   = 100
		history = 1000
		text    = 4 << 10
	)
	e := newEnv(t, envConfig{
		broker:  &ssotws.MemoryBrokerOptions{HistorySize: history},
		gateway: &ssotws.GatewayOptions{Logger: slog.New(slog.DiscardHandler), KeepAlive: -1, WriteTimeout: time.Minute},
	})
	ctx := context.Background()
	body := strings.Repeat("x", text)
	for i := range history {
		key := fmt.Sprint("m", i)
		data, err := proto.Marshal(&chatv1.Message{Id: key, RoomId: "r1", Text: body})
		require.NoError(t, err)
		require.NoError(t, e.broker.Publish(ctx, []*wsv1.Event{
			{Channel: ssotws.ModelChannel("Message"), Type: wsv1.EventType_EVENT_TYPE_CREATED, Key: key, Version: 1, Data: data},
			{Channel: r1, Type: wsv1.EventType_EVENT_TYPE_CREATED, Key: key, Version: 1, Data: data},
		}))
	}
	since := &wsv1.Position{Epoch: e.broker.Epoch(), Offset: 0}

	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	runtime.GC()
	before := heap()
	clients := make([]*client, conns)
	for i := range clients {
		clients[i] = e.dialNoRead(nil)
		clients[i].subscribe(ssotws.ModelChannel("Message"), since)
		clients[i].subscribe(r1, since)
	}
	// Wait until the gateway queued the replay (or the Reset) of every
	// Subscribe; the clients cannot tell, they do not read.
	require.Eventually(t, func() bool {
		return ssotws.Started(e.gateway, "Message") == conns && ssotws.Started(e.gateway, r1) == conns
	}, 2*wait, 10*time.Millisecond)
	runtime.GC()
	after := heap()
	growth := int64(after) - int64(before)
	t.Logf("heap %d MiB -> %d MiB (growth %d MiB) with %d connections replaying 2 x %d events of %d KiB",
		before>>20, after>>20, growth>>20, conns, history, text>>10)
	// Re-encoding the history per subscription, and a 1 MiB write buffer
	// per connection, cost over 1 GiB here; shared and bounded it is the
	// 8 MiB of encoded history, the replay budget's queue items and a
	// 64 KiB write buffer per connection (about 30 MiB).
	assert.Less(t, growth, int64(64<<20), "heap growth")
	runtime.KeepAlive(clients)
}

// TestReplayOverBudgetResets: a replay larger than what is left of the
// connection's replay budget is answered with a Reset at the position the
// replay would have reached; the client refetches and resumes from there.
func TestReplayOverBudgetResets(t *testing.T) {
	e := newEnv(t, envConfig{gateway: &ssotws.GatewayOptions{Limits: ssotws.Limits{MaxReplay: 10}}})
	for i := range 20 {
		e.create("r1", fmt.Sprint("m", i))
	}
	since := &wsv1.Position{Epoch: e.broker.Epoch()}
	c := e.dial(nil)
	id := c.subscribe(r1, since)
	f := c.next()
	require.NotNil(t, f.GetReset_(), "got %v, want a Reset", f)
	assert.Equal(t, id, f.GetReset_().GetId())
	assert.Equal(t, uint64(20), f.GetReset_().GetPosition().GetOffset())
	// Live events follow the Reset's position.
	e.create("r1", "live")
	assert.Equal(t, uint64(21), c.events(1)[0].GetPosition().GetOffset())
	// A replay within the budget is replayed.
	c2 := e.dial(nil)
	c2.subscribe(r1, &wsv1.Position{Epoch: e.broker.Epoch(), Offset: 15})
	evs := c2.events(6)
	assert.Equal(t, uint64(16), evs[0].GetPosition().GetOffset())
	assert.NotNil(t, c2.next().GetAck())
}
