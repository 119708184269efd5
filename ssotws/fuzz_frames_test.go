package ssotws_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"google.golang.org/protobuf/proto"
)

// fuzzFrameBurst is the frame burst of the gateway under FuzzGatewayFrames,
// with a rate too low to refill during one input.
const fuzzFrameBurst = 40

// fuzzFrames turns data into a stream of masked client frames: each frame
// takes a first byte (FIN, RSV and opcode as they come: fragments,
// control frames, reserved opcodes), a length byte (up to 129, so that
// control frames over 125 bytes occur) and that many payload bytes.
func fuzzFrames(data []byte) (stream []byte, frames int) {
	for len(data) >= 2 && frames < 4*fuzzFrameBurst {
		b0, n := data[0], int(data[1])%130
		data = data[2:]
		n = min(n, len(data))
		f := clientFrame(b0&0x80 != 0, b0&0x0f, data[:n])
		f[0] = b0 // keep the RSV bits too
		stream = append(stream, f...)
		data = data[n:]
		frames++
	}
	return stream, frames
}

// FuzzGatewayFrames writes arbitrary WebSocket frames (fragment floods,
// pings, pongs, closes, control frames in the middle of a message,
// reserved opcodes, bad lengths) on a raw connection to a live gateway,
// then a ping. Every frame counts against the frame rate: past the burst
// the final ping is never answered and a 4429 close may come; within it,
// the gateway never closes with 4429. Either way the connection answers
// or ends (no hang), and the gateway keeps accepting connections.
func FuzzGatewayFrames(f *testing.F) {
	ping := []byte{0x89, 4, 'p', 'i', 'n', 'g'}
	cont := []byte{0x00, 0}
	f.Add(append([]byte{0x02, 0}, bytes.Repeat(cont, 3*fuzzFrameBurst)...)) // endless message of empty fragments
	f.Add(bytes.Repeat(ping, 2*fuzzFrameBurst))                             // ping flood
	f.Add(append(append([]byte{0x02, 1, 0}, bytes.Repeat(append(cont, ping...), 10)...), 0x80, 0))
	f.Add([]byte{0x8a, 0})                                 // unsolicited pong
	f.Add([]byte{0x88, 2, 0x03, 0xe8})                     // close 1000
	f.Add([]byte{0x09, 1, 'x'})                            // fragmented ping
	f.Add([]byte{0x89, 127})                               // control frame over 125 bytes (cut short)
	f.Add([]byte{0x83, 0, 0x8b, 0})                        // reserved opcodes
	f.Add([]byte{0xc2, 0})                                 // RSV1 without compression
	f.Add([]byte{0x00, 0})                                 // continuation without a message
	f.Add([]byte{0x02, 0, 0x02, 0})                        // a new message inside a message
	f.Add(bytes.Repeat([]byte{0x82, 0}, 2*fuzzFrameBurst)) // empty ClientFrames

	model, err := ssotws.NewModel((&chatv1.Message{}).ProtoReflect().Descriptor(), ssotws.ModelConfig{Realtime: true})
	if err != nil {
		f.Fatal(err)
	}
	broker := ssotws.NewMemoryBroker(nil)
	g := ssotws.NewGateway(broker, &ssotws.GatewayOptions{
		Limits: ssotws.Limits{FrameRate: 0.001, FrameBurst: fuzzFrameBurst, MaxMessageBytes: 1024},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err := g.RegisterModel(model); err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(g)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	f.Cleanup(func() {
		_ = g.Close()
		srv.Close()
		broker.Close()
	})
	final := clientFrame(true, opPing, []byte("final"))

	f.Fuzz(func(t *testing.T, data []byte) {
		stream, frames := fuzzFrames(data)
		c := dialRaw(t, url+"/")
		_ = c.conn.SetDeadline(time.Now().Add(10 * time.Second))
		// Written on its own goroutine: the gateway may stop reading.
		go func() { _, _ = c.conn.Write(append(stream, final...)) }()
		answered, code := false, -1
		for {
			op, payload, err := c.readFrame()
			if err != nil {
				var ne interface{ Timeout() bool }
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("%d frames: neither answered nor closed within 10 s", frames)
				}
				break // the server dropped the connection
			}
			if op == opPong && string(payload) == "final" {
				answered = true
				break
			}
			if op == opClose {
				if len(payload) >= 2 {
					code = int(payload[0])<<8 | int(payload[1])
				}
				break
			}
		}
		if frames+1 > fuzzFrameBurst && answered {
			t.Fatalf("%d frames over a burst of %d, and the final ping was answered", frames+1, fuzzFrameBurst)
		}
		if frames+1 <= fuzzFrameBurst && code == int(ssotws.CloseTooSlow) {
			t.Fatalf("closed with 4429 after %d frames, within the burst of %d", frames+1, fuzzFrameBurst)
		}
		// The gateway still serves others.
		ping, _ := proto.Marshal(&wsv1.ClientFrame{Frame: &wsv1.ClientFrame_Ping{Ping: &wsv1.Ping{Nonce: 1}}})
		probe := dialRaw(t, url+"/")
		if _, err := probe.conn.Write(clientFrame(true, opBinary, ping)); err != nil {
			t.Fatal(err)
		}
		// The keep-alive may ping the probe first: its pings are not the
		// answer.
		op, _, err := probe.readFrame()
		for err == nil && op == opPing {
			op, _, err = probe.readFrame()
		}
		if err != nil || op != opBinary {
			t.Fatalf("the gateway no longer answers: %v %v", op, err)
		}
	})
}
