package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// Publishers in a process of their own (-publisher-process).
//
// By default the load generator's publishers share its Go runtime with the
// N subscribers' read loops. When the fan-out keeps those read loops busy
// (at saturation the load generator's core is as busy as the server's),
// an acknowledgement that has arrived waits in the load generator's run
// queue behind the read loops before the publisher sees it, and the
// acknowledgement time then measures the load generator. Run apart, the
// publishers' process sleeps between calls and the kernel wakes it as soon
// as an answer arrives, on the same CPU the load generator was given: the
// acknowledgement time is the server's (and the loopback's).

// processPublisher returns a publisher that runs each phase in a child
// process, the same binary re-executed with -publisher-child, and reads
// its publishStats as JSON from the child's standard output.
func processPublisher(cfg config, base string) publisher {
	return func(ctx context.Context, rate float64, dur time.Duration) (publishStats, error) {
		exe, err := os.Executable()
		if err != nil {
			return publishStats{}, err
		}
		cmd := exec.CommandContext(ctx, exe, "-publisher-child", "-base", base,
			"-target", cfg.Target, "-workers", strconv.Itoa(cfg.Workers), "-channels", strconv.Itoa(cfg.Channels), "-room", cfg.Room,
			"-size", strconv.Itoa(cfg.Size), "-rate", strconv.FormatFloat(rate, 'g', -1, 64), "-dur", dur.String())
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return publishStats{}, fmt.Errorf("publisher child: %w", err)
		}
		var st publishStats
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			return publishStats{}, fmt.Errorf("publisher child: %w", err)
		}
		return st, nil
	}
}

// runPublisherChild publishes one phase against base as cfg says and
// writes its publishStats as JSON to standard output.
func runPublisherChild(cfg config, base string) error {
	st, err := newPublisher(cfg, base)(context.Background(), cfg.Rate, cfg.Dur)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(st)
}
