package client

import (
	"sync"
)

// dispatcher runs callbacks one at a time, in the order they were posted,
// on its own goroutine, so that a callback may call back into the client.
type dispatcher struct {
	mu      sync.Mutex
	queue   []func()
	signal  chan struct{}
	stopped bool
	done    chan struct{}
}

func newDispatcher() *dispatcher {
	d := &dispatcher{signal: make(chan struct{}, 1), done: make(chan struct{})}
	go d.run()
	return d
}

func (d *dispatcher) post(fns ...func()) {
	if len(fns) == 0 {
		return
	}
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	d.queue = append(d.queue, fns...)
	d.mu.Unlock()
	select {
	case d.signal <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		q := d.queue
		d.queue = nil
		stopped := d.stopped
		d.mu.Unlock()
		for _, fn := range q {
			fn()
		}
		if stopped {
			return
		}
		if len(q) == 0 {
			<-d.signal
		}
	}
}

// stop drops what is still queued and waits for the running callback.
func (d *dispatcher) stop() {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	d.stopped = true
	d.queue = nil
	d.mu.Unlock()
	select {
	case d.signal <- struct{}{}:
	default:
	}
	<-d.done
}
