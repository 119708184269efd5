package client

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is the schedule of reconnects and retries: the n-th attempt
// (from 0) waits min(Max, Base·2ⁿ) scaled by a random factor in [0.5, 1].
type Backoff struct {
	// Base is the first delay; zero means 1 s.
	Base time.Duration
	// Max caps the delay; zero means 16 s.
	Max time.Duration
}

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = time.Second
	}
	if b.Max <= 0 {
		b.Max = 16 * time.Second
	}
	if b.Max < b.Base {
		b.Max = b.Base
	}
	return b
}

// Delay returns the wait before attempt n (counting from 0), jitter
// included.
func (b Backoff) Delay(n int) time.Duration {
	return b.delayAt(n, rand.Float64())
}

// delayAt is Delay with the random factor's source r in [0, 1).
func (b Backoff) delayAt(n int, r float64) time.Duration {
	b = b.withDefaults()
	d := b.Base
	for i := 0; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return time.Duration(float64(d) * (0.5 + r/2))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
