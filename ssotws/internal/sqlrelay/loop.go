package sqlrelay

import (
	"context"
	"time"
)

// Loop is the schedule of a store's relay: publish a batch, again at once
// while batches come full, then wait for a wake-up or the next poll.
type Loop struct {
	// Step publishes one batch; more reports a full batch (there may be
	// more).
	Step func(ctx context.Context) (more bool, err error)
	// Failed reports a failed step, which is tried again after a pause
	// that doubles from 10 ms up to 1 s.
	Failed func(error)
	// Idle, if set, runs after a step that left nothing to publish.
	Idle func()
	// Wake wakes the loop before the next poll.
	Wake <-chan struct{}
	// Poll is the interval of the polls.
	Poll time.Duration
}

// Run runs the loop until ctx is done.
func (l Loop) Run(ctx context.Context) {
	tick := time.NewTicker(l.Poll)
	defer tick.Stop()
	backoff := time.Duration(0)
	for {
		more, err := l.Step(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			l.Failed(err)
			backoff = min(max(2*backoff, 10*time.Millisecond), time.Second)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		if more {
			continue
		}
		if l.Idle != nil {
			l.Idle()
		}
		select {
		case <-ctx.Done():
		case <-l.Wake:
		case <-tick.C:
		}
	}
}

// Runner runs a relay's [Loop] on a goroutine of its own and wakes it
// after each commit of its store.
type Runner struct {
	ctx     context.Context
	stop    context.CancelFunc
	done    chan struct{}
	wake    chan struct{}
	wakers  *Wakers
	started bool
}

// NewRunner returns a runner that the commits announced to wakers wake.
func NewRunner(wakers *Wakers) *Runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{ctx: ctx, stop: cancel, done: make(chan struct{}), wake: make(chan struct{}, 1), wakers: wakers}
	wakers.Add(r.wake)
	return r
}

// Context is done when the runner is closed.
func (r *Runner) Context() context.Context { return r.ctx }

// Start runs l (woken by the runner), then stopped, if set, once the
// runner is closed.
func (r *Runner) Start(l Loop, stopped func()) {
	r.started = true
	l.Wake = r.wake
	go func() {
		defer close(r.done)
		l.Run(r.ctx)
		if stopped != nil {
			stopped()
		}
	}()
}

// Poke wakes the loop without blocking.
func (r *Runner) Poke() { Poke(r.wake) }

// Done is closed once the loop has ended.
func (r *Runner) Done() <-chan struct{} { return r.done }

// Close stops the loop and waits for it.
func (r *Runner) Close() {
	r.stop()
	if r.started {
		<-r.done
	}
	r.wakers.Remove(r.wake)
}
