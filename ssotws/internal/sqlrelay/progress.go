package sqlrelay

import "sync"

// Progress is how far a relay got (published changes, completed rounds:
// the relay's count), for callers that wait for it, and why it stopped if
// it did. The zero value is at 0; it is safe for concurrent use.
type Progress struct {
	mu      sync.Mutex
	n       int64
	changed chan struct{} // closed and replaced when n grows or err is set
	err     error
}

// Get returns the count, a channel closed at the next change, and why the
// relay stopped (nil while it runs).
func (p *Progress) Get() (int64, <-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n, p.changedLocked(), p.err
}

// Advance raises the count to n, if that is higher, and wakes the waiters.
func (p *Progress) Advance(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n > p.n {
		p.n = n
		p.wakeLocked()
	}
}

// Fail records why the relay stopped and wakes the waiters.
func (p *Progress) Fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
	p.wakeLocked()
}

func (p *Progress) changedLocked() chan struct{} {
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

func (p *Progress) wakeLocked() {
	close(p.changedLocked())
	p.changed = make(chan struct{})
}
