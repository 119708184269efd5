package ssotws

import (
	"encoding/binary"
	"errors"
	"net"
	"syscall"
)

// Prepared messages.
//
// A server's WebSocket frames are not masked (RFC 6455 §5.1), so the
// message that carries an event is the same bytes for every subscriber:
// header and payload. The gateway prepares it once per event (frame.go)
// and writes it to each connection as it is, in one write(2), instead of
// handing the payload to coder/websocket, which frames every message
// again for every connection (the library has no prepared-message API).
//
// Only whole data messages go this way: a single unfragmented binary
// frame, FIN set, no extension bits, which is all the header has to say.
// coder/websocket still does everything else: the handshake, reading and
// validating the client's frames, pings and pongs, the closing handshake.
// Its frames and ours share the socket through frameWriter, the writer
// under the library's buffer: frameWriter.mu serializes every write to the
// socket, and a prepared message is written only where the byte stream is
// between two frames (frameWriter follows the frame headers of what the
// library writes) and only until the library has sent a close frame.
// With permessage-deflate negotiated (GatewayOptions.AcceptOptions),
// nothing is written this way: the library compresses every message.
//
// Connections over TLS terminated in the process, and tests' in-memory
// connections, have no socket to write to: their messages go through the
// library as before.

// maxWSHeader is the longest header of an unmasked frame.
const maxWSHeader = 10

// wsHeaderLen returns the length of the header of an unmasked frame of n
// payload bytes.
func wsHeaderLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xffff:
		return 4
	}
	return 10
}

// putWSHeader writes into h, of length wsHeaderLen(n), the header of an
// unmasked, final, binary frame of n payload bytes.
func putWSHeader(h []byte, n int) {
	h[0] = 0x80 | 0x2 // FIN, opcode binary
	switch len(h) {
	case 2:
		h[1] = byte(n)
	case 4:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
	}
}

// frameWithHeader returns the message of frame, a payload that b holds at
// b[maxWSHeader:], with its header written into the room before it.
func frameWithHeader(b []byte) []byte {
	n := len(b) - maxWSHeader
	hl := wsHeaderLen(n)
	msg := b[maxWSHeader-hl:]
	putWSHeader(msg[:hl], n)
	return msg
}

// errCloseSent is what a prepared write returns once the library has sent
// its close frame: nothing may follow it.
var errCloseSent = errors.New("ssotws: close frame sent")

// tryResult is how a non-blocking write of a prepared message went.
type tryResult int

const (
	// trySent: the whole message is in the socket's buffer.
	trySent tryResult = iota
	// tryPending: the socket's buffer took part of it, or none; the rest
	// is held (frameWriter.pending) and goes out before any other byte.
	// The connection's write loop must be started to send it.
	tryPending
	// tryRefused: the connection cannot take prepared messages (no
	// socket, a frame of the library's half written); nothing was written.
	tryRefused
	// tryFailed: the socket failed, or the library closed; the write loop
	// finds out from its next write (frameWriter.failed).
	tryFailed
)

// direct reports whether prepared messages can be written to the
// connection at all.
func (w *frameWriter) direct() bool { return w != nil && w.raw != nil }

// tryWrite writes msg, a whole prepared message, without waiting for the
// socket: what the socket's buffer does not take is held in w.pending.
// Only the connection's writer (the goroutine that holds its write slot)
// calls it.
func (w *frameWriter) tryWrite(msg []byte) tryResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.raw == nil || w.held != nil || !w.scan.atBoundary() || w.pending != nil:
		return tryRefused
	case w.failed != nil:
		return tryFailed
	case w.scan.sawClose:
		w.failed = errCloseSent
		return tryFailed
	}
	if w.writeFD == nil {
		w.writeFD = w.writeOnce // a func value made once, not per write
	}
	w.try = tryState{msg: msg}
	err := w.raw.Write(w.writeFD)
	n := w.try.n
	if err == nil {
		err = w.try.err
	}
	w.try = tryState{}
	if err != nil {
		w.failed = err
		return tryFailed
	}
	if n < len(msg) {
		w.pending = msg[n:]
		return tryPending
	}
	return trySent
}

// tryState is the message of a tryWrite and how its write went.
type tryState struct {
	msg []byte
	n   int
	err error
}

// writeOnce is the function tryWrite hands the socket: one write of
// w.try.msg, never waiting for the socket (the write loop does).
func (w *frameWriter) writeOnce(fd uintptr) bool {
	w.try.n, w.try.err = writeNonblocking(fd, w.try.msg)
	return true
}

// writePrepared writes msg, a whole prepared message, waiting for the
// socket as long as it takes (the write loop's timer bounds it). It
// reports false, having written nothing, when the connection takes no
// prepared messages.
func (w *frameWriter) writePrepared(msg []byte) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.raw == nil || w.held != nil || !w.scan.atBoundary() {
		return false, nil
	}
	if err := w.flushPendingLocked(); err != nil {
		return true, err
	}
	if w.scan.sawClose {
		return true, errCloseSent
	}
	_, err := w.conn.Write(msg)
	if err != nil {
		w.failed = err
	}
	return true, err
}

// flushPending sends what a tryWrite left held, waiting for the socket.
func (w *frameWriter) flushPending() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushPendingLocked()
}

// hasPending reports whether a tryWrite left bytes held, or failed.
func (w *frameWriter) hasPending() bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending != nil || w.failed != nil
}

func (w *frameWriter) flushPendingLocked() error {
	if w.failed != nil {
		return w.failed
	}
	if w.pending == nil {
		return nil
	}
	p := w.pending
	w.pending = nil
	if _, err := w.conn.Write(p); err != nil {
		w.failed = err
		return err
	}
	return nil
}

// rawConn returns the socket under c, for prepared writes; nil when there
// is none (TLS, in-memory connections).
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok || !nonblockingWrites {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
