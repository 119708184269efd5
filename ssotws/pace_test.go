package ssotws

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// clockWindows drives k with a fake process CPU clock: each call of the
// function it returns runs one busyWindow in which the process used share
// of the processors and the write loops took perTake items per take.
func clockWindows(k *fanoutClock) func(share float64, perTake int) {
	var cpu time.Duration
	k.cpu = func() (time.Duration, bool) { return cpu, true }
	procs := time.Duration(runtime.GOMAXPROCS(0))
	now := time.Second
	k.sample(now) // opens the first window
	return func(share float64, perTake int) {
		for range 10 {
			k.took(perTake)
		}
		now += busyWindow
		cpu += time.Duration(share * float64(busyWindow*procs))
		k.sample(now)
	}
}

// TestFanoutClockLeavesSaturationToWriteLoops: fan-outs leave their writes
// to the write loops in a window after one where the process kept its
// processors busy, and keep doing so only while the loops pack several
// events per take; when they do not, the hub writes inline for
// retryWindows before it tries them again.
func TestFanoutClockLeavesSaturationToWriteLoops(t *testing.T) {
	k := &fanoutClock{}
	window := clockWindows(k)
	loops := func(share float64, perTake int) bool {
		window(share, perTake)
		return k.loops.Load()
	}
	assert.False(t, loops(0.5, 1), "half busy")
	assert.True(t, loops(0.95, 1), "busy: the write loops are tried")
	assert.True(t, loops(0.95, 4), "busy, and the loops pack: paced")
	assert.False(t, loops(0.2, 4), "no longer busy")
	assert.True(t, loops(0.95, 1))
	assert.False(t, loops(0.95, 1), "busy, but the loops did not pack")
	for i := range retryWindows - 1 {
		assert.False(t, loops(0.95, 1), "window %d of the back-off", i)
	}
	assert.True(t, loops(0.95, 1), "after the back-off the loops are tried again")
	// A window shorter than busyWindow decides nothing.
	k.sample(time.Duration(k.windowAt) + busyWindow/2)
	assert.True(t, k.loops.Load())
}

// TestFanoutClockPacesSaturation: while the write loops pack and the
// processors are saturated, their pace doubles every window up to
// maxPace; busier than paceHigh but not saturated, it doubles after two
// such windows in a row (or one right after a probe); it holds while the
// processors are between paceLow and paceHigh busy, tries half paceProbe
// windows after its last change, and halves below paceLow, down to no
// pace and inline writes. Loops that stop packing lose it at once.
func TestFanoutClockPacesSaturation(t *testing.T) {
	k := &fanoutClock{}
	window := clockWindows(k)
	pace := func(share float64, perTake int) time.Duration {
		window(share, perTake)
		return k.paced()
	}
	require.Zero(t, pace(0.95, 3), "busy: write loops first, no pace yet")
	require.True(t, k.loops.Load())
	require.Equal(t, paceMin, pace(0.95, 3), "busy and packing: paced")
	for want := paceMin; want < maxPace; want *= 2 {
		require.Equal(t, 2*want, pace(0.95, 3), "saturated: the pace doubles")
	}
	since := 0 // windows since the pace last changed
	require.Equal(t, maxPace, pace(0.95, 3), "bounded")
	since++
	require.Equal(t, maxPace, pace(0.7, 10), "busier than paceHigh: no less")
	since++
	for pace(0.5, 10) == maxPace {
		since++
		require.LessOrEqual(t, since, paceProbe, "held")
	}
	assert.Equal(t, paceProbe, since, "held paceProbe windows after its last change, then half is tried")
	assert.Equal(t, maxPace/2, k.paced())
	assert.Equal(t, maxPace, pace(0.7, 10), "too busy with half, right after the probe: back")

	assert.Equal(t, maxPace/2, pace(0.3, 10), "less busy than paceLow: halves")
	assert.Equal(t, maxPace/2, pace(0.7, 10), "one window busier than paceHigh: no trend yet")
	assert.Equal(t, maxPace/2, pace(0.5, 10))
	assert.Equal(t, maxPace/2, pace(0.7, 10))
	assert.Equal(t, maxPace, pace(0.7, 10), "two in a row: doubles")

	for want := maxPace / 2; want >= paceMin; want /= 2 {
		require.Equal(t, want, pace(0.2, 10), "less busy than paceLow: halves")
		require.True(t, k.loops.Load())
	}
	assert.Zero(t, pace(0.2, 10), "below paceMin: no pace")
	assert.False(t, k.loops.Load(), "and inline writes again")

	pace(0.95, 3)
	require.Equal(t, paceMin, pace(0.95, 3))
	assert.Zero(t, pace(0.5, 1), "paced, but the loops no longer pack")
	assert.False(t, k.loops.Load())
	window(0.95, 3)
	assert.True(t, k.loops.Load(), "left when not busy: no back-off")
}

// holdPace pins w's hub at saturation with the write loops paced at pace:
// the clock keeps what it was given (its CPU clock answers nothing).
func holdPace(w *wsGateway, pace time.Duration) {
	k := &w.g.hub.clock
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cpu = func() (time.Duration, bool) { return 0, false }
	k.loops.Store(true)
	k.pace.Store(int64(pace))
}

// TestPacedWriteLoopsPack: events published one at a time, far apart for
// the write path (a tick each), reach every client packed several to a
// message while the server paces its write loops: all of them, in order.
func TestPacedWriteLoopsPack(t *testing.T) {
	w := startWSGateway(t, nil)
	const subs, n = 20, 60
	conns := make([]*websocket.Conn, subs)
	for i := range conns {
		conns[i] = w.subscribe(t)
	}
	holdPace(w, 50*time.Millisecond)
	fail := func(*wsv1.Event, error) { t.Error("encoding failed") }
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for off := uint64(1); off <= n; off++ {
			<-tick.C
			w.g.hub.publish([]*wsv1.Event{benchEvent(w.m.Name(), off)}, fail)
		}
	}()
	var wg sync.WaitGroup
	for _, ws := range conns {
		wg.Go(func() {
			offsets, messages, err := collectEvents(ws, n)
			assert.NoError(t, err)
			inOrder(t, offsets, 1)
			assert.LessOrEqual(t, messages, n/4, "paced: several events per message")
		})
	}
	wg.Wait()
}

// TestPacedWaitEndsWhenTheQueueFills: a paced write loop stops waiting as
// soon as its queue holds a quarter of its bounds, so that pacing never
// leaves a connection to overflow: here the pace is an hour, and each
// round of events that fills a quarter of the queue, by count or by
// bytes, arrives, in order.
func TestPacedWaitEndsWhenTheQueueFills(t *testing.T) {
	const round, first = 64, 200
	// Events of one size (offsets of two varint bytes, keys of five
	// characters), so that a round fills a quarter of the bytes exactly
	// with its last event.
	event := func(channel string, off uint64) *wsv1.Event {
		ev := benchEvent(channel, off)
		ev.Key = fmt.Sprintf("k%04d", off)
		return ev
	}
	channel := startWSGateway(t, nil).m.Name() // every test gateway's
	_, _, chunk, err := encodeFramed(event(channel, first))
	require.NoError(t, err)
	for _, c := range []struct {
		name   string
		limits Limits
	}{
		{"items", Limits{SendQueue: 4 * round}},
		{"bytes", Limits{SendQueueBytes: 4 * round * len(chunk)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := startWSGateway(t, &GatewayOptions{Limits: c.limits})
			ws := w.subscribe(t)
			holdPace(w, time.Hour)
			fail := func(*wsv1.Event, error) { t.Error("encoding failed") }
			for r := range uint64(4) {
				from := first + r*round
				for off := from; off < from+round; off++ {
					w.g.hub.publish([]*wsv1.Event{event(channel, off)}, fail)
				}
				offsets, _, err := collectEvents(ws, round)
				require.NoError(t, err)
				requireInOrder(t, offsets, from)
			}
		})
	}
}

// TestPaceMetric: the gateway reports its write loops' pace as the gauge
// ssotws.gateway.write.pace, in seconds, and stops once it is closed.
func TestPaceMetric(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	w := startWSGateway(t, &GatewayOptions{MeterProvider: mp})
	// pace returns the gauge's data points.
	pace := func() []metricdata.DataPoint[float64] {
		var rm metricdata.ResourceMetrics
		require.NoError(t, reader.Collect(context.Background(), &rm))
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name == "ssotws.gateway.write.pace" {
					assert.Equal(t, "s", m.Unit)
					return m.Data.(metricdata.Gauge[float64]).DataPoints
				}
			}
		}
		return nil
	}
	points := pace()
	require.Len(t, points, 1)
	assert.Zero(t, points[0].Value, "not saturated")
	holdPace(w, 16*time.Millisecond)
	points = pace()
	require.Len(t, points, 1)
	assert.InDelta(t, 0.016, points[0].Value, 1e-9)
	require.NoError(t, w.g.Close())
	assert.Empty(t, pace(), "a closed gateway is not observed")
}
