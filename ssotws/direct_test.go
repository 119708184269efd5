//go:build unix

package ssotws

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// tcpPair returns both ends of a loopback TCP connection: the server's
// (which prepared messages are written to) and the client's.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	sc, ok := <-accepted
	require.True(t, ok, "accept failed")
	t.Cleanup(func() {
		_ = sc.Close()
		_ = cc.Close()
	})
	return sc.(*net.TCPConn), cc.(*net.TCPConn)
}

// preparedMessage returns the prepared message of a payload of n bytes,
// each derived from i, as encodeFramed lays it out.
func preparedMessage(i, n int) []byte {
	b := make([]byte, maxWSHeader+n)
	for j := range n {
		b[maxWSHeader+j] = byte(i + j)
	}
	return frameWithHeader(b)
}

// TestPreparedHeaders: coder/websocket, as a client, reads prepared
// messages whole at each edge of the header's length encodings.
func TestPreparedHeaders(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 70000}
	msgs := make([][]byte, len(sizes))
	for i, n := range sizes {
		msgs[i] = preparedMessage(i, n)
	}
	ws := dialRawServer(t, msgs)
	ws.SetReadLimit(1 << 20)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, n := range sizes {
		typ, data, err := ws.Read(ctx)
		require.NoError(t, err, "message of %d bytes", n)
		assert.Equal(t, websocket.MessageBinary, typ)
		assert.Equal(t, msgs[i][wsHeaderLen(n):], data, "message of %d bytes", n)
	}
}

// dialRawServer dials, with coder/websocket, a loopback server that
// answers the handshake and then writes msgs as they are.
func dialRawServer(t *testing.T, msgs [][]byte) *websocket.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		_, _ = fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			base64.StdEncoding.EncodeToString(h[:]))
		for _, m := range msgs {
			if _, err := c.Write(m); err != nil {
				return
			}
		}
		_, _ = io.Copy(io.Discard, c) // until the client closes
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

// TestTryWriteHoldsTheRest: when the socket's buffer is full a prepared
// write keeps the rest of its message, refuses the next one, and the rest
// goes out before anything the WebSocket library writes later: the
// client reads every message whole, in order, then the library's frame.
func TestTryWriteHoldsTheRest(t *testing.T) {
	sc, cc := tcpPair(t) // the client does not read until the server's socket is full
	w := &frameWriter{conn: sc, raw: rawConn(sc)}
	require.True(t, w.direct())

	var want []byte
	pending := false
	for i := 0; i < 20000 && !pending; i++ { // at most 160 MiB: far past any socket buffer
		msg := preparedMessage(i, 8<<10)
		switch r := w.tryWrite(msg); r {
		case trySent:
		case tryPending:
			pending = true
		default:
			require.Failf(t, "tryWrite", "message %d: result %d", i, r)
		}
		want = append(want, msg...)
	}
	require.True(t, pending, "the socket never filled")
	assert.True(t, w.hasPending())
	assert.Equal(t, tryRefused, w.tryWrite(preparedMessage(0, 10)), "a second message while the first is held")

	ping := []byte{0x89, 0x00} // what the library writes for a ping: one whole frame
	wrote := make(chan error, 1)
	go func() {
		_, err := w.Write(ping)
		wrote <- err
	}()
	want = append(want, ping...)
	got := make([]byte, len(want))
	require.NoError(t, cc.SetReadDeadline(time.Now().Add(30*time.Second)))
	n, err := io.ReadFull(cc, got)
	require.NoError(t, err, "read %d of %d bytes", n, len(want))
	require.NoError(t, <-wrote)
	assert.True(t, bytes.Equal(want, got), "the client read other bytes than were written")
	assert.False(t, w.hasPending())
	assert.Equal(t, trySent, w.tryWrite(preparedMessage(1, 10)), "prepared writes resume once the rest is out")
}

// TestNoPreparedWriteAfterClose: once the library has written its close
// frame, no prepared message follows it.
func TestNoPreparedWriteAfterClose(t *testing.T) {
	sc, cc := tcpPair(t)
	w := &frameWriter{conn: sc, raw: rawConn(sc)}
	closeFrame := []byte{0x88, 0x02, 0x03, 0xe8} // 1000, normal closure
	_, err := w.Write(closeFrame)
	require.NoError(t, err)
	assert.Equal(t, tryFailed, w.tryWrite(preparedMessage(1, 10)))
	ok, err := w.writePrepared(preparedMessage(2, 10))
	assert.True(t, ok)
	assert.ErrorIs(t, err, errCloseSent)
	require.NoError(t, sc.Close())
	got, err := io.ReadAll(cc)
	require.NoError(t, err)
	assert.Equal(t, closeFrame, got)
}

// idleCPU makes w's hub see a process that uses no CPU, and connections
// that get no bursts: its fan-outs never find the server saturated (a
// test process can well be), nor a connection woken too often (a test
// publishes as soon as its client got the last event).
func idleCPU(w *wsGateway) {
	w.g.hub.clock.mu.Lock()
	w.g.hub.clock.cpu = func() (time.Duration, bool) { return 0, true }
	w.g.hub.clock.burstGap = 0
	w.g.hub.clock.mu.Unlock()
}

// countStarts makes every connection of w count its write-loop starts in
// n.
func countStarts(w *wsGateway, n *atomic.Int64) {
	w.g.mu.Lock()
	defer w.g.mu.Unlock()
	for c := range w.g.conns {
		c.q.mu.Lock()
		start := c.q.start
		c.q.start = func() { n.Add(1); start() }
		c.q.mu.Unlock()
	}
}

// publishInline calls publish once the fan-outs of w write inline.
func publishInline(t *testing.T, w *wsGateway, publish func()) {
	t.Helper()
	require.False(t, w.g.hub.clock.loops.Load(), "the hub leaves its writes to the write loops")
	publish()
}

// TestFanoutWritesIdleConnections: an event for connections with nothing
// else queued is written by the fan-out itself, as its prepared message:
// no write loop starts, and every client gets every event, in order.
// With more than 2×inlineChunk clients the writes are spread over
// several goroutines (when GOMAXPROCS > 1). With a fixed WriteDelay the
// write loops write, as before.
func TestFanoutWritesIdleConnections(t *testing.T) {
	for _, tc := range []struct {
		name    string
		clients int
		delay   time.Duration
		inline  bool
	}{
		{"adaptive", 10, 0, true},
		{"adaptive, parallel", 3*inlineChunk + 1, 0, true},
		{"WriteDelay", 10, time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clients, events := tc.clients, 40
			w := startWSGateway(t, &GatewayOptions{WriteDelay: tc.delay})
			idleCPU(w)
			conns := make([]*websocket.Conn, clients)
			for i := range conns {
				conns[i] = w.subscribe(t)
			}
			var starts atomic.Int64
			countStarts(w, &starts)
			for i := range events {
				publishInline(t, w, func() { w.publish(t, i) })
				for _, ws := range conns {
					offsets, _ := readEvents(t, ws, 1)
					require.Equal(t, []uint64{uint64(i + 1)}, offsets)
				}
			}
			if tc.inline {
				assert.Zero(t, starts.Load(), "write loops started")
			} else {
				assert.Positive(t, starts.Load(), "no write loop started")
			}
		})
	}
}

// TestInlineWritesBetweenPongs: while events are written inline, the
// client pings after each one, and once more from a goroutine of its own
// without pause; the library's pongs and the prepared messages share the
// socket: every ping is answered, every event arrives whole and in order.
func TestInlineWritesBetweenPongs(t *testing.T) {
	const events = 300
	w := startWSGateway(t, &GatewayOptions{Limits: Limits{FrameRate: 1e6, FrameBurst: 1e6}})
	idleCPU(w)
	ws := w.subscribe(t)
	var starts atomic.Int64
	countStarts(w, &starts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan []uint64, 1)
	go func() {
		offsets, _, err := collectEvents(ws, events)
		assert.NoError(t, err)
		got <- offsets
		// Keep reading so that the last pings get their pongs.
		_, _, _ = ws.Read(ctx)
	}()
	stop := make(chan struct{})
	pinged := make(chan struct{})
	go func() {
		defer close(pinged)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if !assert.NoError(t, ws.Ping(ctx)) {
				return
			}
		}
	}()
	for i := range events {
		publishInline(t, w, func() { w.publish(t, i) })
		require.NoError(t, ws.Ping(ctx), "ping after event %d", i)
	}
	requireInOrder(t, <-got, 1)
	close(stop)
	<-pinged
	assert.Less(t, starts.Load(), int64(events), "the fan-out wrote none of the events")
}

// TestSlowReaderGetsEverything: a client that stops reading while
// events are written to it inline (its socket fills: the rest of a
// message is held, then the write loop waits for the socket) gets every
// event in order once it reads again, and stays connected.
func TestSlowReaderGetsEverything(t *testing.T) {
	const events = 1000
	// 8 MiB of events, more than a socket's buffers hold; a send queue
	// that holds them all, so that the test is about the socket.
	w := startWSGateway(t, &GatewayOptions{Limits: Limits{SendQueueBytes: 64 << 20}})
	idleCPU(w)
	// A small receive buffer on the client's socket, so that the
	// server's fills after a few events.
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
		if err != nil {
			return err
		}
		return serr
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, w.url, &websocket.DialOptions{
		Subprotocols: []string{Subprotocol},
		HTTPClient:   &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}},
	})
	require.NoError(t, err)
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 20)
	sub, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: w.m.Name()}}})
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageBinary, sub))
	_, data, err := ws.Read(ctx)
	require.NoError(t, err)
	var ack wsv1.ServerFrame
	require.NoError(t, proto.Unmarshal(data, &ack))
	require.NotNil(t, ack.GetAck())

	for i := range events {
		e := ev(w.m.Name(), fmt.Sprint("k", i), created, 1)
		e.Data = bytes.Repeat([]byte{byte(i)}, 8<<10)
		publishInline(t, w, func() { require.NoError(t, w.b.Publish(ctx, []*wsv1.Event{e})) })
	}
	offsets, _ := readEvents(t, ws, events)
	requireInOrder(t, offsets, 1)
}

// TestTLSConnectionsUseTheLibrary: over TLS terminated in the process
// there is no socket to write prepared messages to: every message goes
// through the WebSocket library, and arrives.
func TestTLSConnectionsUseTheLibrary(t *testing.T) {
	w := startWSGateway(t, nil)
	srv := httptest.NewTLSServer(w.g)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https"), &websocket.DialOptions{
		Subprotocols: []string{Subprotocol}, HTTPClient: srv.Client(),
	})
	require.NoError(t, err)
	defer ws.CloseNow()
	sub, err := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Subscribe{Subscribe: &wsv1.Subscribe{Id: 1, Channel: w.m.Name()}}})
	require.NoError(t, err)
	require.NoError(t, ws.Write(ctx, websocket.MessageBinary, sub))
	_, _, err = ws.Read(ctx) // the Ack
	require.NoError(t, err)

	w.g.mu.Lock()
	require.Len(t, w.g.conns, 1)
	for c := range w.g.conns {
		assert.False(t, c.direct.direct(), "a TLS connection took prepared messages")
	}
	w.g.mu.Unlock()
	for i := range 20 {
		w.publish(t, i)
	}
	offsets, _ := readEvents(t, ws, 20)
	requireInOrder(t, offsets, 1)
}
