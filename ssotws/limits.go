package ssotws

import "time"

// Limits bound what one connection, or one user, may use. Zero fields mean
// the defaults; where a field says so, a negative value disables the limit.
// Each limit has its answer: an Error frame for a request that is refused
// while the connection lives on, a close code when the connection has to go.
type Limits struct {
	// MaxSubscriptions per connection. Default 50. One more Subscribe is
	// refused with ERROR_CODE_TOO_MANY_SUBSCRIPTIONS.
	MaxSubscriptions int
	// MaxMessageBytes bounds a client frame; a larger one closes the
	// connection with [CloseTooLarge]. Default 64 KiB.
	MaxMessageBytes int64
	// SendQueue bounds the frames queued for a connection (a subscription's
	// replay counts against MaxReplay instead), and SendQueueBytes their
	// size: an event counts its whole encoding, although the fan-out
	// shares it with every connection it goes to. When either is exceeded
	// even after coalescing, the connection is closed with [CloseTooSlow]
	// and its client resumes from the history. Defaults 8192 frames and
	// 1 MiB: a subscriber may fall about 6,000 small events behind during
	// a burst (several seconds at hundreds of events per second), while a
	// client that stops reading holds at most 1 MiB of events (and 8192
	// queue entries of about 50 bytes) however large the records are. A
	// negative SendQueueBytes means no byte bound.
	SendQueue      int
	SendQueueBytes int
	// MaxReplay bounds the replayed events queued for a connection, all
	// its subscriptions together. A Subscribe whose replay does not fit in
	// what is left is answered with a Reset instead (the client refetches
	// and resumes from there), so a client that resumes many channels and
	// does not read cannot make the server hold their whole history. The
	// events are shared with the other subscriptions that replay them; a
	// queued one costs about 50 bytes. Default 1000 (the MemoryBroker's
	// DefaultHistorySize).
	MaxReplay int
	// MaxBatchBytes bounds the events packed into one Events frame; a single
	// larger event is sent alone. Clients must accept messages of this
	// size. A connection's write loop copies a frame's events into one
	// buffer to send it, and holds it while a client is slow to read: this
	// is the memory a connection that does not read costs beyond its
	// queue. Default 64 KiB.
	MaxBatchBytes int
	// MaxConnsPerUser bounds the open connections of one subject (counted
	// once a connection is authenticated; anonymous connections are not
	// counted). The connection that would exceed it is closed with
	// [CloseTooSlow]; the ones already open are kept. Default 5; negative
	// means no limit. On a [ControlBroker] the connections of every node
	// count: a soft limit, see [ClusterOptions] and docs/security.md.
	MaxConnsPerUser int
	// FrameRate is the sustained rate of client WebSocket frames per
	// second a connection may send, and FrameBurst how many it may send at
	// once (a token bucket per connection). Every frame counts: each
	// fragment of a message, and the control frames (ping, pong, close)
	// that the WebSocket library answers by itself. A client over the
	// limit is closed with [CloseTooSlow], and nothing more it sent is
	// read. Defaults 50 frames/s and a burst of 100; a negative FrameRate
	// means no limit.
	FrameRate  float64
	FrameBurst int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSubscriptions <= 0 {
		l.MaxSubscriptions = 50
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = 64 << 10
	}
	if l.SendQueue <= 0 {
		l.SendQueue = 8192
	}
	if l.SendQueueBytes == 0 {
		l.SendQueueBytes = 1 << 20
	}
	if l.MaxReplay <= 0 {
		l.MaxReplay = 1000
	}
	if l.MaxBatchBytes <= 0 {
		l.MaxBatchBytes = 64 << 10
	}
	if l.MaxConnsPerUser == 0 {
		l.MaxConnsPerUser = 5
	}
	if l.FrameRate == 0 {
		l.FrameRate = 50
	}
	if l.FrameBurst <= 0 {
		l.FrameBurst = 100
	}
	return l
}

// tokenBucket limits the rate of a connection's frames. It is used by the
// read loop only.
type tokenBucket struct {
	rate   float64 // tokens per second; <= 0: unlimited
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int) tokenBucket {
	return tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

// allowN takes n tokens, reporting false when there are fewer.
func (b *tokenBucket) allowN(now time.Time, n int) bool {
	if b.rate <= 0 {
		return true
	}
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < float64(n) {
		b.tokens = 0
		return false
	}
	b.tokens -= float64(n)
	return true
}
