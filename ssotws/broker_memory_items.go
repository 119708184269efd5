package ssotws

import "github.com/ssot-codegen/ssot-ws/ssotws/wsv1"

// A [MemoryBroker] keeps an item channel per record written, with its
// history. So that its memory does not grow with every record ever
// written, it forgets item channels past two bounds: Tombstones for
// deleted records, ItemChannels for the others, the least recently
// written first. A forgotten channel is at the broker's floor, the highest
// offset a forgotten channel reached: a client that resumes it from an
// older offset is told to refetch; one that held its last offset is up to
// date; and its next event continues above every offset it had.

// memMark is an item channel at the offset of one of its events.
type memMark struct {
	channel string
	offset  uint64
}

// memFIFO is a queue of marks, oldest first.
type memFIFO struct {
	q    []memMark
	head int
}

func (f *memFIFO) len() int         { return len(f.q) - f.head }
func (f *memFIFO) push(m memMark)   { f.q = append(f.q, m) }
func (f *memFIFO) live() []memMark  { return f.q[f.head:] }
func (f *memFIFO) reset(n int)      { clear(f.q[n:]); f.q, f.head = f.q[:n], 0 }
func (f *memFIFO) pop() (m memMark) { m, f.q[f.head] = f.q[f.head], memMark{}; f.head++; return m }

// trim drops the consumed head once it is most of the queue.
func (f *memFIFO) trim() {
	if f.head > 64 && f.head > len(f.q)/2 {
		f.reset(copy(f.q, f.q[f.head:]))
	}
}

// memWrites orders the item channels of records not deleted by their last
// write. A channel written again gets a new mark; its older marks are
// stale (their offset is no longer the one in last) and are skipped.
type memWrites struct {
	marks memFIFO
	last  map[string]uint64 // channel → offset of its mark that counts
}

func (w *memWrites) current(m memMark) bool {
	off, ok := w.last[m.channel]
	return ok && off == m.offset
}

// written records a write of ch, an item channel, and forgets the least
// recently written item channels beyond the bound. b.mu must be held.
func (b *MemoryBroker) written(channel string, ch *memChannel) {
	w := &b.writes
	if w.last == nil {
		w.last = make(map[string]uint64)
	}
	w.last[channel] = ch.offset
	w.marks.push(memMark{channel: channel, offset: ch.offset})
	for len(w.last) > b.maxItems && w.marks.len() > 0 {
		if m := w.marks.pop(); w.current(m) {
			delete(w.last, m.channel)
			b.forget(m.channel, m.offset)
		}
	}
	w.marks.trim()
	// Drop the stale marks once they outnumber the current ones, so that
	// the queue stays within a constant factor of the channels it tracks
	// however often they are written.
	if w.marks.len() > 2*len(w.last)+64 {
		n := 0
		for _, m := range w.marks.live() {
			if w.current(m) {
				w.marks.q[n] = m
				n++
			}
		}
		w.marks.reset(n)
	}
}

// tombstone makes ch, the item channel of a record just deleted by ev, a
// tombstone: it keeps only ev (a client resuming from just before the
// delete still hears it; from earlier, it is told to refetch), and the
// oldest tombstones beyond the bound are forgotten. b.mu must be held.
func (b *MemoryBroker) tombstone(ev *wsv1.Event, ch *memChannel) {
	if len(ch.ring) > 1 {
		ch.ring, ch.head = []*wsv1.Event{ev}, 0
	}
	delete(b.writes.last, ev.Channel) // bounded as a tombstone now
	b.tombs.push(memMark{channel: ev.Channel, offset: ch.offset})
	for b.tombs.len() > b.maxTombs {
		m := b.tombs.pop()
		b.forget(m.channel, m.offset)
	}
	b.tombs.trim()
}

// forget drops channel, unless it was written since offset: the channel's
// position becomes the floor, which is at least offset. b.mu must be held.
func (b *MemoryBroker) forget(channel string, offset uint64) {
	ch := b.channels[channel]
	if ch == nil || ch.offset != offset {
		return
	}
	delete(b.channels, channel)
	b.floor = max(b.floor, offset)
}
