package client

import (
	"context"
	"sync"
)

// localWrites tracks, per record, the mutations this process has in flight
// through the [Hybrid] clients of one [Conn], so that a cache's verify
// check (see channelCache.verify) never fights the client's own writes: a
// verify Get that overlaps one of them cannot tell its answer from the
// mutation's own effect, and the mutation's response (or its event) is
// authoritative for the record.
type localWrites struct {
	mu   sync.Mutex
	keys map[string]*keyWrites // by localID
}

type keyWrites struct {
	inflight int
	idle     chan struct{} // closed when inflight drops to 0
	watches  map[*writeWatch]struct{}
}

// writeWatch is one verify's view of a record's local mutations.
type writeWatch struct {
	// overlapped: a local mutation of the record was in flight at some
	// point since the watch was (re)armed.
	overlapped bool
	// applied: one of those mutations succeeded, so its outcome reached
	// (or will reach, by its event) the caches with its version.
	applied bool
}

// localID is the key of a record of a model in localWrites.
func localID(model, key string) string { return model + "\x00" + key }

func (l *localWrites) entryLocked(id string) *keyWrites {
	if l.keys == nil {
		l.keys = make(map[string]*keyWrites)
	}
	kw := l.keys[id]
	if kw == nil {
		kw = &keyWrites{watches: make(map[*writeWatch]struct{})}
		l.keys[id] = kw
	}
	return kw
}

func (l *localWrites) dropLocked(id string, kw *keyWrites) {
	if kw.inflight == 0 && len(kw.watches) == 0 {
		delete(l.keys, id)
	}
}

// begin records a mutation of id about to be sent. The returned func ends
// it, once its outcome was applied to the caches: applied reports whether
// it succeeded; final is the record's id as the response named it (a
// create whose key the server chose), "" or id when the same.
func (l *localWrites) begin(id string) func(final string, applied bool) {
	l.mu.Lock()
	kw := l.entryLocked(id)
	if kw.inflight == 0 {
		kw.idle = make(chan struct{})
	}
	kw.inflight++
	for w := range kw.watches {
		w.overlapped = true
	}
	l.mu.Unlock()
	var once sync.Once
	return func(final string, applied bool) {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if applied {
				for w := range kw.watches {
					w.applied = true
				}
				if final != "" && final != id {
					if fk := l.keys[final]; fk != nil {
						for w := range fk.watches {
							w.overlapped, w.applied = true, true
						}
					}
				}
			}
			kw.inflight--
			if kw.inflight == 0 {
				close(kw.idle)
				kw.idle = nil
			}
			l.dropLocked(id, kw)
		})
	}
}

// watch starts watching id's local mutations; unwatch ends it.
func (l *localWrites) watch(id string) *writeWatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := &writeWatch{}
	l.entryLocked(id).watches[w] = struct{}{}
	return w
}

func (l *localWrites) unwatch(id string, w *writeWatch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if kw := l.keys[id]; kw != nil {
		delete(kw.watches, w)
		l.dropLocked(id, kw)
	}
}

// arm resets w before a verify Get: overlapped if a mutation is in flight.
func (l *localWrites) arm(id string, w *writeWatch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	kw := l.keys[id]
	w.overlapped = kw != nil && kw.inflight > 0
	w.applied = false
}

// overlapped reports whether a local mutation of id overlapped the Get
// since arm.
func (l *localWrites) overlapped(w *writeWatch) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return w.overlapped
}

// settle waits until no local mutation of id is in flight and reports
// whether one of those that overlapped the watch succeeded.
func (l *localWrites) settle(ctx context.Context, id string, w *writeWatch) (bool, error) {
	for {
		l.mu.Lock()
		var idle chan struct{}
		if kw := l.keys[id]; kw != nil && kw.inflight > 0 {
			idle = kw.idle
		}
		applied := w.applied
		l.mu.Unlock()
		if idle == nil {
			return applied, nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}
