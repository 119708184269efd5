package ssotws_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	chatv1 "github.com/ssot-codegen/ssot-ws/examples/chat/gen/chat/v1"
	"github.com/ssot-codegen/ssot-ws/ssotws"
	"github.com/ssot-codegen/ssot-ws/ssotws/wsv1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// metrics reads everything reader holds, by instrument name.
func metrics(t *testing.T, reader *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := make(map[string]metricdata.Metrics)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// sum is the value of an int64 sum's data point with exactly attrs (0 when
// there is none).
func sum(m metricdata.Metrics, attrs ...attribute.KeyValue) int64 {
	data, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		return 0
	}
	want := attribute.NewSet(attrs...)
	for _, dp := range data.DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Value
		}
	}
	return 0
}

// count is the number of measurements of a histogram.
func count[N int64 | float64](m metricdata.Metrics) uint64 {
	data, ok := m.Data.(metricdata.Histogram[N])
	if !ok {
		return 0
	}
	var n uint64
	for _, dp := range data.DataPoints {
		n += dp.Count
	}
	return n
}

// TestMetrics: over a real WebSocket, the gateway's instruments count
// connections, subscriptions, deliveries, drops, refusals, and measure
// queue depth and commit-to-write latency.
func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	e := newEnv(t, envConfig{gateway: &ssotws.GatewayOptions{
		MeterProvider: mp,
		Logger:        slog.New(slog.DiscardHandler),
		Filter: func(ctx context.Context, id *ssotws.Identity, m *ssotws.Model, ev *wsv1.Event) bool {
			return ev.GetKey() != "hidden"
		},
	}})
	room := ssotws.ScopeChannel("Message", "room_id", "r1")
	c := e.dial(nil)
	c.ack(room, nil)
	c.subscribe("Nothing", nil)
	require.NotNil(t, c.next().GetError())

	for _, text := range []string{"a", "b", "c"} {
		e.create("r1", text)
	}
	c.events(3)
	// An event the Filter drops, through the broker, then one that passes.
	require.NoError(t, e.broker.Publish(context.Background(), []*wsv1.Event{
		{Channel: room, Type: wsv1.EventType_EVENT_TYPE_CREATED, Key: "hidden", Version: 1},
	}))
	e.create("r1", "d")
	c.events(1)

	// The write loop counts a frame once it is written: maybe after the
	// client read it.
	var m map[string]metricdata.Metrics
	require.Eventually(t, func() bool {
		m = metrics(t, reader)
		return sum(m["ssotws.gateway.deliveries"]) >= 4 && count[float64](m["ssotws.gateway.delivery.latency"]) >= 4
	}, wait, time.Millisecond)
	assert.Equal(t, int64(1), sum(m["ssotws.gateway.connections"]))
	assert.Equal(t, int64(1), sum(m["ssotws.gateway.subscriptions"]))
	assert.Equal(t, int64(4), sum(m["ssotws.gateway.deliveries"]))
	assert.Equal(t, int64(1), sum(m["ssotws.gateway.drops"], attribute.String("reason", "filtered")))
	assert.Equal(t, int64(1), sum(m["ssotws.gateway.subscription.refusals"], attribute.String("reason", "unknown_channel")))
	assert.Equal(t, uint64(4), count[float64](m["ssotws.gateway.delivery.latency"]), "one per live event written")
	lat := m["ssotws.gateway.delivery.latency"].Data.(metricdata.Histogram[float64]).DataPoints[0]
	assert.Equal(t, "s", m["ssotws.gateway.delivery.latency"].Unit)
	assert.GreaterOrEqual(t, lat.Sum, 0.0)
	assert.Less(t, lat.Sum, 60.0, "seconds, not milliseconds")
	assert.GreaterOrEqual(t, count[int64](m["ssotws.gateway.queue.depth"]), uint64(1))

	// A refused connection, then the client leaves.
	c2 := e.dial(nil)
	c2.sendRaw(1, []byte("text")) // a text frame
	c2.closed()
	require.NoError(t, c.ws.Close(1000, ""))
	require.Eventually(t, func() bool {
		m := metrics(t, reader)
		return sum(m["ssotws.gateway.connections"]) == 0 && sum(m["ssotws.gateway.subscriptions"]) == 0
	}, wait, time.Millisecond)
	m = metrics(t, reader)
	assert.Equal(t, int64(1), sum(m["ssotws.gateway.refusals"], attribute.String("reason", "bad_frame"), attribute.Int("code", 1008)))
}

// TestTraceLinksMutationToFanout: a create made in a request's span,
// through a TracingPublisher, gives a publish span (child of the request)
// and a fan-out span in the gateway (child of the publish), in one trace.
func TestTraceLinksMutationToFanout(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	e := newEnv(t, envConfig{gateway: &ssotws.GatewayOptions{TracerProvider: tp}})
	model, err := ssotws.NewModel((&chatv1.Message{}).ProtoReflect().Descriptor(),
		ssotws.ModelConfig{Scopes: []string{"room_id"}, Realtime: true})
	require.NoError(t, err)
	pub := ssotws.TracingPublisher(e.broker, tp)
	_, isPR := pub.(ssotws.PositionReader)
	assert.True(t, isPR, "a traced Broker still reports positions")
	messages := ssotws.NewResource[*chatv1.Message](model, ssotws.NewMemoryStore(), pub)

	room := ssotws.ScopeChannel("Message", "room_id", "r1")
	c := e.dial(nil)
	c.ack(room, nil)

	ctx, request := tp.Tracer("test").Start(context.Background(), "CreateMessage")
	in := http.Header{}
	in.Set(ssotws.HeaderIdempotencyKey, "req-1")
	_, err = messages.Create(ctx, in, http.Header{}, &chatv1.Message{RoomId: "r1", Text: "hi"}, "")
	require.NoError(t, err)
	request.End()
	ev := c.events(1)[0]
	assert.Equal(t, "req-1", ev.GetRequestId())

	var publish, fanout []sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		publish, fanout = nil, nil
		for _, s := range sr.Ended() {
			switch s.Name() {
			case "ssotws.publish":
				publish = append(publish, s)
			case "ssotws.fanout":
				fanout = append(fanout, s)
			}
		}
		// Create publishes on the model channel, the record's and the room's.
		return len(publish) == 1 && len(fanout) == 3
	}, wait, time.Millisecond)

	reqSC := request.SpanContext()
	assert.Equal(t, reqSC.TraceID(), publish[0].SpanContext().TraceID())
	assert.Equal(t, reqSC.SpanID(), publish[0].Parent().SpanID())
	assert.Equal(t, trace.SpanKindProducer, publish[0].SpanKind())
	assert.Contains(t, publish[0].Attributes(), attribute.String("ssotws.request_id", "req-1"))
	subscribers := map[string]int64{}
	for _, f := range fanout {
		assert.Equal(t, reqSC.TraceID(), f.SpanContext().TraceID())
		assert.Equal(t, publish[0].SpanContext().SpanID(), f.Parent().SpanID())
		assert.Equal(t, trace.SpanKindConsumer, f.SpanKind())
		assert.Contains(t, f.Attributes(), attribute.String("ssotws.request_id", "req-1"))
		var ch string
		var n int64
		for _, kv := range f.Attributes() {
			switch kv.Key {
			case "ssotws.channel":
				ch = kv.Value.AsString()
			case "ssotws.subscribers":
				n = kv.Value.AsInt64()
			}
		}
		subscribers[ch] = n
	}
	assert.Equal(t, map[string]int64{"Message": 0, ssotws.ItemChannel("Message", ev.GetKey()): 0, room: 1}, subscribers)

	// Without a TracingPublisher nothing is traced.
	before := len(sr.Ended())
	_, err = e.chat.CreateMessage(context.Background(), connect.NewRequest(&chatv1.CreateMessageRequest{Message: &chatv1.Message{RoomId: "r1", Text: "untraced"}}))
	require.NoError(t, err)
	c.events(1)
	assert.Len(t, sr.Ended(), before)
}
