package ssotws

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// recConn records what is written to it, one entry per system call.
type recConn struct {
	net.Conn
	calls [][]byte
}

func (c *recConn) Write(p []byte) (int, error) {
	c.calls = append(c.calls, bytes.Clone(p))
	return len(p), nil
}

// WriteBuffers is writev: one call.
func (c *recConn) WriteBuffers(b net.Buffers) (int64, error) {
	c.calls = append(c.calls, bytes.Join(b, nil))
	var n int64
	for _, x := range b {
		n += int64(len(x))
	}
	return n, nil
}

// frame encodes one WebSocket frame with a payload of n bytes.
func frame(rng *mrand.Rand, n int, masked bool) []byte {
	b := []byte{0x82, 0}
	switch {
	case n < 126:
		b[1] = byte(n)
	case n < 1<<16:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if masked {
		b[1] |= 0x80
		b = append(b, 1, 2, 3, 4)
	}
	for range n {
		b = append(b, byte(rng.IntN(256)))
	}
	return b
}

// TestFrameWriter: whatever the frame sizes and however the bytes are
// split, frameWriter sends the same bytes in order, and each frame ends
// a system call (one call per frame when the frame came in two writes).
func TestFrameWriter(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for round := range 300 {
		var want []byte
		var frames []int // end offset of each frame
		for range 1 + rng.IntN(6) {
			sizes := []int{0, 1, 125, 126, 200, 511, 512, 513, 4000, 65535, 65536, 70000}
			n := sizes[rng.IntN(len(sizes))]
			want = append(want, frame(rng, n, rng.IntN(4) == 0)...)
			frames = append(frames, len(want))
		}
		rc := &recConn{}
		var w io.Writer = &frameWriter{conn: rc}
		if round%2 == 0 {
			// As in the gateway: through a small bufio.Writer, flushed at
			// the end of each frame.
			bw := bufio.NewWriterSize(w, connBufSize)
			start := 0
			for _, end := range frames {
				f := want[start:end]
				h := min(len(f), 2+rng.IntN(12))
				bw.Write(f[:h])
				bw.Write(f[h:])
				if err := bw.Flush(); err != nil {
					t.Fatal(err)
				}
				start = end
			}
		} else {
			// Arbitrary splits.
			for rest := want; len(rest) > 0; {
				n := min(len(rest), 1+rng.IntN(3000))
				if _, err := w.Write(rest[:n]); err != nil {
					t.Fatal(err)
				}
				rest = rest[n:]
			}
		}
		got := bytes.Join(rc.calls, nil)
		if !bytes.Equal(got, want) {
			t.Fatalf("round %d: bytes differ (%d written, %d sent)", round, len(want), len(got))
		}
		// Every call ends at a frame end (nothing ever held past the last frame).
		ends := map[int]bool{}
		for _, e := range frames {
			ends[e] = true
		}
		off := 0
		for _, c := range rc.calls {
			off += len(c)
			if !ends[off] && len(c) < maxHeld {
				t.Fatalf("round %d: a system call ends at %d, inside a frame", round, off)
			}
		}
		if round%2 == 0 && len(rc.calls) != len(frames) {
			t.Fatalf("round %d: %d system calls for %d frames", round, len(rc.calls), len(frames))
		}
	}
}

// TestPipelinedFrame: a client frame sent in the same packet as the
// handshake (read ahead by net/http) is not lost by the small buffers.
func TestPipelinedFrame(t *testing.T) {
	b := NewMemoryBroker(nil)
	defer b.Close()
	g := NewGateway(b, &GatewayOptions{Logger: newDiscardLogger()})
	srv := httptest.NewServer(g)
	defer srv.Close()
	defer g.Close()

	payload, _ := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Ping{Ping: &wsv1.Ping{Nonce: 77}}})
	key := []byte{9, 8, 7, 6}
	f := []byte{0x82, 0x80 | byte(len(payload))}
	f = append(f, key...)
	for i, c := range payload {
		f = append(f, c^key[i%4])
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	host := strings.TrimPrefix(srv.URL, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := fmt.Sprintf("GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", host, base64.StdEncoding.EncodeToString(nonce))
	if _, err := conn.Write(append([]byte(req), f...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v, %v", res, err)
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, hdr[1]&0x7f)
	if _, err := io.ReadFull(br, body); err != nil {
		t.Fatal(err)
	}
	var sf wsv1.ServerFrame
	if err := proto.Unmarshal(body, &sf); err != nil || sf.GetPong().GetNonce() != 77 {
		t.Fatalf("answer %x: %v, %v", body, &sf, err)
	}
}

// TestNoCompressionByDefault: a client offering permessage-deflate gets no
// compression unless AcceptOptions asks for it (a flate window per
// connection would cost more than the rest of an idle connection).
func TestNoCompressionByDefault(t *testing.T) {
	b := NewMemoryBroker(nil)
	defer b.Close()
	g := NewGateway(b, &GatewayOptions{Logger: newDiscardLogger()})
	srv := httptest.NewServer(g)
	defer srv.Close()
	defer g.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{
		CompressionMode: websocket.CompressionContextTakeover,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if ext := res.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("the gateway negotiated %q", ext)
	}
}
