package ssotws

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func newTestTelemetry(t *testing.T) (*telemetry, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return newTelemetry(mp, newDiscardLogger()), reader
}

// sumOf is the value of the int64 sum name's data point with attrs.
func sumOf(t *testing.T, reader *sdkmetric.ManualReader, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	want := attribute.NewSet(attrs...)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if dp.Attributes.Equals(&want) {
					return dp.Value
				}
			}
		}
	}
	return 0
}

// TestQueueCountsCoalescedAndOverflow: a full queue counts the updates it
// coalesced, and on overflow the events it dropped.
func TestQueueCountsCoalescedAndOverflow(t *testing.T) {
	tel, reader := newTestTelemetry(t)
	q := newSendQueue(2)
	q.tel = tel
	s := &subscription{}
	for v := range int64(4) {
		require.True(t, q.push(item(s, "a", updated, v+1), false))
	}
	// The third push went past the bound: versions 1 and 2 gave way to 3.
	assert.Equal(t, int64(2), sumOf(t, reader, "ssotws.gateway.coalesced"))
	assert.Equal(t, 2, q.len())
	require.True(t, q.push(item(s, "b", created, 1), false))
	assert.Equal(t, int64(3), sumOf(t, reader, "ssotws.gateway.coalesced"))
	require.False(t, q.push(item(s, "c", created, 1), false), "nothing to coalesce: overflow")
	assert.Equal(t, int64(3), sumOf(t, reader, "ssotws.gateway.drops", attribute.String("reason", "overflow")))
}

// TestTelemetryAllocatesNothing: what the fan-out and the write loop
// measure per delivery, per write and per queue allocates nothing, with
// the SDK's meter provider behind it.
func TestTelemetryAllocatesNothing(t *testing.T) {
	tel, _ := newTestTelemetry(t)
	stamps := []int64{time.Now().UnixMilli() - 5, time.Now().UnixMilli()}
	now := time.Now()
	// The first measurements make the series.
	measure := func() {
		tel.delivered(3)
		tel.dropped(dropFiltered, 1)
		tel.dropped(dropUnsubscribed, 1)
		tel.dropped(dropOverflow, 1)
		tel.coalescedN(2)
		tel.depth(4)
		tel.written(now, stamps)
		tel.subsChanged(1)
		tel.connOpened(1)
	}
	measure()
	assert.Zero(t, testing.AllocsPerRun(100, measure))
	var none *telemetry
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		none.delivered(1)
		none.written(now, stamps)
	}))
}
