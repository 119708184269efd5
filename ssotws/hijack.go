package ssotws

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
)

// connBufSize is the size of the read and write buffers a gateway
// connection keeps for its life. net/http hands a hijacked connection two
// 4 KiB buffers, which coder/websocket keeps: with thousands of idle
// connections they are most of the memory. Client frames are small, and
// frameWriter keeps larger messages at one system call, so 512 bytes do.
const connBufSize = 512

// smallBuffers wraps the ResponseWriter given to [websocket.Accept] so that
// its Hijack returns the connection with small buffers (see connBufSize).
type smallBuffers struct {
	http.ResponseWriter
}

func (w smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack implements [http.Hijacker]. Bytes the client sent after the
// handshake and net/http already read stay first in the new reader.
func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(c, connBufSize)
	if n := brw.Reader.Buffered(); n > 0 {
		// Leave them buffered in the new reader: websocket.Accept keeps
		// what is buffered and resets the reader onto c.
		b, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(b)), c), max(n, connBufSize))
		if _, err := br.Peek(n); err != nil {
			c.Close()
			return nil, nil, err
		}
	}
	// net/http flushed the 101 response before Hijack returned; its new
	// writer holds nothing.
	return c, bufio.NewReadWriter(br, bufio.NewWriterSize(&frameWriter{conn: c}, connBufSize)), nil
}

// frameWriter is the writer under a connection's small bufio.Writer. A
// WebSocket frame larger than the buffer reaches it in two writes (the
// buffer's head, then the rest straight from the caller); sent as they
// come that is two system calls and two TCP segments per message.
// frameWriter follows the frame headers of the (unmasked or masked) byte
// stream, holds back a write that ends inside a frame, and sends it with
// the write that completes the frame, in one writev. Bytes always go out
// in order; holding back is only an optimization, bounded by maxHeld.
type frameWriter struct {
	conn net.Conn
	held []byte // written by the caller, not yet sent: the head of an unfinished frame

	hdr       [14]byte // the header being parsed
	hdrLen    int      // bytes of hdr collected
	hdrNeed   int      // the header's full length, once its second byte is known
	remain    uint64   // payload bytes left in the current frame
	inPayload bool
}

// maxHeld bounds the bytes frameWriter holds back.
const maxHeld = 64 << 10

// advance follows p through the frame structure and reports whether p
// ends exactly at the end of a frame.
func (w *frameWriter) advance(p []byte) bool {
	for len(p) > 0 {
		if w.inPayload {
			if uint64(len(p)) < w.remain {
				w.remain -= uint64(len(p))
				return false
			}
			p = p[w.remain:]
			w.remain, w.inPayload = 0, false
			continue
		}
		w.hdr[w.hdrLen] = p[0]
		w.hdrLen++
		p = p[1:]
		if w.hdrLen == 2 {
			w.hdrNeed = 2
			switch w.hdr[1] & 0x7f {
			case 126:
				w.hdrNeed += 2
			case 127:
				w.hdrNeed += 8
			}
			if w.hdr[1]&0x80 != 0 {
				w.hdrNeed += 4 // masking key
			}
		}
		if w.hdrLen >= 2 && w.hdrLen == w.hdrNeed {
			n := uint64(w.hdr[1] & 0x7f)
			switch n {
			case 126:
				n = uint64(binary.BigEndian.Uint16(w.hdr[2:4]))
			case 127:
				n = binary.BigEndian.Uint64(w.hdr[2:10])
			}
			w.hdrLen, w.hdrNeed = 0, 0
			w.remain, w.inPayload = n, n > 0
		}
	}
	return !w.inPayload && w.hdrLen == 0
}

func (w *frameWriter) Write(p []byte) (int, error) {
	done := w.advance(p)
	if !done && len(w.held)+len(p) <= maxHeld {
		w.held = append(w.held, p...)
		return len(p), nil
	}
	if len(w.held) == 0 {
		return w.conn.Write(p)
	}
	held := len(w.held)
	var n int64
	var err error
	bufs := net.Buffers{w.held, p}
	if bw, ok := w.conn.(buffersWriter); ok {
		n, err = bw.WriteBuffers(bufs)
	} else {
		n, err = bufs.WriteTo(w.conn) // writev on a TCP connection
	}
	w.held = nil // an idle connection keeps no buffer
	return int(max(0, min(n-int64(held), int64(len(p))))), err
}

// buffersWriter is a connection that writes several buffers in one call
// by itself (tests).
type buffersWriter interface {
	WriteBuffers(net.Buffers) (int64, error)
}
