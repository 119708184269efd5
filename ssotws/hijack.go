package ssotws

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// connBufSize is the size of the read and write buffers a gateway
// connection keeps for its life. net/http hands a hijacked connection two
// 4 KiB buffers, which coder/websocket keeps: with thousands of idle
// connections they are most of the memory. Client frames are small, and
// frameWriter keeps larger messages at one system call, so 512 bytes do.
const connBufSize = 512

// smallBuffers wraps the ResponseWriter given to [websocket.Accept] so that
// its Hijack returns the connection with small buffers (see connBufSize)
// and counts the client's frames (see frameCounter).
type smallBuffers struct {
	http.ResponseWriter
	limits Limits
	// counter is the hijacked connection as the WebSocket reads it, once
	// Hijack returned.
	counter *frameCounter
	// writer is the writer under the WebSocket library's buffer, once
	// Hijack returned; it also writes prepared messages (direct.go).
	writer *frameWriter
	// status is the status of the response websocket.Accept wrote (0
	// until it wrote one), so that a refused handshake can be reported.
	status int
}

func (w *smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *smallBuffers) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Hijack implements [http.Hijacker]. Bytes the client sent after the
// handshake and net/http already read stay first in the new reader.
func (w *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	fc := &frameCounter{Conn: c, limiter: newTokenBucket(w.limits.FrameRate, w.limits.FrameBurst)}
	if n := brw.Reader.Buffered(); n > 0 {
		// frameCounter hands them over first, so that they are counted
		// too: websocket.Accept keeps what is buffered in the returned
		// reader and then reads from the returned connection.
		b, _ := brw.Reader.Peek(n)
		fc.ahead = bytes.Clone(b)
	}
	w.counter = fc
	w.writer = &frameWriter{conn: c, raw: rawConn(c)}
	// net/http flushed the 101 response before Hijack returned; its new
	// writer holds nothing.
	return fc, bufio.NewReadWriter(bufio.NewReaderSize(fc, connBufSize), bufio.NewWriterSize(w.writer, connBufSize)), nil
}

// errFrameRate is what a frameCounter's Read returns once the client went
// over the frame rate.
var errFrameRate = errors.New("ssotws: client frame rate exceeded")

// frameCounter is the connection under the WebSocket library's reader. It
// follows the frame headers of what the client sends (RFC 6455 §5.2) and
// takes a token of the connection's bucket for every frame: data,
// continuation, ping, pong and close alike. coder/websocket answers pings
// and reassembles fragments without telling its caller, so a count of
// messages let a client send an endless message of empty fragments, or
// pings, as fast as the server could read them.
//
// It only counts; the WebSocket library still parses and validates every
// frame. Over the limit it calls over (which closes the connection with
// [CloseTooSlow]) and from then on fails every Read, so nothing more the
// client sent is processed: the close frame still goes out (writes are not
// affected), and the closing handshake ends at once instead of reading the
// flood for its five seconds. Before failing it drains, parsing no more
// than frame headers, what the client keeps sending until its close frame
// (at most drainBytes, for at most drainTime): closing a socket with
// unread data makes the kernel send a reset, which can destroy the 4429
// close frame on its way to a client that is still writing.
//
// Reads are serialized by the WebSocket library (its read lock), so
// frameCounter needs no lock of its own.
type frameCounter struct {
	net.Conn
	ahead   []byte // read by net/http before the hijack, handed over first
	scan    frameScanner
	limiter tokenBucket
	over    func() // set before the first Read
	stopped bool
}

func (c *frameCounter) Read(p []byte) (int, error) {
	if c.stopped {
		return 0, errFrameRate
	}
	var n int
	var err error
	if len(c.ahead) > 0 {
		n = copy(p, c.ahead)
		c.ahead = c.ahead[n:]
		if len(c.ahead) == 0 {
			c.ahead = nil
		}
	} else {
		n, err = c.Conn.Read(p)
	}
	if n > 0 && c.limiter.rate > 0 {
		if frames := c.scan.scan(p[:n]); frames > 0 && !c.limiter.allowN(time.Now(), frames) {
			c.stopped = true
			if c.over != nil {
				c.over()
			}
			c.drain()
			return 0, errFrameRate
		}
	}
	return n, err
}

// How much of a client's flood is drained, unread, after it went over the
// frame rate.
const (
	drainBytes = 1 << 20
	drainTime  = time.Second
)

// drain reads and drops what the client sends until its close frame, or
// drainBytes, or drainTime.
func (c *frameCounter) drain() {
	if c.scan.sawClose {
		return
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(drainTime))
	buf := make([]byte, 4<<10)
	for total := 0; total < drainBytes && !c.scan.sawClose; {
		n, err := c.Conn.Read(buf)
		c.scan.scan(buf[:n])
		total += n
		if err != nil {
			return
		}
	}
}

// frameScanner follows the frame structure of a WebSocket byte stream
// (masked or not) as it passes: it reads the headers and skips the
// payloads.
type frameScanner struct {
	hdr       [14]byte // the header being parsed
	hdrLen    int      // bytes of hdr collected
	hdrNeed   int      // the header's full length, once its second byte is known
	remain    uint64   // payload bytes left in the current frame
	inPayload bool
	sawClose  bool // a close frame's header went by
}

// scan follows p through the frame structure and returns the number of
// frame headers it completed.
func (s *frameScanner) scan(p []byte) int {
	frames := 0
	for len(p) > 0 {
		if s.inPayload {
			if uint64(len(p)) < s.remain {
				s.remain -= uint64(len(p))
				return frames
			}
			p = p[s.remain:]
			s.remain, s.inPayload = 0, false
			continue
		}
		s.hdr[s.hdrLen] = p[0]
		s.hdrLen++
		p = p[1:]
		if s.hdrLen == 2 {
			s.hdrNeed = 2
			switch s.hdr[1] & 0x7f {
			case 126:
				s.hdrNeed += 2
			case 127:
				s.hdrNeed += 8
			}
			if s.hdr[1]&0x80 != 0 {
				s.hdrNeed += 4 // masking key
			}
		}
		if s.hdrLen >= 2 && s.hdrLen == s.hdrNeed {
			n := uint64(s.hdr[1] & 0x7f)
			switch n {
			case 126:
				n = uint64(binary.BigEndian.Uint16(s.hdr[2:4]))
			case 127:
				n = binary.BigEndian.Uint64(s.hdr[2:10])
			}
			s.hdrLen, s.hdrNeed = 0, 0
			s.remain, s.inPayload = n, n > 0
			s.sawClose = s.sawClose || s.hdr[0]&0x0f == 0x8
			frames++
		}
	}
	return frames
}

// atBoundary reports whether the bytes so far end exactly at the end of a
// frame.
func (s *frameScanner) atBoundary() bool { return !s.inPayload && s.hdrLen == 0 }

// frameWriter is the writer under a connection's small bufio.Writer. A
// WebSocket frame larger than the buffer reaches it in two writes (the
// buffer's head, then the rest straight from the caller); sent as they
// come that is two system calls and two TCP segments per message.
// frameWriter follows the frame headers of the (unmasked or masked) byte
// stream, holds back a write that ends inside a frame, and sends it with
// the write that completes the frame, in one writev. Bytes always go out
// in order; holding back is only an optimization, bounded by maxHeld.
//
// It also writes the gateway's prepared messages (direct.go), between
// the library's frames: mu serializes the two.
type frameWriter struct {
	conn net.Conn
	// raw is conn's socket, for prepared messages; nil: none are written
	// (direct.go).
	raw syscall.RawConn

	mu   sync.Mutex // guards the fields below and every write to conn
	held *heldBuf   // the head of an unfinished frame, not yet sent; nil: none
	scan frameScanner
	// pending is the rest of a prepared message the socket did not take
	// at once: it goes out before any other byte.
	pending []byte
	// failed is the error of a failed prepared write: every later write
	// fails with it.
	failed error
	// try and writeFD carry a tryWrite into the socket's write (direct.go).
	try     tryState
	writeFD func(fd uintptr) bool
}

// maxHeld bounds the bytes frameWriter holds back.
const maxHeld = 64 << 10

// heldBufs are the buffers frameWriters hold frame heads in, shared by the
// connections: a connection holds one only between the two writes of a
// frame, and a write allocates nothing.
var heldBufs = sync.Pool{New: func() any { return new(heldBuf) }}

// heldBuf is a held frame head, with room for the writev of it and the
// rest of the frame.
type heldBuf struct {
	b   []byte
	vec [2][]byte
	nb  net.Buffers
}

func (w *frameWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.flushPendingLocked(); err != nil {
		return 0, err
	}
	w.scan.scan(p)
	done := w.scan.atBoundary()
	held := 0
	if w.held != nil {
		held = len(w.held.b)
	}
	if !done && held+len(p) <= maxHeld {
		if w.held == nil {
			w.held = heldBufs.Get().(*heldBuf)
		}
		w.held.b = append(w.held.b, p...)
		return len(p), nil
	}
	if w.held == nil {
		return w.conn.Write(p)
	}
	h := w.held
	w.held = nil
	h.vec = [2][]byte{h.b, p}
	h.nb = h.vec[:]
	var n int64
	var err error
	if bw, ok := w.conn.(buffersWriter); ok {
		n, err = bw.WriteBuffers(h.nb)
	} else {
		n, err = h.nb.WriteTo(w.conn) // writev on a TCP connection
	}
	h.vec, h.nb = [2][]byte{}, nil
	if cap(h.b) <= 4*connBufSize { // not a long frame's head: bounded
		h.b = h.b[:0]
		heldBufs.Put(h)
	}
	return int(max(0, min(n-int64(held), int64(len(p))))), err
}

// buffersWriter is a connection that writes several buffers in one call
// by itself (tests).
type buffersWriter interface {
	WriteBuffers(net.Buffers) (int64, error)
}
