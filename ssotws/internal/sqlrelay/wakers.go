// Package sqlrelay holds what the SQL stores' change-log relays share.
package sqlrelay

import "sync"

// Wakers are the wake channels of a store's relays: a commit of the store
// wakes them, so that they publish at once rather than at their next
// poll. The zero value is ready; it is safe for concurrent use.
type Wakers struct {
	mu sync.Mutex
	ch []chan struct{}
}

// Add registers a relay's wake channel (buffered, of one).
func (w *Wakers) Add(c chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ch = append(w.ch, c)
}

// Remove forgets a channel that Add registered.
func (w *Wakers) Remove(c chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, x := range w.ch {
		if x == c {
			w.ch = append(w.ch[:i], w.ch[i+1:]...)
			return
		}
	}
}

// Wake wakes every registered relay without blocking: a relay already
// woken stays woken once.
func (w *Wakers) Wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.ch {
		Poke(c)
	}
}

// Poke wakes one relay's channel without blocking.
func Poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
