package ssotws

import (
	"context"
	"sync"
)

var _ ControlBroker = (*MemoryBroker)(nil)

// memControl carries a MemoryBroker's control messages: to every
// listener, synchronously, one message at a time.
type memControl struct {
	mu        sync.Mutex
	listeners []*memControlListener
}

type memControlListener struct{ fn func([]byte) }

// PublishControl implements [ControlBroker]: every gateway on this broker
// (in this process) hears msg before it returns.
func (b *MemoryBroker) PublishControl(ctx context.Context, msg []byte) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return ErrBrokerClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.control.mu.Lock()
	defer b.control.mu.Unlock()
	for _, l := range b.control.listeners {
		l.fn(msg)
	}
	return nil
}

// ListenControl implements [ControlBroker].
func (b *MemoryBroker) ListenControl(fn func(msg []byte)) (stop func()) {
	l := &memControlListener{fn: fn}
	c := &b.control
	c.mu.Lock()
	c.listeners = append(c.listeners, l)
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			for i, x := range c.listeners {
				if x == l {
					c.listeners = append(c.listeners[:i:i], c.listeners[i+1:]...)
					break
				}
			}
		})
	}
}
